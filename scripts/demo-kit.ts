/** Small helpers for the demo: run a CLI command and show it, start a long-running one. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'

/** The launcher, as a person runs the command in this checkout (it turns the compile cache on, then loads the TypeScript). */
export const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'orbit-account')
const tty = process.stdout.isTTY
export const bold = (s: string): string => tty ? `\x1b[1m${s}\x1b[0m` : s
export const dim = (s: string): string => tty ? `\x1b[2m${s}\x1b[0m` : s

const shown = (args: string[]): string => 'orbit-account ' + args.map((a) => /[\s{}"']/.test(a) ? `'${a}'` : a).join(' ')

export interface RunOptions { input?: string, expectError?: boolean, quiet?: boolean }

/** Runs one CLI command to completion, prints it and its answer, returns its stdout. */
export const run = (who: string, dir: string, title: string, args: string[], options: RunOptions = {}): string => {
  const quiet = options.quiet === true
  if (title !== '') console.log(`\n${bold(title)}`)
  if (!quiet) console.log(dim(`[${who}] $ ${shown(args)}`))
  const started = Date.now()
  const r = spawnSync(process.execPath, [cli, ...args, '--dir', dir], { encoding: 'utf8', input: options.input })
  if (!quiet) {
    // Progress notes (stderr) come before the result they lead to.
    if (r.stderr !== '') process.stdout.write(dim(r.stderr))
    process.stdout.write(r.stdout)
    console.log(dim(`(${Date.now() - started} ms, exit ${String(r.status)})`))
  }
  if ((r.status !== 0) !== (options.expectError === true)) throw new Error(`step failed: ${shown(args)}`)
  return r.stdout
}

export interface Running { proc: ChildProcess, lines: string[], next: (what: string, ms?: number) => Promise<string> }

/** Starts a long-running CLI command; `next` waits for its next stdout line. */
export const start = (who: string, dir: string, args: string[], show = true): Running => {
  if (show) console.log(dim(`[${who}] $ ${shown(args)}`))
  const proc = spawn(process.execPath, [cli, ...args, '--dir', dir], { stdio: ['pipe', 'pipe', 'pipe'] })
  const lines: string[] = []
  const waiters: Array<{ line: (line: string) => void, ended: () => void }> = []
  let ended = false
  createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    const w = waiters.shift()
    if (w !== undefined) w.line(line)
    else lines.push(line)
  }).on('close', () => {
    // The process closed its stdout (it exited): no line will come, fail at once.
    ended = true
    for (const w of waiters.splice(0)) w.ended()
  })
  createInterface({ input: proc.stderr as NodeJS.ReadableStream }).on('line', (line) => { if (show) console.log(dim(`[${who}] ${line}`)) })
  const next = async (what: string, ms = 30_000): Promise<string> => {
    const line = lines.shift()
    if (line !== undefined) return line
    if (ended) throw new Error(`${who}: no ${what}: the command ended`)
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${who}: no ${what} within ${ms} ms`)), ms)
      waiters.push({
        line: (l) => { clearTimeout(timer); resolve(l) },
        ended: () => { clearTimeout(timer); reject(new Error(`${who}: no ${what}: the command ended`)) }
      })
    })
  }
  return { proc, lines, next }
}

export const stop = async (r: Running | undefined): Promise<void> => {
  if (r === undefined || r.proc.exitCode !== null) return
  r.proc.kill('SIGTERM')
  await new Promise((resolve) => {
    const timer = setTimeout(() => { r.proc.kill('SIGKILL'); resolve(undefined) }, 10_000)
    r.proc.once('exit', () => { clearTimeout(timer); resolve(undefined) })
  })
}

export const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }
