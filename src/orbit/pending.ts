/**
 * Entries a log refused for now (their writer's admission may still arrive), kept for a
 * retry. Bounded in bytes and in count, oldest dropped first: whoever sends them, they
 * cost a peer at most the budget.
 */
import type { LogEntry } from './orbitdb.ts'

export interface PendingLimits {
  /** All kept entries together, in approximate bytes (see `entrySize`). */
  maxBytes: number
  maxCount: number
}

export interface PendingEntries {
  /** Keeps `entry` (newest), dropping the oldest ones beyond the limits. */
  keep: (entry: LogEntry, size: number) => void
  delete: (hash: string) => void
  /** Removes and returns every kept entry, oldest first. */
  takeAll: () => LogEntry[]
  count: () => number
  bytes: () => number
}

export const PendingEntries = (limits: PendingLimits): PendingEntries => {
  const kept = new Map<string, { entry: LogEntry, size: number }>()
  let total = 0
  const remove = (hash: string): void => {
    const item = kept.get(hash)
    if (item === undefined) return
    kept.delete(hash)
    total -= item.size
  }
  return {
    keep: (entry, size) => {
      if (size > limits.maxBytes) return
      remove(entry.hash)
      kept.set(entry.hash, { entry, size })
      total += size
      while (total > limits.maxBytes || kept.size > limits.maxCount) remove(kept.keys().next().value as string)
    },
    delete: remove,
    takeAll: () => {
      const entries = [...kept.values()].map((item) => item.entry)
      kept.clear()
      total = 0
      return entries
    },
    count: () => kept.size,
    bytes: () => total
  }
}

/** How deep `entrySize` looks into a payload; deeper parts count as the limit (never kept). */
const MAX_DEPTH = 64

/**
 * The approximate size of a decoded entry, in bytes: its strings, byte arrays and
 * numbers, and its keys (what it costs to keep it in memory, give or take the object
 * overhead). Cheap: no encoding, one pass over the values.
 */
export const entrySize = (entry: LogEntry): number => sizeOf(entry, 0)

const sizeOf = (value: unknown, depth: number): number => {
  if (depth > MAX_DEPTH) return Number.POSITIVE_INFINITY
  if (typeof value === 'string') return value.length
  if (value instanceof Uint8Array) return value.byteLength
  if (value === null || typeof value !== 'object') return 8
  let n = 8
  if (Array.isArray(value)) {
    for (const item of value) n += sizeOf(item, depth + 1)
    return n
  }
  for (const [key, item] of Object.entries(value)) n += key.length + sizeOf(item, depth + 1)
  return n
}
