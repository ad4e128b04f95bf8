/**
 * Drives the real `orbit-account` CLI in child processes for the CLI specs. Each
 * Sandbox owns a fresh temp directory and every process it starts; `cleanup()` stops
 * them (SIGTERM, then SIGKILL) and removes the directory. Every wait has a timeout.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
/**
 * The launcher, as a person runs the command in a checkout: it turns the compile cache on
 * and loads src/cli/main.ts. ORBIT_ACCOUNT_TEST_CLI names another entry to run the specs
 * against, such as the package's bundle (dist/src/cli/orbit-account.js, after `npm run build`).
 */
export const CLI = process.env.ORBIT_ACCOUNT_TEST_CLI ?? join(REPO, 'bin/orbit-account')
export const ACCOUNT_DIR_MODULE = join(REPO, 'src/node/account-dir.ts')
/** The only address a test daemon listens on. */
export const LOOPBACK = '/ip4/127.0.0.1/tcp/0'

const KILL_GRACE_MS = 3000
const DEFAULT_RUN_MS = 30_000

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
export type JsonObject = { [key: string]: Json }

export interface Exit { code: number | null, signal: NodeJS.Signals | null }

export interface RunResult extends Exit {
  stdout: string
  stderr: string
  ms: number
}

export interface RunOptions {
  /** Written to stdin, which is then closed (stdin is always closed). */
  input?: string
  /** Extra environment variables. */
  env?: Record<string, string>
  /** Leave out `--json` (human output). */
  human?: boolean
  /** Leave out `--dir` (the args carry their own, or none). */
  noDir?: boolean
  timeoutMs?: number
}

export interface CliError {
  exit: number
  code: string
  message: string
}

type Stream = 'stdout' | 'stderr'

const baseEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env }
  delete env.ORBIT_ACCOUNT_DIR
  delete env.ORBIT_ACCOUNT_PASSPHRASE
  return { ...env, ...extra }
}

const withTimeout = async <T>(promise: Promise<T>, ms: number, what: string): Promise<T> => {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** A CLI process that keeps running (daemon, watch, a lock holder). */
export class Running {
  readonly proc: ChildProcess
  readonly label: string
  readonly lines: Record<Stream, string[]> = { stdout: [], stderr: [] }
  readonly exited: Promise<Exit>
  #exit: Exit | undefined
  #partial: Record<Stream, string> = { stdout: '', stderr: '' }
  #listeners = new Set<() => void>()

  constructor (proc: ChildProcess, label: string) {
    this.proc = proc
    this.label = label
    for (const stream of ['stdout', 'stderr'] as const) {
      const s = proc[stream]
      if (s === null) throw new Error(`${label}: no ${stream} pipe`)
      s.setEncoding('utf8')
      s.on('data', (chunk: string) => {
        const parts = (this.#partial[stream] + chunk).split('\n')
        this.#partial[stream] = parts.pop() ?? ''
        this.lines[stream].push(...parts)
        this.#notify()
      })
    }
    this.exited = new Promise<Exit>((resolve) => {
      proc.on('close', (code, signal) => {
        for (const stream of ['stdout', 'stderr'] as const) {
          if (this.#partial[stream] !== '') this.lines[stream].push(this.#partial[stream])
          this.#partial[stream] = ''
        }
        this.#exit = { code, signal }
        this.#notify()
        resolve(this.#exit)
      })
    })
  }

  get running (): boolean { return this.#exit === undefined }

  #notify (): void {
    for (const l of [...this.#listeners]) l()
  }

  /** What the process printed so far, for failure messages. */
  describe (): string {
    return `${this.label}\n  stdout: ${this.lines.stdout.join('\n  ')}\n  stderr: ${this.lines.stderr.join('\n  ')}`
  }

  /** Resolves when `check` returns a value; rejects on timeout or when the process exits first. */
  async #until<T>(check: () => T | undefined, ms: number, what: string): Promise<T> {
    return await new Promise<T>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer)
        this.#listeners.delete(listener)
      }
      const listener = (): void => {
        const found = check()
        if (found !== undefined) {
          done()
          resolve(found)
        } else if (this.#exit !== undefined) {
          done()
          reject(new Error(`${what}: the process exited (${JSON.stringify(this.#exit)}) first\n${this.describe()}`))
        }
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`timed out after ${ms} ms waiting for ${what}\n${this.describe()}`))
      }, ms)
      this.#listeners.add(listener)
      listener()
    })
  }

  /** The first line (from the start of the output) on `stream` matching `predicate`. */
  async waitForLine (stream: Stream, predicate: (line: string) => boolean, ms: number): Promise<string> {
    return await this.#until(() => this.lines[stream].find(predicate), ms, `a matching line on ${stream} of ${this.label}`)
  }

  /** The first `n` non-empty lines on `stream`. */
  async waitForLines (stream: Stream, n: number, ms: number): Promise<string[]> {
    return await this.#until(() => {
      const lines = this.lines[stream].filter((l) => l.length > 0)
      return lines.length >= n ? lines.slice(0, n) : undefined
    }, ms, `${n} lines on ${stream} of ${this.label}`)
  }

  async waitForExit (ms: number): Promise<Exit> {
    return await withTimeout(this.exited, ms, `${this.label} to exit\n${this.describe()}`)
  }

  /** SIGTERM, then SIGKILL if it is still running after the grace period. */
  async stop (): Promise<Exit> {
    if (this.#exit !== undefined) return this.#exit
    this.proc.kill('SIGTERM')
    try {
      return await withTimeout(this.exited, KILL_GRACE_MS, `${this.label} to stop`)
    } catch {
      this.proc.kill('SIGKILL')
      return await withTimeout(this.exited, KILL_GRACE_MS, `${this.label} to die`)
    }
  }
}

/** A fresh temp directory, the account directory inside it, and the processes run against it. */
export class Sandbox {
  readonly root: string
  /** The account directory (`--dir`). */
  readonly dir: string
  #procs = new Set<Running>()

  private constructor (root: string) {
    this.root = root
    this.dir = join(root, 'a')
  }

  static async create (): Promise<Sandbox> {
    const root = await mkdtemp(join(tmpdir(), 'oa-'))
    const box = new Sandbox(root)
    // Unix socket paths are limited to ~104 bytes.
    assert.ok(join(box.dir, 'daemon.sock').length < 100, `temp dir ${root} is too long for a unix socket`)
    return box
  }

  /** Starts `node <script> ...args` with pipes and a clean environment. */
  spawnScript (script: string, args: string[], options: { env?: Record<string, string>, label?: string } = {}): Running {
    const proc = spawn(process.execPath, [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: baseEnv(options.env), cwd: this.root })
    // A command may stop reading its stdin (a value over the limit): the broken pipe is its answer, not a test crash.
    proc.stdin?.on('error', () => {})
    const running = new Running(proc, options.label ?? `${script} ${args.join(' ')}`)
    this.#procs.add(running)
    return running
  }

  #cliArgs (args: string[], options: RunOptions): string[] {
    return [...args, ...(options.noDir === true ? [] : ['--dir', this.dir]), ...(options.human === true ? [] : ['--json'])]
  }

  /** Starts a CLI command that keeps running; its stdin stays open. */
  spawn (args: string[], options: RunOptions = {}): Running {
    const running = this.spawnScript(CLI, this.#cliArgs(args, options), { ...(options.env !== undefined ? { env: options.env } : {}), label: `orbit-account ${args.join(' ')}` })
    if (options.input !== undefined) running.proc.stdin?.end(options.input)
    return running
  }

  /** Starts `daemon --listen <loopback>` and waits for its ready line. */
  async startDaemon (options: RunOptions = {}): Promise<{ daemon: Running, ready: JsonObject }> {
    const daemon = this.spawn(['daemon', '--listen', LOOPBACK], options)
    const line = await daemon.waitForLine('stdout', (l) => l.startsWith('{') && l.includes('"ready"'), 60_000)
    return { daemon, ready: JSON.parse(line) as JsonObject }
  }

  /** Runs a CLI command to completion (stdin closed, or fed `input`). */
  async run (args: string[], options: RunOptions = {}): Promise<RunResult> {
    const started = Date.now()
    const running = this.spawn(args, options)
    if (options.input === undefined) running.proc.stdin?.end()
    const ms = options.timeoutMs ?? DEFAULT_RUN_MS
    let exit: Exit
    try {
      exit = await running.waitForExit(ms)
    } finally {
      if (running.running) await running.stop()
      this.#procs.delete(running)
    }
    const join = (lines: string[]): string => lines.length === 0 ? '' : lines.join('\n') + '\n'
    return { ...exit, stdout: join(running.lines.stdout), stderr: join(running.lines.stderr), ms: Date.now() - started }
  }

  /** Runs a command that must succeed with exactly one JSON line on stdout; returns it. */
  async json (args: string[], options: RunOptions = {}): Promise<JsonObject> {
    const r = await this.run(args, options)
    assert.equal(r.code, 0, `orbit-account ${args.join(' ')} failed (${String(r.code)}): ${r.stderr}`)
    const lines = r.stdout.split('\n').filter((l) => l.length > 0)
    assert.equal(lines.length, 1, `expected one JSON line from ${args.join(' ')}, got: ${r.stdout}`)
    return JSON.parse(lines[0] as string) as JsonObject
  }

  /** Runs a command that must fail: non-zero exit, nothing on stdout, `{"error":{code,message}}` on stderr. */
  async fail (args: string[], options: RunOptions = {}): Promise<CliError> {
    const r = await this.run(args, options)
    return parseFailure(r, args)
  }

  /** Stops every process still running and removes the temp directory. */
  async cleanup (): Promise<void> {
    await Promise.all([...this.#procs].map(async (p) => await p.stop().catch(() => undefined)))
    this.#procs.clear()
    await rm(this.root, { recursive: true, force: true, maxRetries: 3 })
  }
}

export const parseFailure = (r: RunResult, args: string[]): CliError => {
  const what = `orbit-account ${args.join(' ')}`
  assert.notEqual(r.code, 0, `${what} should have failed; stdout: ${r.stdout}`)
  assert.notEqual(r.code, null, `${what} was killed (${String(r.signal)}); stderr: ${r.stderr}`)
  assert.equal(r.stdout, '', `${what} printed on stdout although it failed`)
  const lines = r.stderr.split('\n').filter((l) => l.length > 0)
  assert.equal(lines.length, 1, `${what}: expected one error line on stderr, got: ${r.stderr}`)
  const parsed = JSON.parse(lines[0] as string) as { error?: { code?: unknown, message?: unknown } }
  assert.deepEqual(Object.keys(parsed), ['error'])
  const { code, message } = parsed.error ?? {}
  assert.equal(typeof code, 'string', `${what}: error.code missing: ${r.stderr}`)
  assert.equal(typeof message, 'string', `${what}: error.message missing: ${r.stderr}`)
  assert.ok((message as string).length > 0)
  return { exit: r.code as number, code: code as string, message: message as string }
}
