/**
 * The materialized key/value index: a last-writer-wins register per key, ordered by
 * (epoch of origin, Lamport time, clock id, entry hash). Applying entries in any
 * order, any number of times, gives the same index, so it always agrees with a full
 * replay of the log. A write carried over from an older epoch keeps its original
 * stamp, so it never overwrites a write made after the rotation.
 */
import type { JsonValue } from './limits.ts'
import { LazyValue, SlotTable } from './slot-table.ts'

export interface Stamp { epoch: number, time: number, id: string, hash: string }

export { LazyValue }

/** A slot's value, parsed. */
export const valueOf = (v: JsonValue | LazyValue | undefined): JsonValue | undefined => v instanceof LazyValue ? v.value() : v

/** A slot as a checkpoint keeps it: its value maybe not parsed. */
export interface RawSlot { key: string, value: JsonValue | LazyValue | undefined, stamp: Stamp }

interface Slot { stamp: Stamp, value: JsonValue | LazyValue | undefined }

export interface Change { key: string, value: JsonValue | null, op: 'put' | 'del' }

/** A slot as it travels in a snapshot or a carry-over: undefined value = deleted. */
export interface SlotRecord { key: string, value: JsonValue | undefined, stamp: Stamp }

/**
 * What differs between two indexes, told by the stamps of their live keys' writes (a
 * snapshot or carry keeps a write's stamp, so no value is read to compare): a put for a
 * key whose write is new or another, a del for a key no longer live.
 */
export const changesBetween = (before: Map<string, Stamp>, after: Map<string, Stamp>, valueOf: (key: string) => JsonValue | undefined): Change[] => {
  const changes: Change[] = []
  for (const [key, stamp] of after) {
    const was = before.get(key)
    if (was === undefined || compareStamps(was, stamp) !== 0) changes.push({ key, value: valueOf(key) ?? null, op: 'put' })
  }
  for (const key of before.keys()) if (!after.has(key)) changes.push({ key, value: null, op: 'del' })
  return changes
}

export const compareStamps = (a: Stamp, b: Stamp): number => {
  if (a.epoch !== b.epoch) return a.epoch < b.epoch ? -1 : 1
  if (a.time !== b.time) return a.time < b.time ? -1 : 1
  if (a.id !== b.id) return a.id < b.id ? -1 : 1
  if (a.hash !== b.hash) return a.hash < b.hash ? -1 : 1
  return 0
}

/** The slots of a table not written since, then the written ones (null: none holds the key), whose key starts with `prefix`. */
function * slotsOf (base: SlotTable | undefined, slots: Map<string, Slot | null>, prefix: string): Generator<RawSlot> {
  if (base !== undefined) {
    const [from, to] = base.range(prefix)
    for (let i = from; i < to; i++) {
      const key = base.key(i)
      if (!slots.has(key)) yield { key, value: base.value(i), stamp: base.stamp(i) }
    }
  }
  for (const [key, slot] of slots) if (slot !== null && key.startsWith(prefix)) yield { key, value: slot.value, stamp: slot.stamp }
}

/**
 * The index: a checkpoint's table of slots read in place (src/store/slot-table.ts), if
 * it opened from one, under the slots written since (a Map; null: a slot of the table
 * that no write holds any more). A key is looked up in the Map, then in the table.
 */
export class KvIndex {
  #slots = new Map<string, Slot | null>()
  #base: SlotTable | undefined
  #live = 0

  /** The slot `key` holds now, from the slots written since or from the table. */
  #slot (key: string): Slot | undefined {
    const over = this.#slots.get(key)
    if (over !== undefined) return over ?? undefined
    const i = this.#base?.find(key) ?? -1
    if (i < 0) return undefined
    const base = this.#base as SlotTable
    return { stamp: base.stamp(i), value: base.value(i) }
  }

  /** Sets `key`'s slot (undefined: no write holds it). */
  #set (key: string, slot: Slot | undefined): void {
    if (slot !== undefined) this.#slots.set(key, slot)
    else if (this.#base !== undefined && this.#base.find(key) >= 0) this.#slots.set(key, null)
    else this.#slots.delete(key)
  }

  /** Would a write with this stamp change `key`? */
  wins (key: string, stamp: Stamp): boolean {
    const current = this.#slot(key)
    return current === undefined || compareStamps(current.stamp, stamp) < 0
  }

  /** Sets `key` to `value` (undefined: deleted) if `stamp` is newer; returns the visible change, or null. */
  apply (key: string, value: JsonValue | undefined, stamp: Stamp): Change | null {
    const current = this.#slot(key)
    if (current !== undefined && compareStamps(current.stamp, stamp) >= 0) return null
    if (current?.value !== undefined) this.#live--
    if (value !== undefined) this.#live++
    this.#set(key, { stamp, value })
    return { key, value: value ?? null, op: value === undefined ? 'del' : 'put' }
  }

  /** The stamp of the write `key` holds now (deleted or not). */
  stampOf (key: string): Stamp | undefined {
    return this.#slot(key)?.stamp
  }

  /**
   * Sets `key` whatever it holds (undefined `stamp`: no write holds it any more): for a
   * write that stopped counting (a device's quota judged again). Returns the visible change.
   */
  replace (key: string, given: JsonValue | undefined, stamp: Stamp | undefined): Change | null {
    const value = stamp === undefined ? undefined : given
    const before = this.#slot(key)
    if (before?.value !== undefined) this.#live--
    this.#set(key, stamp === undefined ? undefined : { stamp, value })
    if (stamp !== undefined && value !== undefined) this.#live++
    if (before?.value === undefined && value === undefined) return null
    return { key, value: value ?? null, op: value === undefined ? 'del' : 'put' }
  }

  get (key: string): JsonValue | undefined {
    const over = this.#slots.get(key)
    if (over !== undefined) return valueOf(over?.value)
    const i = this.#base?.find(key) ?? -1
    return i < 0 ? undefined : valueOf(this.#base?.value(i))
  }

  /** Every slot held now, values as held: the table's not written since, then the written ones. */
  #all (prefix = ''): Generator<RawSlot> {
    return slotsOf(this.#base, this.#slots, prefix)
  }

  /** Live entries, sorted by key, optionally only those whose key starts with `prefix`. */
  entries (prefix = ''): Array<[string, JsonValue]> {
    const out: Array<[string, JsonValue]> = []
    for (const slot of this.#all(prefix)) if (slot.value !== undefined) out.push([slot.key, valueOf(slot.value) as JsonValue])
    return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  }

  /** Every slot, deletions included (what a snapshot must carry so a late older write cannot resurrect a key). */
  records (): SlotRecord[] {
    return [...this.#all()].map((slot) => ({ key: slot.key, value: valueOf(slot.value), stamp: slot.stamp }))
  }

  /** The stamp of each live key's write (for `changesBetween`). */
  liveStamps (): Map<string, Stamp> {
    const out = new Map<string, Stamp>()
    for (const slot of this.#all()) if (slot.value !== undefined) out.set(slot.key, slot.stamp)
    return out
  }

  /** Every slot as held, values not parsed (what a checkpoint writes). */
  rawSlots (): RawSlot[] {
    return [...this.#all()]
  }

  /**
   * Every slot as held now, read as it goes: a copy of the slots written since, over the
   * table, which nothing changes. Writes after the call do not show. What a rotation's
   * snapshot parts are written from, a part at a time.
   */
  frozenRecords (): Iterable<RawSlot> {
    // The copy is taken now (a generator's body would run only at its first read), and can
    // be read more than once. A table's values stay unread: a part is cut by their length,
    // and reads them when written.
    const base = this.#base
    const slots = new Map(this.#slots)
    return { [Symbol.iterator]: () => slotsOf(base, slots, '') }
  }

  /**
   * Takes over every slot of `from` (an index left for this one: it is emptied), under the
   * slots this index holds already, each kept where its stamp is newer. O(slots of this
   * index): the other's table and Map are taken as they are.
   */
  adopt (from: KvIndex): void {
    const mine = [...this.#all()]
    this.#base = from.#base
    this.#slots = from.#slots
    this.#live = from.#live
    from.#base = undefined
    from.#slots = new Map()
    from.#live = 0
    for (const r of mine) this.apply(r.key, r.value === undefined ? undefined : valueOf(r.value), r.stamp)
  }

  get size (): number {
    return this.#live
  }

  /** Puts back slots saved with `rawSlots()`, or a checkpoint's table read in place (into an empty index). */
  restore (records: SlotTable | Iterable<RawSlot>): void {
    if (records instanceof SlotTable) {
      this.#base = records
      this.#live += records.live
      return
    }
    for (const r of records) {
      // The slot itself: one object per key.
      this.#slots.set(r.key, r)
      if (r.value !== undefined) this.#live++
    }
  }
}
