/**
 * `npm run soak -- [--minutes N | --ops N] [--batch B] [--seed S]`: three devices (real
 * nodes on loopback, one process) write, overwrite and delete at random for N minutes
 * (or N operations), with random restarts; at the end they must converge with every
 * device's own last writes intact. Writes go in `putMany` batches of B keys (each key an
 * operation) where the account has it, single puts otherwise. It reports the epochs,
 * the current log's writes and live keys, and the largest log seen: automatic compaction
 * (src/account/compaction.ts) keeps the log bounded however long the run. For use
 * outside CI; prints what it checked.
 */
import assert from 'node:assert/strict'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { isDeepStrictEqual, parseArgs } from 'node:util'
import { Devices } from '../test/join/helpers.ts'
import { waitFor } from '../test/helpers/device.ts'
import type { NodeAccount } from '../src/node/account-dir.ts'

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '2' },
    ops: { type: 'string' },
    batch: { type: 'string', default: '50' },
    seed: { type: 'string', default: '1' }
  }
})
/** The bytes of every file under `dir`. */
const bytesUnder = async (dir: string): Promise<number> => {
  let total = 0
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, e.name)
    total += e.isDirectory() ? await bytesUnder(path) : e.isFile() ? (await stat(path)).size : 0
  }
  return total
}
const positive = (text: string, name: string): number => {
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`--${name} must be a positive integer, got ${text}`)
  return n
}
const ops = values.ops !== undefined ? positive(values.ops, 'ops') : undefined
const minutes = Number(values.minutes)
const batchSize = Math.min(positive(values.batch, 'batch'), 100)
let seed = Number(values.seed) >>> 0
const rnd = (): number => { seed = (seed * 1664525 + 1013904223) >>> 0; return seed / 2 ** 32 }

/** Each device writes its own 100 keys (one device per key: its last write is the expected value). */
const KEYS_PER_DEVICE = 100
const REPORT_EVERY = 50_000

type PutMany = (entries: Record<string, unknown>) => Promise<void>
/** The batch API where this version of the account has it. */
const putManyOf = (a: NodeAccount): PutMany | undefined => {
  const fn = (a as NodeAccount & { putMany?: PutMany }).putMany
  return typeof fn === 'function' ? fn : undefined
}

const d = new Devices()
const names = ['laptop', 'phone', 'tablet']
const expected = new Map<string, unknown>()
const stats = { puts: 0, dels: 0, batches: 0, restarts: 0, largestLog: 0 }
const done = (): number => stats.puts + stats.dels
const started = Date.now()
const until = started + minutes * 60_000
const more = (): boolean => ops !== undefined ? done() < ops : Date.now() < until
/** The largest current log (writes past its snapshot) any open device holds now. */
const noteLogs = (): void => {
  for (const a of d.open.values()) stats.largestLog = Math.max(stats.largestLog, a.logStats().writes)
}

const writeSome = async (j: number): Promise<void> => {
  const account = d.get(names[j] as string)
  const putMany = putManyOf(account)
  const room = ops !== undefined ? ops - done() : Number.POSITIVE_INFINITY
  if (putMany !== undefined && room > 1) {
    const entries: Record<string, unknown> = {}
    for (let n = 0; n < Math.min(batchSize, room); n++) entries[`own/${j}/${Math.floor(rnd() * KEYS_PER_DEVICE)}`] = { n: stats.puts + n }
    await putMany.call(account, entries)
    for (const [key, value] of Object.entries(entries)) expected.set(key, value)
    stats.puts += Object.keys(entries).length
    stats.batches++
    return
  }
  const key = `own/${j}/${Math.floor(rnd() * KEYS_PER_DEVICE)}`
  const value = { n: stats.puts }
  await account.put(key, value)
  expected.set(key, value)
  stats.puts++
}

try {
  await d.create('laptop')
  await d.join('phone', 'laptop')
  await d.join('tablet', 'laptop')
  let nextReport = REPORT_EVERY
  while (more()) {
    const j = Math.floor(rnd() * 3)
    const name = names[j] as string
    if (rnd() < 0.01) {
      await d.stop(name)
      await d.start(name)
      for (const other of names) if (other !== name) await d.connect(name, other).catch(() => {})
      stats.restarts++
      continue
    }
    if (rnd() < 0.15) {
      const key = `own/${j}/${Math.floor(rnd() * KEYS_PER_DEVICE)}`
      await d.get(name).del(key)
      expected.set(key, undefined)
      stats.dels++
    } else {
      await writeSome(j)
    }
    noteLogs()
    if (done() >= nextReport) {
      const log = d.get('laptop').logStats()
      console.log(`${done()} ops in ${Math.round((Date.now() - started) / 1000)} s: laptop in epoch ${log.epoch}, its log ${log.writes} writes for ${log.keys} keys; largest log so far ${stats.largestLog}`)
      nextReport += REPORT_EVERY
    }
  }
  for (const a of names) for (const b of names) if (a < b) await d.connect(a, b).catch(() => {})
  await waitFor(() => {
    const views = names.map((n) => ({ epoch: d.get(n).info().epoch, values: d.get(n).all() }))
    return views.every((v) => isDeepStrictEqual(v, views[0]))
  }, 300_000, 'convergence')
  noteLogs()
  const all = d.get('laptop').all()
  for (const [key, value] of expected) assert.deepEqual(all[key], value, key)
  const seconds = Math.round((Date.now() - started) / 1000)
  const logs = names.map((n) => { const s = d.get(n).logStats(); return `${n} ${s.writes} writes/${s.keys} keys` }).join(', ')
  const epoch = d.get('laptop').info().epoch
  console.log(`soak passed: ${done()} ops in ${seconds} s (${stats.puts} puts${stats.batches > 0 ? ` in ${stats.batches} batches` : ''}, ${stats.dels} deletes), ${stats.restarts} restarts; ${expected.size} keys checked on 3 devices, all converged`)
  console.log(`compactions: ${epoch} (epoch ${epoch} now, no revocation); current log (epoch ${epoch}): ${logs}; largest log seen: ${stats.largestLog} writes`)
  // Each device's directory on disk, once it is closed.
  const sizes: string[] = []
  for (const n of names) {
    await d.stop(n)
    sizes.push(`${n} ${(await bytesUnder(await d.dir(n)) / 2 ** 20).toFixed(1)} MiB`)
  }
  console.log(`on disk at the end: ${sizes.join(', ')}`)
} finally {
  await d.cleanup()
}
