/**
 * The materialized key/value index: a last-writer-wins register per key, ordered by
 * (Lamport time, clock id, entry hash). Applying entries in any order, any number of
 * times, gives the same index, so it always agrees with a full replay of the log.
 */
import type { JsonValue } from './limits.ts'
import type { DataOp } from './codec.ts'

export interface Stamp { time: number, id: string, hash: string }

interface Slot { stamp: Stamp, value: JsonValue | undefined }

export interface Change { key: string, value: JsonValue | null, op: 'put' | 'del' }

export const compareStamps = (a: Stamp, b: Stamp): number => {
  if (a.time !== b.time) return a.time < b.time ? -1 : 1
  if (a.id !== b.id) return a.id < b.id ? -1 : 1
  if (a.hash !== b.hash) return a.hash < b.hash ? -1 : 1
  return 0
}

export class KvIndex {
  readonly #slots = new Map<string, Slot>()
  #live = 0

  /** Applies one operation; returns the visible change, or null when it lost to a newer write. */
  apply (op: DataOp, stamp: Stamp): Change | null {
    const current = this.#slots.get(op.key)
    if (current !== undefined && compareStamps(current.stamp, stamp) >= 0) return null
    const value = op.op === 'put' ? op.value : undefined
    if (current?.value !== undefined) this.#live--
    if (value !== undefined) this.#live++
    this.#slots.set(op.key, { stamp, value })
    return { key: op.key, value: value ?? null, op: op.op }
  }

  get (key: string): JsonValue | undefined {
    return this.#slots.get(key)?.value
  }

  /** Live entries, sorted by key, optionally only those whose key starts with `prefix`. */
  entries (prefix = ''): Array<[string, JsonValue]> {
    const out: Array<[string, JsonValue]> = []
    for (const [key, slot] of this.#slots) {
      if (slot.value !== undefined && key.startsWith(prefix)) out.push([key, slot.value])
    }
    return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  }

  get size (): number {
    return this.#live
  }
}
