/**
 * Fetching from the network under tight bounds, so that nothing a peer sends makes a
 * database wait for long: the blocks an open reads, and the missing ancestry of an entry.
 */
import * as Block from 'multiformats/block'
import * as dagCbor from '@ipld/dag-cbor'
import { sha256 } from 'multiformats/hashes/sha2'
import { Entry, IPFSBlockStorage, parseAddress, type HeliaNode, type LogEntry, type StorageBackend } from './orbitdb.ts'

/**
 * Fetches what opening a database by its address reads from the network (the manifest,
 * and the parameters of its access controller) under a signal, so that the open which
 * follows reads them from the local blockstore. OrbitDB gives an access controller no
 * signal: without this, an open whose only peer went away waits out a 30 s block timeout.
 */
export const prefetchDatabase = async (ipfs: HeliaNode, address: string, signal: AbortSignal): Promise<void> => {
  const storage = await IPFSBlockStorage({ ipfs, pin: false })
  try {
    const bytes = await storage.get(parseAddress(address).hash, signal)
    // Anything missing or odd is left for the open itself to report.
    if (bytes === undefined) return
    const { value } = await Block.decode({ bytes, codec: dagCbor, hasher: sha256 })
    const ac = (value as { accessController?: unknown } | null)?.accessController
    const hash = typeof ac === 'string' ? ac.split('/').pop() : undefined
    if (hash !== undefined && hash.length > 0) await storage.get(hash, signal)
  } finally {
    await storage.close?.()
  }
}

/** What a walk of untrusted ancestry may cost before it gives up. */
export interface AncestryLimits {
  /** How long one block may take to arrive. */
  blockTimeoutMs: number
  /** How long the whole walk may take. */
  deadlineMs: number
  /** How many missing ancestors it fetches at most. */
  maxEntries: number
  /** How many bytes of them at most. */
  maxBytes: number
  /** How many ancestors it may go on without (holes) at most, where holes are allowed. */
  maxHoles: number
}

export const ANCESTRY_LIMITS: AncestryLimits = { blockTimeoutMs: 3000, deadlineMs: 30_000, maxEntries: 10_000, maxBytes: 64 * 1024 * 1024, maxHoles: 64 }

/**
 * How many blocks a walk has asked for at once, at most. A rotation's snapshot is a chain
 * of ~100 parts of 256 KiB each: asked for a level at a time, 8 at once, each level of 17
 * took ~0.3 s on loopback with both ends mostly idle, waiting on round trips. Its last
 * part names up to 256 of them (src/rotation/rotate.ts): 64 asked at once, since bitswap
 * holds a want back while more come (10 ms after the last), and one asked as each block
 * arrives made it wait for the whole batch to land first. At most 64 blocks of the cap
 * (~44 MiB) on their way at once.
 */
const WALK_PARALLEL = 64

export type AncestryResult = { ok: true, entries: number, holes: number } | { ok: false, reason: string }

export interface AncestryWalk {
  /** Block storage with a short timeout; a fetched block stays in the local blockstore. */
  storage: StorageBackend
  /** Is this entry already in the log (its own ancestry then is too)? */
  inLog: (hash: string) => Promise<boolean>
  /** Checks one fetched ancestor (signature, writer); false refuses the whole walk. */
  check: (entry: LogEntry) => Promise<boolean>
  limits: AncestryLimits
  /**
   * The log's cap: a block over it is refused (told to `oversized`, which records it as
   * absent) and the walk goes on without it, or gives up when it could not be recorded.
   */
  maxEntryBytes: number
  oversized: (hash: string) => Promise<boolean>
  /**
   * Records an ancestor no peer served in time as a hole, where the walk may go on
   * without it (a data log; false: no more room). Absent: the walk gives up on it (the
   * registry, whose rules read every op's whole causal past).
   */
  hole?: (hash: string) => boolean | Promise<boolean>
  /** Gives up when aborted (a database closing). */
  signal?: AbortSignal
}

/**
 * Fetches the ancestors of `entry` that the log lacks, checking each one, until every
 * path reaches the log. Up to WALK_PARALLEL blocks are asked for at once; each ancestor
 * that arrives is checked (one at a time, in arrival order) and its own missing parents
 * are asked for at once, with no wait for the others of its level. When it succeeds they
 * are all local (or known absent: refused for their size, or holes), so the log's own
 * join (in the write queue) finds them without the network; when an ancestor is refused
 * by its checks, or cannot be fetched in time where holes are not allowed, or the walk
 * grows past its limits, it gives up (asking for no more, and dropping what is still on
 * its way): untrusted ancestry never makes the write queue wait.
 */
export const fetchAncestry = async (entry: LogEntry, walk: AncestryWalk): Promise<AncestryResult> => {
  const { storage, inLog, check, limits } = walk
  const deadline = AbortSignal.timeout(limits.deadlineMs)
  const given = new AbortController()
  const signal = AbortSignal.any([deadline, given.signal, ...(walk.signal === undefined ? [] : [walk.signal])])
  const seen = new Set<string>([entry.hash])
  const queue = await missing(parentsOf(entry), seen, inLog)
  let bytes = 0
  let count = 0
  let holes = 0

  /** What to do with one fetched ancestor: undefined to go on, else why the walk gives up. */
  const take = async (item: Fetched): Promise<string | undefined> => {
    // Refused everywhere for its size: the walk goes on without it (nor its ancestry).
    if (item.kind === 'oversized' && await walk.oversized(item.hash)) return undefined
    if (item.kind === 'missing' && !signal.aborted && holes < limits.maxHoles && await walk.hole?.(item.hash) === true) {
      holes++
      return undefined
    }
    if (item.kind === 'oversized') return `ancestor ${item.hash} is over the log's cap`
    if (item.kind !== 'entry') return item.reason
    bytes += item.size
    if (bytes > limits.maxBytes) return `more than ${limits.maxBytes} bytes of missing ancestors`
    if (!(await check(item.entry))) return `ancestor ${item.entry.hash} refused`
    queue.push(...await missing(parentsOf(item.entry), seen, inLog))
    return undefined
  }

  return await new Promise<AncestryResult>((resolve) => {
    let inFlight = 0
    let failed = false
    // Checks run one at a time, in the order their blocks arrive.
    let taking = Promise.resolve()
    const fail = (reason: string): void => {
      if (failed) return
      failed = true
      given.abort()
      resolve({ ok: false, reason })
    }
    const launch = (): void => {
      while (!failed && inFlight < WALK_PARALLEL && queue.length > 0) {
        const hash = queue.shift() as string
        if (++count > limits.maxEntries) return fail(`more than ${limits.maxEntries} missing ancestors`)
        inFlight++
        void fetchEntry(storage, hash, signal, walk.maxEntryBytes).then((item) => {
          taking = taking.then(async () => {
            if (failed) return
            const why = await take(item).catch((err: unknown) => `ancestor ${hash}: ${err instanceof Error ? err.message : String(err)}`)
            inFlight--
            if (why !== undefined) return fail(why)
            launch()
            if (!failed && inFlight === 0 && queue.length === 0) resolve({ ok: true, entries: count, holes })
          // Never a rejected chain: the checks after it would never run, and the walk never end.
          }).catch((err: unknown) => { fail(`the walk failed: ${err instanceof Error ? err.message : String(err)}`) })
        }, (err: unknown) => { fail(`ancestor ${hash}: ${err instanceof Error ? err.message : String(err)}`) })
      }
    }
    launch()
    if (!failed && inFlight === 0) resolve({ ok: true, entries: count, holes })
  })
}

const parentsOf = (entry: LogEntry): string[] =>
  [...(Array.isArray(entry.next) ? entry.next : []), ...(Array.isArray(entry.refs) ? entry.refs : [])].filter((h): h is string => typeof h === 'string')

/** The hashes not seen yet and not in the log (marked seen). */
const missing = async (hashes: string[], seen: Set<string>, inLog: (hash: string) => Promise<boolean>): Promise<string[]> => {
  const out: string[] = []
  for (const hash of hashes) {
    if (seen.has(hash)) continue
    seen.add(hash)
    if (!(await inLog(hash))) out.push(hash)
  }
  return out
}

type Fetched =
  | { kind: 'entry', entry: LogEntry, size: number }
  | { kind: 'oversized', hash: string }
  | { kind: 'missing' | 'invalid', hash: string, reason: string }

/** One ancestor, its size checked before it is decoded, and checked to be the block named (else why it is not). */
const fetchEntry = async (storage: StorageBackend, hash: string, signal: AbortSignal, maxBytes: number): Promise<Fetched> => {
  let bytes: Uint8Array | undefined
  try {
    bytes = await storage.get(hash, signal)
  } catch {
    bytes = undefined
  }
  if (bytes === undefined) return { kind: 'missing', hash, reason: `ancestor ${hash} could not be fetched` }
  if (bytes.byteLength > maxBytes) return { kind: 'oversized', hash }
  try {
    const entry = await Entry.decode(bytes)
    // The hash of what was decoded: a block store returns what was asked for, but a log entry's hash is its identity.
    if (entry.hash !== hash) return { kind: 'invalid', hash, reason: `ancestor ${hash} is not the entry named` }
    return { kind: 'entry', entry, size: bytes.byteLength }
  } catch {
    return { kind: 'invalid', hash, reason: `ancestor ${hash} is not a log entry` }
  }
}
