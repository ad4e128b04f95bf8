/**
 * The walk that fetches an arriving entry's missing ancestry (src/orbit/prefetch.ts), on a
 * real OrbitDB log of signed entries: it asks for many blocks at once and for each
 * ancestor's parents as soon as that one is checked, and it stops asking the moment it
 * gives up. The blocks come from a store that answers after a delay, as a peer would.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ANCESTRY_LIMITS, fetchAncestry, type AncestryWalk } from '../../src/orbit/prefetch.ts'
import { Identities, Log, MemoryStorage, type AccessController, type LogEntry, type OrbitLog, type StorageBackend } from '../../src/orbit/orbitdb.ts'

const ENTRIES = 80

/** A peer's block store: each get answers after `delayMs`; counts the gets asked and the most at once. */
const slowStore = (source: StorageBackend, delayMs: number, lose = new Set<string>()) => {
  const stats = { gets: 0, inFlight: 0, maxInFlight: 0, asked: [] as string[] }
  const storage = {
    get: async (hash: string, signal?: AbortSignal): Promise<Uint8Array | undefined> => {
      stats.gets++
      stats.inFlight++
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight)
      stats.asked.push(hash)
      try {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(resolve, delayMs)
          signal?.addEventListener('abort', () => { clearTimeout(timer); reject(new Error('aborted')) }, { once: true })
        })
        return lose.has(hash) ? undefined : await source.get(hash)
      } finally {
        stats.inFlight--
      }
    }
  } as unknown as StorageBackend
  return { storage, stats }
}

describe('the ancestry walk', function () {
  this.timeout(60_000)
  let keystore: string
  let log: OrbitLog
  let entries: LogEntry[] = []
  let source: StorageBackend
  let close: () => Promise<void>

  before(async () => {
    keystore = await mkdtemp(join(tmpdir(), 'oa-walk-'))
    const identities = await Identities({ path: keystore })
    const identity = await (identities.createIdentity as NonNullable<typeof identities.createIdentity>)({ id: 'writer' })
    source = await MemoryStorage()
    log = await Log(identity, { logId: 'walk-test', access: { canAppend: async () => true } as unknown as AccessController, entryStorage: source, headsStorage: await MemoryStorage(), indexStorage: await MemoryStorage() })
    for (let i = 0; i < ENTRIES; i++) entries.push(await log.append({ n: i }, { referencesCount: 16 }))
    close = async () => { await identities.keystore.close() }
  })
  after(async () => {
    await close()
    await rm(keystore, { recursive: true, force: true })
    entries = []
  })

  const walkOf = (storage: StorageBackend, over: Partial<AncestryWalk> = {}): AncestryWalk => ({
    storage,
    inLog: async () => false,
    check: async () => true,
    limits: ANCESTRY_LIMITS,
    maxEntryBytes: 1024 * 1024,
    oversized: async () => false,
    ...over
  })

  it('fetches and checks every ancestor once, many at a time, not a level of 8 at a time', async () => {
    const last = entries.at(-1) as LogEntry
    const { storage, stats } = slowStore(source, 20)
    const checked: string[] = []
    const result = await fetchAncestry(last, walkOf(storage, { check: async (e) => { checked.push(e.hash); return true } }))
    assert.deepEqual(result, { ok: true, entries: ENTRIES - 1, holes: 0 })
    assert.deepEqual(new Set(checked), new Set(entries.slice(0, -1).map((e) => e.hash)))
    assert.equal(checked.length, ENTRIES - 1, 'each ancestor checked once')
    assert.equal(stats.gets, ENTRIES - 1, 'each ancestor asked for once')
    // Each entry names the 17 before it: the walk has more than the old 8 on the way at once.
    assert.ok(stats.maxInFlight > 8 && stats.maxInFlight <= 24, `at most 24 at once, and more than 8 (${stats.maxInFlight})`)
  })

  it('stops where the log already holds the ancestry', async () => {
    const last = entries.at(-1) as LogEntry
    const held = new Set(entries.slice(0, 50).map((e) => e.hash))
    const { storage, stats } = slowStore(source, 5)
    const result = await fetchAncestry(last, walkOf(storage, { inLog: async (hash) => held.has(hash) }))
    assert.deepEqual(result, { ok: true, entries: ENTRIES - 1 - 50, holes: 0 })
    assert.ok(stats.asked.every((hash) => !held.has(hash)), 'nothing the log holds is asked for')
  })

  it('gives up at a refused ancestor, aborts what is on its way and asks for nothing more', async () => {
    const last = entries.at(-1) as LogEntry
    const refused = entries[60] as LogEntry
    const { storage, stats } = slowStore(source, 20)
    let checks = 0
    const result = await fetchAncestry(last, walkOf(storage, { check: async (e) => { checks++; return e.hash !== refused.hash } }))
    assert.equal(result.ok, false)
    assert.match((result as { reason: string }).reason, new RegExp(`ancestor ${refused.hash} refused`))
    const askedThen = stats.gets
    await new Promise((resolve) => setTimeout(resolve, 100))
    assert.equal(stats.gets, askedThen, 'no block asked for after it gave up')
    assert.equal(stats.inFlight, 0, 'the fetches under way were aborted')
    assert.ok(stats.gets < ENTRIES - 1, `it did not fetch the whole ancestry (${stats.gets})`)
    assert.ok(checks < ENTRIES - 1)
  })

  it('gives up past its entry limit, and goes on without a lost block only where holes are allowed', async () => {
    const last = entries.at(-1) as LogEntry
    const over = await fetchAncestry(last, walkOf(slowStore(source, 1).storage, { limits: { ...ANCESTRY_LIMITS, maxEntries: 30 } }))
    assert.deepEqual(over, { ok: false, reason: 'more than 30 missing ancestors' })

    const lost = entries[70] as LogEntry
    const strict = await fetchAncestry(last, walkOf(slowStore(source, 1, new Set([lost.hash])).storage))
    assert.deepEqual(strict, { ok: false, reason: `ancestor ${lost.hash} could not be fetched` })

    const holes: string[] = []
    const lenient = await fetchAncestry(last, walkOf(slowStore(source, 1, new Set([lost.hash])).storage, { hole: (hash) => { holes.push(hash); return true } }))
    // Its ancestry is still reached through the later entries that name them.
    assert.deepEqual(lenient, { ok: true, entries: ENTRIES - 1, holes: 1 })
    assert.deepEqual(holes, [lost.hash])
  })
})
