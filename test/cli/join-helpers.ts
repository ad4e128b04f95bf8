/**
 * Personas (laptop, phone, tablet) for the join specs: each owns a Sandbox (its own
 * temp dir and processes) and drives the real CLI. Every daemon and invite listens on
 * loopback only; every wait has a timeout.
 */
import assert from 'node:assert/strict'
import { access, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { LOOPBACK, Sandbox, type CliError, type Json, type JsonObject, type Running } from './helpers.ts'

export interface DeviceRow { device: string, name: string, role: string, status: string, addedBy: string | null }

export interface NetworkMemoryFile { listen: string[], peers: string[] }

export const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

export const exists = async (path: string): Promise<boolean> => await access(path).then(() => true, () => false)

/** Calls `probe` until `ok` accepts its value; fails after `timeoutMs` with the last value seen. */
export const eventually = async <T>(what: string, probe: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 15_000, intervalMs = 250): Promise<T> => {
  const deadline = Date.now() + timeoutMs
  let last: { value: T } | undefined
  let lastError: unknown
  for (;;) {
    try {
      const value = await probe()
      last = { value }
      if (ok(value)) return value
    } catch (err) {
      lastError = err
    }
    if (Date.now() > deadline) {
      const seen = last !== undefined ? JSON.stringify(last.value) : `nothing (${lastError instanceof Error ? lastError.message : String(lastError)})`
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${seen}`)
    }
    await sleep(intervalMs)
  }
}

const isLoopback = (addr: string): boolean => addr.startsWith('/ip4/127.0.0.1/')

/** The JSON objects a process printed on `stream` (non-JSON lines are skipped). */
export const jsonLines = (running: Running, stream: 'stdout' | 'stderr' = 'stdout'): JsonObject[] => {
  const out: JsonObject[] = []
  for (const line of running.lines[stream]) {
    const start = line.indexOf('{')
    if (start < 0) continue
    try {
      const parsed = JSON.parse(line.slice(start)) as Json
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) out.push(parsed)
    } catch {
      // a human line
    }
  }
  return out
}

/** The `{"error":{code,message}}` a finished process printed on stderr (a prompt may precede it on the line). */
export const errorOf = (running: Running): { code: string, message: string } => {
  const errors = jsonLines(running, 'stderr').map((o) => o.error).filter((e): e is JsonObject => e !== null && typeof e === 'object' && !Array.isArray(e))
  assert.equal(errors.length, 1, `expected one error on stderr\n${running.describe()}`)
  const e = errors[0] as JsonObject
  assert.equal(typeof e.code, 'string')
  assert.equal(typeof e.message, 'string')
  return { code: e.code as string, message: e.message as string }
}

/** An invite shown by a running `invite` command. */
export interface ShownInvite {
  proc: Running
  invite: string
  expires: string
  /** Waits for `{"admitted":...}` and a clean exit. */
  admitted: (ms?: number) => Promise<JsonObject>
  /** Waits for the command to fail; returns its error. */
  failed: (ms?: number) => Promise<{ code: string, message: string }>
}

export class Persona {
  readonly name: string
  readonly box: Sandbox
  daemon: Running | undefined
  /** What create/join printed. */
  info: JsonObject | undefined

  private constructor (name: string, box: Sandbox) {
    this.name = name
    this.box = box
  }

  static async make (name: string): Promise<Persona> {
    return new Persona(name, await Sandbox.create())
  }

  get dir (): string { return this.box.dir }

  get device (): string {
    assert.ok(this.info !== undefined && typeof this.info.device === 'string', `${this.name} has no device yet`)
    return this.info.device
  }

  async create (mode?: 'encrypted' | 'public' | 'private'): Promise<JsonObject> {
    this.info = await this.box.json(['create', '--name', this.name, ...(mode !== undefined ? ['--mode', mode] : [])])
    return this.info
  }

  /** Starts a daemon listening on `listen` (loopback only) and waits for its ready line. */
  async startDaemon (listen: string[] = [LOOPBACK]): Promise<JsonObject> {
    assert.equal(this.daemon?.running ?? false, false, `${this.name} already runs a daemon`)
    for (const l of listen) assert.ok(isLoopback(l), `refusing to listen on ${l}`)
    const daemon = this.box.spawn(['daemon', ...listen.flatMap((l) => ['--listen', l])])
    this.daemon = daemon
    const line = await daemon.waitForLine('stdout', (l) => l.startsWith('{') && l.includes('"ready"'), 60_000)
    const ready = JSON.parse(line) as JsonObject
    assert.ok(Array.isArray(ready.addrs) && ready.addrs.length > 0)
    for (const a of ready.addrs) assert.ok(isLoopback(String(a)), `${this.name}'s daemon listens on ${String(a)}`)
    return ready
  }

  /** SIGTERM; the daemon must stop cleanly. */
  async stopDaemon (): Promise<void> {
    const daemon = this.daemon
    assert.ok(daemon !== undefined, `${this.name} runs no daemon`)
    this.daemon = undefined
    daemon.proc.kill('SIGTERM')
    assert.deepEqual(await daemon.waitForExit(15_000), { code: 0, signal: null }, daemon.describe())
  }

  /** Starts `invite --json --no-qr --listen <loopback> ...extra` and waits for the invite line. */
  async openInvite (extra: string[] = []): Promise<ShownInvite> {
    const proc = this.box.spawn(['invite', '--no-qr', '--listen', LOOPBACK, ...extra])
    const line = await proc.waitForLine('stdout', (l) => l.startsWith('{') && l.includes('"invite"'), 60_000)
    const shown = JSON.parse(line) as JsonObject
    assert.deepEqual(Object.keys(shown).sort(), ['expires', 'invite'])
    assert.match(String(shown.invite), /^OA1[A-Z2-7]+$/)
    return {
      proc,
      invite: String(shown.invite),
      expires: String(shown.expires),
      admitted: async (ms = 30_000) => {
        assert.deepEqual(await proc.waitForExit(ms), { code: 0, signal: null }, proc.describe())
        const admitted = jsonLines(proc).map((o) => o.admitted).filter((a) => a !== undefined)
        assert.equal(admitted.length, 1, proc.describe())
        return admitted[0] as JsonObject
      },
      failed: async (ms = 30_000) => {
        const exit = await proc.waitForExit(ms)
        assert.notEqual(exit.code, 0, `the invite should have failed\n${proc.describe()}`)
        assert.equal(exit.signal, null, proc.describe())
        return errorOf(proc)
      }
    }
  }

  async join (invite: string): Promise<JsonObject> {
    const joined = await this.box.json(['join', invite, '--name', this.name], { timeoutMs: 60_000 })
    assert.deepEqual(Object.keys(joined).sort(), ['account', 'device', 'epoch', 'name'])
    assert.equal(joined.name, this.name)
    this.info = joined
    return joined
  }

  /**
   * A join that must fail: non-zero exit, nothing on stdout, and exactly one
   * `{"error":{code,message}}` line on stderr (progress notes may precede it).
   */
  async failJoin (invite: string, name = this.name): Promise<CliError> {
    const r = await this.box.run(['join', invite, '--name', name], { timeoutMs: 60_000 })
    const what = `join as ${name}`
    assert.notEqual(r.code, 0, `${what} should have failed; stdout: ${r.stdout}`)
    assert.notEqual(r.code, null, `${what} was killed (${String(r.signal)}); stderr: ${r.stderr}`)
    assert.equal(r.stdout, '', `${what} printed on stdout although it failed`)
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('{"error"'))
    assert.equal(errors.length, 1, `${what}: expected one error line on stderr, got: ${r.stderr}`)
    const parsed = JSON.parse(errors[0] as string) as { error: { code: string, message: string } }
    assert.equal(typeof parsed.error.code, 'string')
    assert.ok(typeof parsed.error.message === 'string' && parsed.error.message.length > 0)
    return { exit: r.code as number, code: parsed.error.code, message: parsed.error.message }
  }

  async devices (): Promise<DeviceRow[]> {
    const out = await this.box.json(['devices'])
    return out.devices as unknown as DeviceRow[]
  }

  async get (key: string): Promise<Json> {
    const out = await this.box.json(['get', key])
    assert.equal(out.key, key)
    return out.value ?? null
  }

  async put (key: string, value: Json): Promise<void> {
    assert.deepEqual(await this.box.json(['put', key, JSON.stringify(value)]), { key, value })
  }

  async list (): Promise<JsonObject> {
    const out = await this.box.json(['list'])
    return out.entries as JsonObject
  }

  async hasAccount (): Promise<boolean> {
    return await exists(join(this.dir, 'account.json'))
  }

  async networkMemory (): Promise<NetworkMemoryFile> {
    try {
      return JSON.parse(await readFile(join(this.dir, 'peers.json'), 'utf8')) as NetworkMemoryFile
    } catch {
      return { listen: [], peers: [] }
    }
  }

  async cleanup (): Promise<void> {
    this.daemon = undefined
    await this.box.cleanup()
  }
}

/** Sorts a device list by name, for comparisons across devices. */
export const byName = (rows: DeviceRow[]): DeviceRow[] => [...rows].sort((a, b) => a.name.localeCompare(b.name))

/** Polls `devices` on `persona` until it lists exactly `names`. */
export const devicesNamed = async (persona: Persona, names: string[], timeoutMs = 15_000): Promise<DeviceRow[]> =>
  byName(await eventually(`${persona.name} to list the devices ${names.join(', ')}`, async () => await persona.devices(),
    (rows) => JSON.stringify(rows.map((r) => r.name).sort()) === JSON.stringify([...names].sort()), timeoutMs))
