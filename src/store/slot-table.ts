/**
 * The index's slots as a checkpoint keeps them (src/store/checkpoint.ts), read in place:
 * a table of fixed-size records sorted by key (UTF-8 byte order), the strings they name
 * (keys, clock ids, entry hashes) and the values' JSON texts. A lookup is a binary
 * search over the records; nothing is built per key when a checkpoint opens, so an
 * index of 100,000 keys opens in the time it takes to read its bytes. Browser-ready.
 */
import type { JsonValue } from './limits.ts'
import type { RawSlot, Stamp } from './kv-index.ts'
import type { ByteSource } from './byte-source.ts'
import { joinBytes } from '../crypto/bytes.ts'
import { ITEMS_PER_STEP, runSteps, type Steps } from './steps.ts'

/** 32-bit words per record: key (offset, length), stamp (epoch, time high, time low, id offset, id length, hash offset, hash length), value (offset, length). */
export const RECORD_WORDS = 11
/** A value length that marks a deleted slot (a tombstone: its stamp still counts). */
const DELETED = 0xFFFFFFFF
const TWO_32 = 2 ** 32

const encoder = new TextEncoder()
/**
 * A value as a checkpoint keeps it (src/store/checkpoint.ts): its JSON text in the
 * checkpoint's bytes, read (from the file, for a store on disk) and parsed only when
 * the value is. A 100,000-key index opens without reading its values.
 */
export class LazyValue {
  readonly #source: ByteSource
  readonly #start: number
  readonly #end: number
  constructor (source: ByteSource, start: number, end: number) {
    this.#source = source
    this.#start = start
    this.#end = end
  }

  /** The value's JSON text, as bytes. */
  bytes (): Uint8Array { return this.#source.bytes(this.#start, this.#end) }
  /** How many bytes its JSON text takes (nothing is read). */
  get byteLength (): number { return this.#end - this.#start }
  value (): JsonValue { return JSON.parse(decoder.decode(this.bytes())) as JsonValue }
}
const decoder = new TextDecoder()
/** How many decoded stamp strings a table keeps (see SlotTable's #interned). */
const INTERNED_MAX = 4096
const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1

/**
 * Compares two byte strings (UTF-8 byte order; for ASCII the same as JavaScript's string
 * order): `a`'s `length` bytes from `at` (default: all of it), read in place, against `b`.
 */
const compareBytes = (a: Uint8Array, b: Uint8Array, at = 0, length = a.length): number => {
  const n = Math.min(length, b.length)
  for (let i = 0; i < n; i++) {
    const d = (a[at + i] as number) - (b[i] as number)
    if (d !== 0) return d
  }
  return length - b.length
}

export interface SlotTableBytes<Values = Uint8Array> {
  /** RECORD_WORDS 32-bit words per slot, little-endian. */
  table: Uint8Array
  strings: Uint8Array
  values: Values
}

/** Builds the table of `slots` (each key once). Values already held as JSON text are copied as they are. */
export const encodeSlotTable = (slots: Iterable<RawSlot>): SlotTableBytes => runSteps(slotTableSteps(slots))

/** The same, in steps of ITEMS_PER_STEP slots: `slots` and what they hold must not change meanwhile. */
export function * slotTableSteps (slots: Iterable<RawSlot>): Steps<SlotTableBytes> {
  const rows: Array<{ slot: RawSlot, key: Uint8Array }> = []
  for (const slot of slots) {
    rows.push({ slot, key: encoder.encode(slot.key) })
    if (rows.length % ITEMS_PER_STEP === 0) yield
  }
  rows.sort((a, b) => compareBytes(a.key, b.key))
  yield
  const table = new Uint8Array(rows.length * RECORD_WORDS * 4)
  const view = new DataView(table.buffer)
  const set = (word: number, value: number): void => { view.setUint32(word * 4, value, true) }
  const strings: Uint8Array[] = []
  let stringBytes = 0
  const interned = new Map<string, [number, number]>()
  const put = (bytes: Uint8Array): [number, number] => {
    const at: [number, number] = [stringBytes, bytes.length]
    strings.push(bytes)
    stringBytes += bytes.length
    return at
  }
  const intern = (s: string): [number, number] => {
    let at = interned.get(s)
    if (at === undefined) interned.set(s, at = put(encoder.encode(s)))
    return at
  }
  const values: Uint8Array[] = []
  let valueBytes = 0
  for (let i = 0; i < rows.length; i++) {
    if (i > 0 && i % ITEMS_PER_STEP === 0) yield
    const { slot, key } = rows[i] as { slot: RawSlot, key: Uint8Array }
    const w = i * RECORD_WORDS
    const [keyAt, keyLength] = put(key)
    const [idAt, idLength] = intern(slot.stamp.id)
    const [hashAt, hashLength] = intern(slot.stamp.hash)
    const time = slot.stamp.time
    set(w, keyAt)
    set(w + 1, keyLength)
    set(w + 2, slot.stamp.epoch)
    set(w + 3, Math.floor(time / TWO_32))
    set(w + 4, time % TWO_32)
    set(w + 5, idAt)
    set(w + 6, idLength)
    set(w + 7, hashAt)
    set(w + 8, hashLength)
    if (slot.value === undefined) {
      set(w + 10, DELETED)
      continue
    }
    const bytes = slot.value instanceof LazyValue ? slot.value.bytes() : encoder.encode(JSON.stringify(slot.value))
    values.push(bytes)
    set(w + 9, valueBytes)
    set(w + 10, bytes.length)
    valueBytes += bytes.length
  }
  yield
  const joinedStrings = joinBytes(strings, new Uint8Array(stringBytes))
  yield
  return { table, strings: joinedStrings, values: joinBytes(values, new Uint8Array(valueBytes)) }
}

/** A table read in place. Its bytes were authenticated by the store that kept them (this device wrote them). */
export class SlotTable implements Iterable<RawSlot> {
  readonly count: number
  /** Slots that hold a value. */
  readonly live: number
  readonly #words: Uint32Array
  readonly #strings: Uint8Array
  readonly #values: ByteSource

  constructor (bytes: SlotTableBytes<ByteSource>) {
    if (bytes.table.length % (RECORD_WORDS * 4) !== 0) throw new RangeError('the slot table has a partial record')
    // Read as 32-bit words in place when aligned on a little-endian machine (else copied: ~4 MB at 100,000 keys).
    const t = bytes.table
    if (littleEndian) {
      const aligned = t.byteOffset % 4 === 0 ? t : t.slice()
      this.#words = new Uint32Array(aligned.buffer, aligned.byteOffset, aligned.length / 4)
    } else {
      const view = new DataView(t.buffer, t.byteOffset, t.length)
      this.#words = Uint32Array.from({ length: t.length / 4 }, (_, i) => view.getUint32(i * 4, true))
    }
    this.#strings = bytes.strings
    this.#values = bytes.values
    this.count = this.#words.length / RECORD_WORDS
    let live = 0
    for (let i = 0; i < this.count; i++) {
      const w = i * RECORD_WORDS
      const [at, length] = [this.#words[w] as number, this.#words[w + 1] as number]
      if (at + length > this.#strings.length) throw new RangeError('a key lies past the end of the strings')
      const valueLength = this.#words[w + 10] as number
      if (valueLength !== DELETED) {
        if ((this.#words[w + 9] as number) + valueLength > this.#values.length) throw new RangeError('a value lies past the end')
        live++
      }
    }
    this.live = live
  }

  #string (at: number, length: number): Uint8Array { return this.#strings.subarray(at, at + length) }
  #keyBytes (i: number): Uint8Array { const w = i * RECORD_WORDS; return this.#string(this.#words[w] as number, this.#words[w + 1] as number) }

  /** Record i's key against `key` (bytes), read in place (a lookup makes ~17 of these: no subarray each). */
  #compareKey (i: number, key: Uint8Array): number {
    const w = i * RECORD_WORDS
    return compareBytes(this.#strings, key, this.#words[w] as number, this.#words[w + 1] as number)
  }

  /** The first record whose key is not below `key` (bytes). */
  #lowerBound (key: Uint8Array): number {
    let lo = 0
    let hi = this.count
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.#compareKey(mid, key) < 0) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** The record of `key`, or -1. */
  find (key: string): number {
    const bytes = encoder.encode(key)
    const i = this.#lowerBound(bytes)
    return i < this.count && this.#compareKey(i, bytes) === 0 ? i : -1
  }

  key (i: number): string { return decoder.decode(this.#keyBytes(i)) }

  /**
   * Stamps' ids and hashes are stored once each (a batch's thousands of records name one
   * of each): each is decoded once, while at most INTERNED_MAX are held.
   */
  readonly #decoded = new Map<number, string>()
  #interned (at: number, length: number): string {
    // By place and length: an empty string shares its place with the next one.
    const place = at * 65536 + length
    let text = this.#decoded.get(place)
    if (text === undefined) {
      text = decoder.decode(this.#string(at, length))
      if (this.#decoded.size >= INTERNED_MAX) this.#decoded.clear()
      this.#decoded.set(place, text)
    }
    return text
  }

  stamp (i: number): Stamp {
    const w = i * RECORD_WORDS
    const words = this.#words
    return {
      epoch: words[w + 2] as number,
      time: (words[w + 3] as number) * TWO_32 + (words[w + 4] as number),
      id: this.#interned(words[w + 5] as number, words[w + 6] as number),
      hash: this.#interned(words[w + 7] as number, words[w + 8] as number)
    }
  }

  /** The record's value as JSON text (undefined: deleted). */
  value (i: number): LazyValue | undefined {
    const w = i * RECORD_WORDS
    const length = this.#words[w + 10] as number
    if (length === DELETED) return undefined
    const at = this.#words[w + 9] as number
    return new LazyValue(this.#values, at, at + length)
  }

  /** The records whose key starts with `prefix`, as a range [from, to). */
  range (prefix: string): [number, number] {
    const bytes = encoder.encode(prefix)
    const from = this.#lowerBound(bytes)
    let to = from
    while (to < this.count && startsWith(this.#keyBytes(to), bytes)) to++
    return [from, to]
  }

  slot (i: number): RawSlot { return { key: this.key(i), value: this.value(i), stamp: this.stamp(i) } }

  * [Symbol.iterator] (): Iterator<RawSlot> {
    for (let i = 0; i < this.count; i++) yield this.slot(i)
  }
}

const startsWith = (bytes: Uint8Array, prefix: Uint8Array): boolean => {
  if (bytes.length < prefix.length) return false
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false
  return true
}
