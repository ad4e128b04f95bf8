/**
 * Which of a writer's entries can never count under its `writes` quota, so a data log
 * does not store them (DESIGN property 11, issue #18; browser-ready). A device's writes
 * are taken in canonical order (Lamport time, then hash: src/store/quota.ts) and only
 * its first `writes` count, each entry at least one write. So an entry of W that
 * `writes` stored entries of W precede can never count, whatever else arrives later:
 * the stored set only grows, and every peer reaches the same verdict. A backstop bounds
 * a writer that sends its entries in decreasing order (each then precedes all stored
 * ones): past 2 x `writes` stored entries, its further ones are refused too.
 *
 * The per-writer lists are kept in memory, fed by what the log applies, and kept in the
 * data log's checkpoint (src/store/checkpoint.ts) so an open does not rebuild them.
 */

export interface Place { time: number, hash: string }

/** What the verdict needs of an entry. */
export interface Ranked extends Place { key: string }

const compare = (a: Place, b: Place): number =>
  a.time !== b.time ? (a.time < b.time ? -1 : 1) : a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0

export interface WriterRanks {
  /** The writes quota this judges by. */
  readonly limit: number
  /** Records a stored entry (once each). */
  add: (entry: Ranked) => void
  /** The hashes among `batch` (entries about to be joined) that can never count, or are past the backstop. */
  refused: (batch: Ranked[]) => Set<string>
  /** Every writer's stored entries in canonical order (what a checkpoint keeps: src/store/checkpoint.ts). */
  dump: () => Array<[string, Place[]]>
  /** Puts back what `dump()` gave, in place of what they hold. */
  restore: (dump: Array<[string, Place[]]>) => void
}

export const WriterRanks = (limit: number): WriterRanks => {
  const stored = new Map<string, Place[]>()
  const known = new Set<string>()
  /** How many of `list` precede `p` (binary search: the list is sorted). */
  const preceding = (list: Place[], p: Place): number => {
    let lo = 0
    let hi = list.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (compare(list[mid] as Place, p) < 0) lo = mid + 1
      else hi = mid
    }
    return lo
  }
  return {
    limit,
    add: (entry) => {
      if (known.has(entry.hash)) return
      known.add(entry.hash)
      let list = stored.get(entry.key)
      if (list === undefined) stored.set(entry.key, list = [])
      list.splice(preceding(list, entry), 0, { time: entry.time, hash: entry.hash })
    },
    refused: (batch) => {
      const out = new Set<string>()
      const byWriter = new Map<string, Ranked[]>()
      for (const e of batch) {
        if (known.has(e.hash)) continue
        const mine = byWriter.get(e.key)
        if (mine === undefined) byWriter.set(e.key, [e])
        else if (!mine.some((m) => m.hash === e.hash)) mine.push(e)
      }
      for (const [key, entries] of byWriter) {
        const list = stored.get(key) ?? []
        // The batch's own entries that are kept precede the later ones as the stored ones do.
        let kept = 0
        for (const e of entries.sort(compare)) {
          if (preceding(list, e) + kept >= limit || list.length + kept >= 2 * limit) out.add(e.hash)
          else kept++
        }
      }
      return out
    },
    dump: () => [...stored],
    restore: (dump) => {
      stored.clear()
      known.clear()
      for (const [key, list] of dump) {
        stored.set(key, list)
        for (const p of list) known.add(p.hash)
      }
    }
  }
}

/** What the verdict needs of a log entry. */
export const ranked = (entry: { key: string, hash: string, clock: { time: number } }): Ranked =>
  ({ key: entry.key, hash: entry.hash, time: entry.clock.time })
