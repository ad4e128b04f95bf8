/**
 * Helpers for the crash specs: a seeded PRNG for the kill moments, SIGKILL with a
 * wait, small in-process scripts (written into a sandbox at run time, spawned with
 * this Node) that open the account with the library, and a tally of the kills tried.
 */
import assert from 'node:assert/strict'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { ACCOUNT_DIR_MODULE, REPO, type Exit, type Json, type JsonObject, type Running, type Sandbox } from '../cli/helpers.ts'

/** The seed of every kill moment; set ORBIT_CRASH_SEED to replay or vary a run. */
export const SEED = Number(process.env.ORBIT_CRASH_SEED ?? 20261125) >>> 0

export { between, prng } from '../helpers/random.ts'

export const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

/** Every kill the specs tried, by scenario, with what it hit; printed at the end. */
export const kills: Array<{ scenario: string, delayMs: number, hit: string }> = []

export const recordKill = (scenario: string, delayMs: number, hit: string): void => { kills.push({ scenario, delayMs, hit }) }

export const killSummary = (): string => {
  const by = new Map<string, string[]>()
  for (const k of kills) by.set(k.scenario, [...(by.get(k.scenario) ?? []), `${k.delayMs}ms:${k.hit}`])
  return [`crash: ${kills.length} SIGKILLs tried (seed ${SEED})`, ...[...by].map(([s, hits]) => `  ${s} (${hits.length}): ${hits.join(', ')}`)].join('\n')
}

/** SIGKILLs `running` (if it still runs) and waits for it to be gone. */
export const sigkill = async (running: Running, ms = 10_000): Promise<Exit> => {
  if (running.running) running.proc.kill('SIGKILL')
  return await running.waitForExit(ms)
}

export const exists = async (path: string): Promise<boolean> => await stat(path).then(() => true, () => false)

/** The pid in the account's LOCK file, if there is one. */
export const lockPid = async (dir: string): Promise<number | undefined> => {
  try {
    const info = JSON.parse(await readFile(join(dir, 'LOCK'), 'utf8')) as { pid?: unknown }
    return typeof info.pid === 'number' ? info.pid : undefined
  } catch {
    return undefined
  }
}

export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

const moduleUrl = (path: string): string => pathToFileURL(path).href

/**
 * The in-process writer: opens the account, then for i in [start, start+count) puts
 * `<prefix><i>` = valueFor(prefix, i, pad) and prints the key once `put` has returned
 * (the acknowledgment). stdout to a pipe is synchronous on POSIX: a printed key reached
 * the parent before any later SIGKILL.
 */
const WRITER = `
import { openAccount } from ${JSON.stringify(moduleUrl(ACCOUNT_DIR_MODULE))}
const [dir, prefix, start, count, padBytes] = process.argv.slice(2)
const pad = 'x'.repeat(Number(padBytes))
const account = await openAccount({ dir, role: 'command' })
process.stdout.write('open\\n')
for (let i = Number(start); i < Number(start) + Number(count); i++) {
  await account.put(prefix + i, { k: prefix + i, i, pad })
  process.stdout.write(prefix + i + '\\n')
}
await account.close()
process.stdout.write('closed\\n')
process.exit(0)
`

/** The value the writer (and the specs' CLI writers) put under `key`. */
export const valueFor = (key: string, i: number, padBytes: number): JsonObject => ({ k: key, i, pad: 'x'.repeat(padBytes) })

/**
 * The account setup script: admits `n` devices named `<name>1..<name>n` (generated
 * keys, as real phones that joined earlier and are now off), then writes like WRITER.
 */
const SETUP = `
import { openAccount } from ${JSON.stringify(moduleUrl(ACCOUNT_DIR_MODULE))}
import { generateDeviceKeys, deviceIdFromSigningKey } from ${JSON.stringify(moduleUrl(join(REPO, 'identity/keys.ts')))}
import { base64urlEncode } from ${JSON.stringify(moduleUrl(join(REPO, 'src/crypto/bytes.ts')))}
const [dir, name, n, prefix, count, padBytes] = process.argv.slice(2)
const account = await openAccount({ dir, role: 'command' })
for (let i = 1; i <= Number(n); i++) {
  const keys = generateDeviceKeys()
  await account.admit({ device: deviceIdFromSigningKey(keys.signing.publicKey), name: name + i, signingKey: base64urlEncode(keys.signing.publicKey), boxKey: base64urlEncode(keys.box.publicKey) }, 'member')
}
const pad = 'x'.repeat(Number(padBytes))
for (let i = 0; i < Number(count); i++) await account.put(prefix + i, { k: prefix + i, i, pad })
await account.close()
process.stdout.write('done\\n')
process.exit(0)
`

/**
 * The inspector: opens the account and prints one JSON line with what the CLI does not
 * show: whether the registry asks for a rotation, who holds a lockbox of the current
 * epoch, every epoch recorded, the entries the logs refused, and every value.
 */
const INSPECT = `
import { openAccount } from ${JSON.stringify(moduleUrl(ACCOUNT_DIR_MODULE))}
const [dir] = process.argv.slice(2)
const account = await openAccount({ dir, role: 'command' })
const state = account.state()
const out = {
  epoch: account.info().epoch,
  needsRotation: state.needsRotation === true,
  // Devices only: the recovery key holds a lockbox of every epoch too.
  lockboxHolders: Object.keys(state.epoch?.lockboxes ?? {}).filter((d) => d !== state.recovery?.device).sort(),
  recoveryHoldsKey: state.recovery === null || Object.hasOwn(state.epoch?.lockboxes ?? {}, state.recovery.device),
  epochs: state.epochs.map((e) => e.epoch),
  devices: account.devices(),
  entries: account.all()
}
await account.close()
// Exit only once the (large) line is written: process.exit drops what a pipe has not taken yet.
process.stdout.write(JSON.stringify(out) + '\\n', () => process.exit(0))
`

export interface Scripts { writer: string, setup: string, inspect: string }

/** Writes the scripts into the sandbox's root (outside the account directory). */
export const writeScripts = async (box: Sandbox): Promise<Scripts> => {
  const scripts = { writer: join(box.root, 'writer.mjs'), setup: join(box.root, 'setup.mjs'), inspect: join(box.root, 'inspect.mjs') }
  await writeFile(scripts.writer, WRITER)
  await writeFile(scripts.setup, SETUP)
  await writeFile(scripts.inspect, INSPECT)
  return scripts
}

export interface Inspection {
  epoch: number
  needsRotation: boolean
  lockboxHolders: string[]
  /** The recovery key (if any) holds a lockbox of the current epoch. */
  recoveryHoldsKey: boolean
  epochs: number[]
  devices: Array<{ device: string, name: string, role: string, status: string, addedBy: string | null }>
  entries: { [key: string]: Json }
}

/** Runs the inspector (no daemon may hold the store) and returns what it printed. */
export const inspect = async (box: Sandbox, scripts: Scripts): Promise<Inspection> => {
  const run = box.spawnScript(scripts.inspect, [box.dir], { label: 'inspect' })
  run.proc.stdin?.end()
  const exit = await run.waitForExit(60_000)
  assert.deepEqual(exit, { code: 0, signal: null }, run.describe())
  const line = run.lines.stdout.find((l) => l.startsWith('{'))
  assert.ok(line !== undefined, run.describe())
  return JSON.parse(line) as Inspection
}

/** The keys `running` (a writer) printed: each one acknowledged. */
export const printedKeys = (running: Running, prefix: string): string[] => running.lines.stdout.filter((l) => l.startsWith(prefix))

/** Fails with the keys that `entries` lacks or holds with another value than `expected`. */
export const assertHolds = (entries: { [key: string]: Json }, expected: Map<string, Json>, what: string): void => {
  const missing: string[] = []
  const wrong: string[] = []
  for (const [key, value] of expected) {
    if (!(key in entries)) missing.push(key)
    else if (JSON.stringify(entries[key]) !== JSON.stringify(value)) wrong.push(key)
  }
  assert.deepEqual({ missing, wrong }, { missing: [], wrong: [] }, `${what}: ${missing.length} acknowledged write(s) lost, ${wrong.length} with another value`)
}
