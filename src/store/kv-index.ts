/**
 * The materialized key/value index: a last-writer-wins register per key, ordered by
 * (epoch of origin, Lamport time, clock id, entry hash). Applying entries in any
 * order, any number of times, gives the same index, so it always agrees with a full
 * replay of the log. A write carried over from an older epoch keeps its original
 * stamp, so it never overwrites a write made after the rotation.
 */
import type { JsonValue } from './limits.ts'

export interface Stamp { epoch: number, time: number, id: string, hash: string }

/**
 * A value as a checkpoint keeps it (src/store/checkpoint.ts): its JSON text in the
 * checkpoint's bytes, parsed only when read. A 100,000-key index opens without building
 * 100,000 value trees, and holds each value in its UTF-8 bytes.
 */
export class LazyValue {
  readonly #blob: Uint8Array
  readonly #start: number
  readonly #end: number
  constructor (blob: Uint8Array, start: number, end: number) {
    this.#blob = blob
    this.#start = start
    this.#end = end
  }

  /** The value's JSON text, as bytes (a view: no copy). */
  bytes (): Uint8Array { return this.#blob.subarray(this.#start, this.#end) }
  value (): JsonValue { return JSON.parse(decoder.decode(this.bytes())) as JsonValue }
}
const decoder = new TextDecoder()

/** A slot's value, parsed. */
export const valueOf = (v: JsonValue | LazyValue | undefined): JsonValue | undefined => v instanceof LazyValue ? v.value() : v

/** A slot as a checkpoint keeps it: its value maybe not parsed. */
export interface RawSlot { key: string, value: JsonValue | LazyValue | undefined, stamp: Stamp }

interface Slot { stamp: Stamp, value: JsonValue | LazyValue | undefined }

export interface Change { key: string, value: JsonValue | null, op: 'put' | 'del' }

/** A slot as it travels in a snapshot or a carry-over: undefined value = deleted. */
export interface SlotRecord { key: string, value: JsonValue | undefined, stamp: Stamp }

export const compareStamps = (a: Stamp, b: Stamp): number => {
  if (a.epoch !== b.epoch) return a.epoch < b.epoch ? -1 : 1
  if (a.time !== b.time) return a.time < b.time ? -1 : 1
  if (a.id !== b.id) return a.id < b.id ? -1 : 1
  if (a.hash !== b.hash) return a.hash < b.hash ? -1 : 1
  return 0
}

export class KvIndex {
  readonly #slots = new Map<string, Slot>()
  #live = 0

  /** Would a write with this stamp change `key`? */
  wins (key: string, stamp: Stamp): boolean {
    const current = this.#slots.get(key)
    return current === undefined || compareStamps(current.stamp, stamp) < 0
  }

  /** Sets `key` to `value` (undefined: deleted) if `stamp` is newer; returns the visible change, or null. */
  apply (key: string, value: JsonValue | undefined, stamp: Stamp): Change | null {
    if (!this.wins(key, stamp)) return null
    const current = this.#slots.get(key)
    if (current?.value !== undefined) this.#live--
    if (value !== undefined) this.#live++
    this.#slots.set(key, { stamp, value })
    return { key, value: value ?? null, op: value === undefined ? 'del' : 'put' }
  }

  /** The stamp of the write `key` holds now (deleted or not). */
  stampOf (key: string): Stamp | undefined {
    return this.#slots.get(key)?.stamp
  }

  /**
   * Sets `key` whatever it holds (undefined `stamp`: no write holds it any more): for a
   * write that stopped counting (a device's quota judged again). Returns the visible change.
   */
  replace (key: string, given: JsonValue | undefined, stamp: Stamp | undefined): Change | null {
    const value = stamp === undefined ? undefined : given
    const before = this.#slots.get(key)
    if (before?.value !== undefined) this.#live--
    if (stamp === undefined) this.#slots.delete(key)
    else {
      this.#slots.set(key, { stamp, value })
      if (value !== undefined) this.#live++
    }
    if (before?.value === undefined && value === undefined) return null
    return { key, value: value ?? null, op: value === undefined ? 'del' : 'put' }
  }

  get (key: string): JsonValue | undefined {
    return valueOf(this.#slots.get(key)?.value)
  }

  /** Live entries, sorted by key, optionally only those whose key starts with `prefix`. */
  entries (prefix = ''): Array<[string, JsonValue]> {
    const out: Array<[string, JsonValue]> = []
    for (const [key, slot] of this.#slots) {
      if (slot.value !== undefined && key.startsWith(prefix)) out.push([key, valueOf(slot.value) as JsonValue])
    }
    return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  }

  /** Every slot, deletions included (what a snapshot must carry so a late older write cannot resurrect a key). */
  records (): SlotRecord[] {
    return [...this.#slots].map(([key, slot]) => ({ key, value: valueOf(slot.value), stamp: slot.stamp }))
  }

  /** Every slot as held, values not parsed (what a checkpoint writes). */
  rawSlots (): RawSlot[] {
    return [...this.#slots].map(([key, slot]) => ({ key, value: slot.value, stamp: slot.stamp }))
  }

  get size (): number {
    return this.#live
  }

  /** Puts back slots saved with `rawSlots()` (into an empty index: a persisted checkpoint, src/store/checkpoint.ts). */
  restore (records: Iterable<RawSlot>): void {
    for (const r of records) {
      // The slot itself: one object per key.
      this.#slots.set(r.key, r)
      if (r.value !== undefined) this.#live++
    }
  }
}
