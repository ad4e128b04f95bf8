/**
 * What every scenario of a benchmark child shares: its log, the things to stop when it
 * ends, processes it starts (a daemon, a CLI command), fixtures it copies.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process'
import type { Readable, Writable } from 'node:stream'
import { cp } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import type { Account } from '../../src/account/account.ts'
import { keyOf, now } from './common.ts'

const started = Date.now()
export const log = (message: string): void => { process.stderr.write(`  [${((Date.now() - started) / 1000).toFixed(1)}s] ${message}\n`) }

/** Things to stop when the scenario ends, newest first. */
const cleanups: Array<() => Promise<void>> = []
export const onExit = <T>(thing: T, stop: (t: T) => Promise<void>): T => {
  let done = false
  cleanups.unshift(async () => { if (!done) { done = true; await stop(thing) } })
  return thing
}
export const closeAll = async (): Promise<void> => {
  for (const c of cleanups.splice(0)) await c().catch((err: unknown) => { log(`cleanup failed: ${String(err)}`) })
}

export const progress = (label: string, i: number, n: number): void => {
  if (n >= 2000 && (i + 1) % Math.floor(n / 4) === 0) log(`${label}: ${i + 1}/${n}`)
}

/** A check that is true once keys 0..n-1 are all readable (it resumes where it stopped). */
export const hasAllKeys = (account: Pick<Account, 'get'>, n: number): () => boolean => {
  let next = 0
  return () => {
    while (next < n && account.get(keyOf(next)) !== undefined) next++
    return next === n
  }
}

export const copyFixture = async (fixture: string, root: string, names: string[]): Promise<void> => {
  for (const name of names) await cp(join(fixture, name), join(root, name), { recursive: true })
}

export interface Proc {
  wait: (pattern: RegExp, ms: number) => Promise<string>
  /** Writes one line to its stdin (started with `{ stdin: true }`). */
  send: (line: string) => void
  stop: () => Promise<void>
}

/**
 * Starts `node <args>` (this Node) in the background; `wait` resolves with the first stdout
 * line matching. With `stdin`, its stdin is a pipe that `send` writes and `stop` closes first.
 */
export const startProc = (args: string[], opts: { stdin?: boolean } = {}): Proc => {
  const proc = spawn(process.execPath, args, { stdio: [opts.stdin === true ? 'pipe' : 'ignore', 'pipe', 'pipe'] }) as ChildProcessByStdio<Writable | null, Readable, Readable>
  const lines: string[] = []
  let notify = (): void => {}
  createInterface({ input: proc.stdout }).on('line', (line) => { lines.push(line); notify() })
  let stderr = ''
  proc.stderr.on('data', (d: Buffer) => { stderr += d.toString(); if (process.env.BENCH_VERBOSE !== undefined) process.stderr.write(d) })
  const exited = new Promise<void>((resolve) => { proc.once('exit', () => { resolve() }) })
  return {
    wait: async (pattern, ms) => await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`no ${String(pattern)} within ${ms} ms; stderr: ${stderr}`)) }, ms)
      notify = () => {
        const line = lines.find((l) => pattern.test(l))
        if (line !== undefined) { clearTimeout(timer); resolve(line) }
      }
      notify()
      void exited.then(() => { clearTimeout(timer); reject(new Error(`exited (${String(proc.exitCode)}) before ${String(pattern)}; stderr: ${stderr}`)) })
    }),
    send: (line) => { proc.stdin?.write(`${line}\n`) },
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return
      if (proc.stdin !== null) {
        // Its cue to close and exit on its own.
        proc.stdin.end()
        const gone = await Promise.race([exited.then(() => true), new Promise<boolean>((resolve) => { setTimeout(() => { resolve(false) }, 10_000).unref() })])
        if (gone) return
      }
      proc.kill('SIGTERM')
      const timer = setTimeout(() => { proc.kill('SIGKILL') }, 10_000)
      await exited
      clearTimeout(timer)
    }
  }
}

export interface RunResult { ms: number, stdout: string, stderr: string, code: number | null }

/** Runs `node <args>` (this Node) to its end, killed after `timeoutMs`; `ms` is spawn to exit. */
export const runOnce = async (args: string[], timeoutMs = 60_000): Promise<RunResult> => {
  const t = now()
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  proc.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  proc.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const timer = setTimeout(() => { proc.kill('SIGKILL') }, timeoutMs)
  const code = await new Promise<number | null>((resolve) => { proc.once('exit', (c) => { resolve(c) }) })
  clearTimeout(timer)
  return { ms: now() - t, stdout, stderr, code }
}
