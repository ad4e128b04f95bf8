/**
 * One benchmark scenario for one side, in a process of its own (fresh heap, its own
 * peak RSS): `node scripts/bench/child.ts <scenario> <ours|plain> <params-json>`.
 * Logs go to stderr; the last stdout line is `BENCH_RESULT {...figures}`.
 * Every node it starts is stopped and its directory removed, also on failure.
 */
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { multiaddr } from '@multiformats/multiaddr'
import { createAccount, joinAccount, openAccount, type NodeAccount } from '../../src/node/account-dir.ts'
import { openPlain, type PlainDevice, type LogEntry } from './plain.ts'
import { keyOf, LOOPBACK, now, percentile, removeDir, RESULT_PREFIX, rssSampler, sleep, tempRoot, valueOf, waitUntil, type Figures, type Side } from './common.ts'
import { closeAll, copyFixture, hasAllKeys, log, onExit, progress, runOnce, startProc } from './harness.ts'
import { fillAccount, type FillMode } from './fill.ts'
import { OUR_CLI, PLAIN_READY } from './entries.ts'
import { SCALE_SCENARIOS, type ScaleParams } from './scale.ts'
import { floor } from './floor.ts'

/** The new device of `sync` apart (see ChildParams.apart). */
const JOINER = join(dirname(fileURLToPath(import.meta.url)), 'joiner.ts')

export interface ChildParams {
  /** store: puts; sync: keys present before the new device comes; revoke: live keys. */
  keys: number
  /** store: random gets measured. */
  gets: number
  /** sync: puts whose propagation is timed. */
  props: number
  /** daemon: keys in the store, and CLI gets timed. */
  cliGets: number
  /** prepare-*: how our fixture is filled (default: one put per key). */
  fill?: FillMode
  /** sync, ours: the new device runs in a process of its own (joiner.ts), as on its own machine; no propagation then. */
  apart?: boolean
}

// ---------------------------------------------------------------- 1, 2, 5: puts, gets, peak RSS

const store = async (side: Side, root: string, p: ChildParams): Promise<Figures> => {
  const rss = rssSampler()
  try {
    let put: (key: string, value: unknown) => Promise<void>
    let get: (key: string) => Promise<unknown> | unknown
    if (side === 'ours') {
      const a = onExit(await createAccount({ dir: join(root, 'a'), name: 'a', listen: [] }), async (x) => { await x.close() })
      put = async (k, v) => { await a.put(k, v as never) }
      get = (k) => a.get(k)
    } else {
      const a = onExit(await openPlain(join(root, 'a'), []), async (x) => { await x.close() })
      put = async (k, v) => { await a.db.put(k, v) }
      get = async (k) => await a.db.get(k)
    }
    const thousand = Math.min(1000, p.keys)
    const t0 = now()
    let t1000 = Number.NaN
    for (let i = 0; i < p.keys; i++) {
      await put(keyOf(i), valueOf(i))
      if (i + 1 === thousand) t1000 = now()
      progress(`${side} puts`, i, p.keys)
    }
    const tAll = now()
    const lat: number[] = []
    for (let j = 0; j < p.gets; j++) {
      const i = Math.floor(Math.random() * p.keys)
      const t = now()
      const v = await get(keyOf(i))
      lat.push(now() - t)
      if ((v as { id?: number } | undefined)?.id !== i) throw new Error(`${side}: get ${keyOf(i)} returned ${JSON.stringify(v)}`)
    }
    const peak = rss.peak()
    return {
      put1kOps: thousand / ((t1000 - t0) / 1000),
      putAllOps: p.keys / ((tAll - t0) / 1000),
      getP50Ms: percentile(lat, 50),
      getP95Ms: percentile(lat, 95),
      peakRssMB: peak / 2 ** 20,
      maxRssMB: process.resourceUsage().maxRSS / 1024
    }
  } finally {
    rss.stop()
  }
}

// ---------------------------------------------------------------- fixtures

/**
 * Stores that take long to fill are built once per run (not timed) and copied for
 * every repetition: `prepare-sync` (a device with the keys the new device must get)
 * and `prepare-revoke` (an admin with the live keys and a member that has synced them
 * all, plus a third device, the one to revoke, that stays offline as a lost device would).
 */
/** Fills our fixture: one put per key unless the scale section asks for batches. */
const fillOurs = async (a: NodeAccount, n: number, mode: FillMode = 'put'): Promise<void> => { await fillAccount(a, n, mode) }

const prepareSync = async (side: Side, _root: string, p: ChildParams & { fixture: string }): Promise<Figures> => {
  const dir = join(p.fixture, 'a')
  if (side === 'ours') {
    const a = onExit(await createAccount({ dir, name: 'a', listen: [] }), async (x) => { await x.close() })
    await fillOurs(a, p.keys, p.fill)
  } else {
    const a = onExit(await openPlain(dir, []), async (x) => { await x.close() })
    for (let i = 0; i < p.keys; i++) { await a.db.put(keyOf(i), valueOf(i)); progress('plain puts', i, p.keys) }
  }
  return {}
}

/** Does `b` read the log `a` reads, with the same heads? */
const synced = (a: NodeAccount, b: NodeAccount) => async (): Promise<boolean> => {
  const [x, y] = [(await a.heads()).dataHeads, (await b.heads()).dataHeads]
  return x.length === y.length && x.every((h) => y.includes(h))
}

const prepareRevoke = async (side: Side, _root: string, p: ChildParams & { fixture: string }): Promise<Figures> => {
  if (side !== 'ours') throw new Error('plain OrbitDB has no revocation')
  const a = onExit(await createAccount({ dir: join(p.fixture, 'a'), name: 'a', listen: LOOPBACK }), async (x) => { await x.close() })
  for (const name of ['c', 'b']) {
    const invite = await a.invite({ ttlMs: 600_000, role: 'member' })
    const d = await joinAccount({ dir: join(p.fixture, name), invite: invite.text, name, listen: LOOPBACK })
    await invite.admitted
    await d.close()
  }
  // Filled with the members offline (with peers online each put costs much more, see the report).
  await fillOurs(a, p.keys, p.fill)
  const b = onExit(await openAccount({ dir: join(p.fixture, 'b'), listen: LOOPBACK }), async (x) => { await x.close() })
  await b.syncWith(a.addrs(), 30_000)
  // Every key, in the epoch the admin is in: a fill of 100,000 keys makes the admin start a
  // new log on the way (half its writes quota), and b could hold every key in the old one.
  await waitUntil(hasAllKeys(b, p.keys), 600_000, 'all keys on b', 50)
  await waitUntil(synced(a, b), 600_000, 'b in the admin\'s epoch, with its log', 50)
  log('b has every key, and the admin\'s log')
  return {}
}

// ---------------------------------------------------------------- 3: new device, propagation

/** Resolves with the time `seen` first returns true (checked on every `tick`). */
const firstTime = async (subscribe: (tick: () => void) => () => void, seen: () => boolean, ms: number, what: string): Promise<number> =>
  await new Promise<number>((resolve, reject) => {
    let stop = (): void => {}
    const timer = setTimeout(() => { stop(); reject(new Error(`timed out after ${ms} ms waiting for ${what}`)) }, ms)
    stop = subscribe(() => {
      if (!seen()) return
      const t = now()
      clearTimeout(timer)
      stop()
      resolve(t)
    })
  })

const sync = async (side: Side, root: string, p: ChildParams & { fixture: string }): Promise<Figures> => {
  await copyFixture(p.fixture, root, ['a'])
  const lat: number[] = []
  let joinMs: number
  let joinReturnedMs = Number.NaN
  if (side === 'ours' && p.apart === true) {
    if (p.props > 0) throw new Error('sync apart times no propagation')
    const a = onExit(await openAccount({ dir: join(root, 'a'), listen: LOOPBACK }), async (x) => { await x.close() })
    const invite = await a.invite({ ttlMs: 600_000, role: 'member' })
    const b = onExit(startProc([JOINER, join(root, 'b'), String(p.keys)], { stdin: true }), async (x) => { await x.stop() })
    await b.wait(/^READY$/, 60_000)
    const t0 = now()
    b.send(invite.text)
    const joined = JSON.parse((await b.wait(/^JOINED /, 600_000)).slice('JOINED '.length)) as { joinReturnedMs: number, newDeviceMs: number }
    joinMs = now() - t0
    joinReturnedMs = joined.joinReturnedMs
    await invite.admitted
  } else if (side === 'ours') {
    const a = onExit(await openAccount({ dir: join(root, 'a'), listen: LOOPBACK }), async (x) => { await x.close() })
    const invite = await a.invite({ ttlMs: 600_000, role: 'member' })
    const t0 = now()
    const b = onExit(await joinAccount({ dir: join(root, 'b'), invite: invite.text, name: 'b', listen: LOOPBACK }), async (x) => { await x.close() })
    joinReturnedMs = now() - t0
    await waitUntil(hasAllKeys(b, p.keys), 600_000, 'all keys on the new device', 5)
    joinMs = now() - t0
    await invite.admitted
    for (let j = 0; j < p.props; j++) {
      const key = `prop/${j}`
      const seen = firstTime((tick) => b.watch(tick), () => b.get(key) !== undefined, 30_000, `propagation of ${key}`)
      const t = now()
      await a.put(key, valueOf(j))
      lat.push(await seen - t)
      await sleep(50 + Math.random() * 100)
    }
  } else {
    const a = onExit(await openPlain(join(root, 'a'), LOOPBACK), async (x) => { await x.close() })
    const last = (await a.db.log.heads())[0]?.hash as string
    const t0 = now()
    // Open by address: the manifest comes from the peer, so dial it first.
    const b: PlainDevice = onExit(await openPlain(join(root, 'b'), LOOPBACK, a.db.address, async (node) => {
      await node.libp2p.dial(multiaddr(a.addrs()[0] as string))
    }), async (x) => { await x.close() })
    joinReturnedMs = now() - t0
    // The log joins a head with all its missing ancestors at once: wait for the last head, then read everything.
    await waitUntil(async () => await b.db.log.has(last), 600_000, 'the last head on the new device', 5)
    const all = await b.db.all()
    if (all.length !== p.keys) throw new Error(`plain: the new device reads ${all.length} keys, not ${p.keys}`)
    joinMs = now() - t0
    for (let j = 0; j < p.props; j++) {
      const key = `prop/${j}`
      let arrived = false
      const seen = firstTime((tick) => {
        const fn = (...args: unknown[]): void => {
          if ((args[0] as LogEntry<{ key: string }>).payload.key === key) arrived = true
          tick()
        }
        b.db.events.on('update', fn)
        return () => { b.db.events.off('update', fn) }
      }, () => arrived, 30_000, `propagation of ${key}`)
      const t = now()
      await a.db.put(key, valueOf(j))
      lat.push(await seen - t)
      await sleep(50 + Math.random() * 100)
    }
  }
  return { newDeviceMs: joinMs, joinReturnedMs, propP50Ms: percentile(lat, 50), propP95Ms: percentile(lat, 95) }
}

// ---------------------------------------------------------------- 4: revocation

const revoke = async (side: Side, root: string, p: ChildParams & { fixture: string }): Promise<Figures> => {
  if (side !== 'ours') throw new Error('plain OrbitDB has no revocation')
  await copyFixture(p.fixture, root, ['a', 'b'])
  const a = onExit(await openAccount({ dir: join(root, 'a'), listen: LOOPBACK }), async (x) => { await x.close() })
  const b = onExit(await openAccount({ dir: join(root, 'b'), listen: LOOPBACK }), async (x) => { await x.close() })
  for (const log of ['registry', 'data'] as const) {
    const reached = await b.syncWith(a.addrs(), 30_000, log)
    if (!reached.includes(a.peerId())) throw new Error(`b could not sync the ${log} with a`)
  }
  if (!hasAllKeys(b, p.keys)()) throw new Error('b does not hold every key before the revocation')
  // A move, or a sync, left from the fixture is not the revocation's (see prepareRevoke).
  await waitUntil(synced(a, b), 120_000, 'b in the admin\'s epoch, with its log, before the revocation', 20)
  const before = b.info().epoch
  const t0 = now()
  let returned = Number.NaN
  const done = a.revoke('c').then((r) => { returned = now() - t0; return r })
  await waitUntil(() => b.info().epoch > before, 120_000, 'b in the new epoch', 2)
  const seenMs = now() - t0
  const r = await done
  const probe = Math.floor(Math.random() * p.keys)
  if ((b.get(keyOf(probe)) as { id?: number } | undefined)?.id !== probe) throw new Error('b lost data in the new epoch')
  if (b.info().epoch !== r.epoch) throw new Error(`b is in epoch ${b.info().epoch}, the revocation made ${r.epoch}`)
  return { revokeMs: seenMs, revokeReturnedMs: returned }
}

// ---------------------------------------------------------------- 5: daemon ready, CLI get

const daemon = async (side: Side, root: string, p: ChildParams): Promise<Figures> => {
  const dir = join(root, 'a')
  if (side === 'ours') {
    const a = await createAccount({ dir, name: 'a' })
    try {
      for (let i = 0; i < p.keys; i++) await a.put(keyOf(i), valueOf(i))
      await a.put('k', { hello: 'world' })
    } finally {
      await a.close()
    }
    const t0 = now()
    const d = onExit(startProc([OUR_CLI, 'daemon', '--listen', LOOPBACK[0] as string, '--json', '--dir', dir]), async (x) => { await x.stop() })
    await d.wait(/"ready":true/, 60_000)
    const readyMs = now() - t0
    const gets: number[] = []
    for (let j = 0; j < p.cliGets; j++) {
      const r = await runOnce([OUR_CLI, 'get', 'k', '--dir', dir, '--json'])
      if (r.code !== 0 || !r.stdout.includes('"world"')) throw new Error(`CLI get failed (${String(r.code)}): ${r.stdout}`)
      gets.push(r.ms)
    }
    return { daemonReadyMs: readyMs, cliGetMs: percentile(gets, 50) }
  } else {
    const a = await openPlain(dir, [])
    try {
      for (let i = 0; i < p.keys; i++) await a.db.put(keyOf(i), valueOf(i))
      await a.db.put('k', { hello: 'world' })
    } finally {
      await a.close()
    }
    const t0 = now()
    const d = onExit(startProc([PLAIN_READY, dir]), async (x) => { await x.stop() })
    await d.wait(/"ready":true/, 60_000)
    return { daemonReadyMs: now() - t0 }
  }
}

// ----------------------------------------------------------------

const SCENARIOS = { store, sync, revoke, daemon, 'prepare-sync': prepareSync, 'prepare-revoke': prepareRevoke, ...SCALE_SCENARIOS, floor } as const
export type Scenario = keyof typeof SCENARIOS

const [scenario, side, params] = process.argv.slice(2) as [Scenario, Side, string]
const root = await tempRoot(`${scenario}-${side}`)
let code = 0
try {
  const figures = await SCENARIOS[scenario](side, root, JSON.parse(params) as ChildParams & ScaleParams)
  await closeAll()
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(figures)}\n`)
} catch (err) {
  log(`${scenario}/${side} failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`)
  code = 1
} finally {
  await closeAll()
  await removeDir(root)
}
process.exit(code)
