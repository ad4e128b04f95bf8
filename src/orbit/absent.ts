/**
 * Entries a log goes on without (browser-ready). OrbitDB's join fails on an ancestor it
 * cannot get, and its traversals wait out a block timeout for it; a hash named here
 * resolves at once as absent instead, so its descendants join and reads go past it.
 *
 * - Refused: an entry over its log's byte cap. Final (its hash fixes its bytes), the
 *   same on every peer, never fetched again.
 * - Holes (data logs only): an ancestor no peer served within the walk's budget (an
 *   oversized block that no transport carries, or one its holder no longer serves).
 *   Looked for again now and then, and taken as soon as a peer sends it, so an honest
 *   gap heals once its holder is back.
 *
 * Both are kept on disk next to the log (a restart must not forget them: a traversal
 * would then look for them again, in the write queue, and read one unchecked if a peer
 * served it) and are bounded: nothing is forgotten while the log needs it, so once
 * full, an entry that would need one more is refused as before (kept for a retry), and
 * only a healed hole frees its place.
 */
import { utf8Decode, utf8Encode } from '../crypto/bytes.ts'

export interface AbsentLimits {
  maxRefused: number
  maxHoles: number
  /** The first retry of a hole, then doubling up to `maxRetryMs`. */
  firstRetryMs: number
  maxRetryMs: number
}

export const ABSENT_LIMITS: AbsentLimits = { maxRefused: 4096, maxHoles: 1024, firstRetryMs: 5000, maxRetryMs: 10 * 60_000 }

/** Where the marks are kept: OrbitDB's LevelStorage fits. */
export interface AbsentStore {
  put: (hash: string, data: Uint8Array) => Promise<void>
  del: (hash: string) => Promise<void>
  iterator: () => AsyncIterable<[string, Uint8Array]>
}

export interface AbsentEntries {
  has: (hash: string) => boolean
  /** Records a refused hash; false when the set is full (it is not absent then). */
  refuse: (hash: string) => boolean
  /** Records a hole; false when the set is full (it is not absent then). */
  hole: (hash: string) => boolean
  /** Holes due for a retry (at most `n`); each is pushed back until it heals. */
  due: (now: number, n: number) => string[]
  /** A hole is about to join at last: it is no longer absent (`hole` again if the join fails). */
  heal: (hash: string) => void
  /** It joined: its mark is dropped from disk too (after the join, so a crash between keeps it; see `openAbsentEntries`). */
  healed: (hash: string) => void
  isRefused: (hash: string) => boolean
  isHole: (hash: string) => boolean
  holes: () => number
  /** Resolves once every mark made so far is on disk (before a join that relies on them). */
  flush: () => Promise<void>
}

const REFUSED = 'r'
const HOLE = 'h'

/**
 * The marks kept in `store`, loaded first. A hole the log holds after all (it joined,
 * and a crash came before its mark was dropped) is dropped now: `isIndexed` asks the
 * log's own index.
 */
export const openAbsentEntries = async (store: AbsentStore | undefined, isIndexed: (hash: string) => Promise<boolean>, limits: AbsentLimits = ABSENT_LIMITS): Promise<AbsentEntries> => {
  const refused = new Set<string>()
  const holes = new Map<string, { at: number, wait: number }>()
  const addHole = (hash: string): void => { holes.set(hash, { at: Date.now() + limits.firstRetryMs, wait: limits.firstRetryMs }) }
  if (store !== undefined) {
    const joined: string[] = []
    for await (const [hash, mark] of store.iterator()) {
      if (utf8Decode(mark) === REFUSED) refused.add(hash)
      else if (await isIndexed(hash)) joined.push(hash)
      else addHole(hash)
    }
    for (const hash of joined) await store.del(hash)
  }
  let writes: Promise<void> = Promise.resolve()
  const write = (fn: (s: AbsentStore) => Promise<void>): void => {
    if (store !== undefined) writes = writes.then(async () => { await fn(store) }).catch(() => {})
  }
  return {
    has: (hash) => refused.has(hash) || holes.has(hash),
    refuse: (hash) => {
      if (refused.has(hash)) return true
      if (refused.size >= limits.maxRefused) return false
      holes.delete(hash)
      refused.add(hash)
      write(async (s) => { await s.put(hash, utf8Encode(REFUSED)) })
      return true
    },
    hole: (hash) => {
      if (refused.has(hash) || holes.has(hash)) return true
      if (holes.size >= limits.maxHoles) return false
      addHole(hash)
      write(async (s) => { await s.put(hash, utf8Encode(HOLE)) })
      return true
    },
    due: (now, n) => {
      const out: string[] = []
      for (const [hash, retry] of holes) {
        if (out.length >= n) break
        if (retry.at > now) continue
        retry.wait = Math.min(retry.wait * 2, limits.maxRetryMs)
        retry.at = now + retry.wait
        out.push(hash)
      }
      return out
    },
    heal: (hash) => { holes.delete(hash) },
    healed: (hash) => {
      if (!holes.has(hash) && !refused.has(hash)) write(async (s) => { await s.del(hash) })
    },
    isRefused: (hash) => refused.has(hash),
    isHole: (hash) => holes.has(hash),
    holes: () => holes.size,
    flush: async () => { await writes }
  }
}
