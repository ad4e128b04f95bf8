/**
 * Which entries of an old data log a rotation's cut had not seen (browser-ready): the
 * entries reachable from the log's heads that are not the cut's entries or their
 * ancestors. Like git's merge-base walk: entries are visited newest first by Lamport
 * time (an ancestor's time is always lower than its descendants'), so an entry is
 * marked covered by any covered descendant before it is visited, and the walk stops as
 * soon as only covered entries are left to visit. A device that wrote nothing since the
 * cut walks nothing; one that wrote a few entries walks about those. It never fetches:
 * an entry this device does not hold is left out, so what it cannot rule out counts as
 * uncovered (the caller's index then drops whatever the snapshot already has or newer).
 */
import type { LogEntry } from '../orbit/orbitdb.ts'
import { Heap } from '../heap.ts'

export interface LocalLog {
  heads: () => Promise<LogEntry[]>
  has: (hash: string) => Promise<boolean>
  get: (hash: string) => Promise<LogEntry | undefined>
}

/** The entries of `log` (held here) that neither are in `cut` nor are ancestors of it, newest first. */
export const uncoveredEntries = async (log: LocalLog, cut: string[]): Promise<LogEntry[]> => {
  const covered = new Map<string, boolean>()
  const done = new Set<string>()
  const queue = new Heap<LogEntry>((a, b) => a.clock.time > b.clock.time)
  // Uncovered entries waiting in the queue: the walk ends when there are none.
  let open = 0
  const visit = async (hash: string, isCovered: boolean): Promise<void> => {
    const seen = covered.get(hash)
    if (seen !== undefined) {
      // (An entry already visited is only reached again from a covered one if its clock lies; it stays counted.)
      if (isCovered && !seen && !done.has(hash)) {
        covered.set(hash, true)
        open--
      }
      return
    }
    if (!(await log.has(hash))) return
    const entry = await log.get(hash)
    if (entry === undefined) return
    covered.set(hash, isCovered)
    if (!isCovered) open++
    queue.push(entry)
  }
  for (const hash of cut) await visit(hash, true)
  for (const head of await log.heads()) await visit(head.hash, false)
  const result: LogEntry[] = []
  while (open > 0 && queue.size > 0) {
    const entry = queue.pop() as LogEntry
    done.add(entry.hash)
    const isCovered = covered.get(entry.hash) === true
    if (!isCovered) {
      open--
      result.push(entry)
    }
    for (const parent of [...entry.next, ...entry.refs]) await visit(parent, isCovered)
  }
  return result
}
