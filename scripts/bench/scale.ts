/**
 * The scale section's scenarios (issue #16), run by child.ts like the others: reopening
 * a filled account, the CLI against a bare Node start, a 10,000-key batch. Revocation
 * and the new device at 10,000/100,000 keys reuse child.ts's `revoke` and `sync`.
 */
import { join } from 'node:path'
import { createAccount, joinAccount, openAccount } from '../../src/node/account-dir.ts'
import { openPlain } from './plain.ts'
import { keyOf, LOOPBACK, median, now, valueOf, waitUntil, type Figures, type Side } from './common.ts'
import { copyFixture, hasAllKeys, log, onExit, runOnce, startProc } from './harness.ts'
import { batchesAvailable, entriesOf, putEntries } from './fill.ts'
import { OUR_CLI } from './entries.ts'

export interface ScaleParams {
  /** reopen: keys in the fixture; batch: keys written. */
  keys: number
  /** reopen, cli: the directory holding the filled account `a`. */
  fixture: string
  /** cli: timed runs of each command. */
  runs?: number
}

/** The CLI as an installed package runs it (scripts/bench/entries.ts). */
const BIN = OUR_CLI
const MiB = 2 ** 20

/** The account in `dir` has key i with its value (its id). */
const holds = (get: (key: string) => unknown, i: number): boolean => (get(keyOf(i)) as { id?: number } | undefined)?.id === i

// ---------------------------------------------------------------- reopen: time and RSS

/**
 * `openAccount` on the filled account (in place: reopening is what the fixture is for)
 * until its last key is readable; then RSS as it is, and after a full gc when this
 * process runs with --expose-gc (the parent starts children with it).
 */
const reopen = async (_side: Side, _root: string, p: ScaleParams): Promise<Figures> => {
  const t0 = now()
  const a = onExit(await openAccount({ dir: join(p.fixture, 'a'), listen: [] }), async (x) => { await x.close() })
  await waitUntil(() => holds((k) => a.get(k), p.keys - 1), 120_000, 'the last key after reopening', 2)
  const reopenMs = now() - t0
  const rssMB = process.memoryUsage().rss / MiB
  const gc = (globalThis as unknown as { gc?: () => void }).gc
  let rssGcMB = Number.NaN
  if (gc !== undefined) {
    gc()
    rssGcMB = process.memoryUsage().rss / MiB
  }
  if (!holds((k) => a.get(k), 0)) throw new Error('the first key is missing after reopening')
  return { reopenMs, rssMB, rssGcMB }
}

// ---------------------------------------------------------------- CLI against `node -e 0`

const COMMANDS: Record<string, string[]> = { get: ['get', keyOf(0)], list: ['list'], status: ['status'], devices: ['devices'] }

/** Runs `orbit-account <args> --dir <dir> --json`; throws unless it succeeded (and, for get, printed the value). */
const cliRun = async (name: string, args: string[], dir: string): Promise<number> => {
  const r = await runOnce([BIN, ...args, '--dir', dir, '--json'])
  if (r.code !== 0) throw new Error(`orbit-account ${name} exited ${String(r.code)}: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`)
  if (name === 'get' && !/"id":\s*0\b/.test(r.stdout)) throw new Error(`orbit-account get printed ${r.stdout.slice(0, 200)}`)
  return r.ms
}

const bareNode = async (): Promise<number> => {
  const r = await runOnce(['-e', '0'])
  if (r.code !== 0) throw new Error(`node -e 0 exited ${String(r.code)}`)
  return r.ms
}

/**
 * A copy of the filled account; first with no daemon (get, list, status, devices, each
 * run right after a `node -e 0`), then through a running daemon (get after `node -e 0`).
 * One untimed run of each first (the compile cache, the file cache).
 */
const cli = async (_side: Side, root: string, p: ScaleParams): Promise<Figures> => {
  await copyFixture(p.fixture, root, ['a'])
  const dir = join(root, 'a')
  const runs = p.runs ?? 10
  await bareNode()
  for (const [name, args] of Object.entries(COMMANDS)) await cliRun(name, args, dir)
  const nodeLocal: number[] = []
  const local: Record<string, number[]> = {}
  for (let j = 0; j < runs; j++) {
    for (const [name, args] of Object.entries(COMMANDS)) {
      nodeLocal.push(await bareNode())
      ;(local[name] ??= []).push(await cliRun(name, args, dir))
    }
  }
  log(`no daemon: ${Object.entries(local).map(([k, v]) => `${k} ${median(v).toFixed(0)} ms`).join(', ')}; node -e 0 ${median(nodeLocal).toFixed(0)} ms`)
  const daemon = onExit(startProc([BIN, 'daemon', '--listen', LOOPBACK[0] as string, '--json', '--dir', dir]), async (x) => { await x.stop() })
  await daemon.wait(/"ready":true/, 120_000)
  await cliRun('get', COMMANDS.get as string[], dir)
  const nodeDaemon: number[] = []
  const viaDaemon: number[] = []
  for (let j = 0; j < runs; j++) {
    nodeDaemon.push(await bareNode())
    viaDaemon.push(await cliRun('get', COMMANDS.get as string[], dir))
  }
  await daemon.stop()
  const figures: Figures = { nodeMs: median(nodeLocal), nodeDaemonMs: median(nodeDaemon), daemonGetMs: median(viaDaemon) }
  for (const [name, ms] of Object.entries(local)) figures[`local${name[0]?.toUpperCase() ?? ''}${name.slice(1)}Ms`] = median(ms)
  return figures
}

// ---------------------------------------------------------------- batch: putMany vs plain puts

/**
 * Ours: a device and a second one joined to it; one `putMany` of `keys` keys, timed until
 * the call resolves and until the second device reads every key. Plain: `keys` puts
 * one after the other (plain OrbitDB has no batch). `batches` is 0 when the account had
 * no putMany and the puts ran one by one (the figure is then not the batch's).
 */
const batch = async (side: Side, root: string, p: ScaleParams): Promise<Figures> => {
  if (side === 'plain') {
    const a = onExit(await openPlain(join(root, 'a'), []), async (x) => { await x.close() })
    const t0 = now()
    for (let i = 0; i < p.keys; i++) await a.db.put(keyOf(i), valueOf(i))
    const ms = now() - t0
    return { writeMs: ms, keysPerS: p.keys / (ms / 1000) }
  }
  const a = onExit(await createAccount({ dir: join(root, 'a'), name: 'a', listen: LOOPBACK }), async (x) => { await x.close() })
  const invite = await a.invite({ ttlMs: 600_000, role: 'member' })
  const b = onExit(await joinAccount({ dir: join(root, 'b'), invite: invite.text, name: 'b', listen: LOOPBACK }), async (x) => { await x.close() })
  await invite.admitted
  const entries = entriesOf(0, p.keys)
  const t0 = now()
  await putEntries(a, entries)
  const ms = now() - t0
  await waitUntil(hasAllKeys(b, p.keys), 300_000, 'every key of the batch on the second device', 5)
  const syncedMs = now() - t0
  return { writeMs: ms, keysPerS: p.keys / (ms / 1000), syncedMs, batches: batchesAvailable(a) ? 1 : 0 }
}

export const SCALE_SCENARIOS = { reopen, cli, batch } as const
