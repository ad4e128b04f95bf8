/**
 * Records cut into parts for one log entry each: a rotation's snapshot parts and the
 * writes a move carries forward (browser-ready). A peer cannot tell these entries from
 * a put (the payload is ciphertext), so they must fit the same cap (src/orbit/caps.ts):
 * a part holds at most the JSON of one put at its limits, or a single record.
 */
import { utf8Length } from '../crypto/bytes.ts'
import type { RawSlot } from '../store/kv-index.ts'
import { LazyValue } from '../store/slot-table.ts'
import { MAX_VALUE_BYTES } from '../store/limits.ts'

/** A part holds at most this many records (by default), or about this many bytes of JSON. */
const PART_RECORDS = 5000
const PART_BYTES = MAX_VALUE_BYTES

/** How long a split in turns (partsInTurns) works before it lets other work in (milliseconds). */
const TURN_MS = 8

/** Lets the event loop run what waits (timers, I/O) before going on: setImmediate where there is one (Node), else a timer. */
const nextTurn = (go: () => void): void => {
  const immediate = (globalThis as { setImmediate?: (f: () => void) => unknown }).setImmediate
  if (immediate !== undefined) immediate(go)
  else setTimeout(go, 0)
}

/** What a packed record's stamp adds to its `{"k":...,"v":...}`, besides its four numbers: `,"s":[`, three commas, `]`, and the comma before the next record. */
const STAMP_BYTES = 6 + 3 + 1 + 1

/** The bytes of `text` as a JSON string in a table, with its comma. */
const tableBytes = (text: string): number => utf8Length(JSON.stringify(text)) + 1

const digits = (n: number): number => String(n).length

/** The packed records' frame: `{"ids":[],"hashes":[],"records":[]}`. */
const FRAME_BYTES = 35

/** The bytes of a record's `{"k":...,"v":...}`: a table's value by its stored text's length, unread. */
const ownBytes = (record: RawSlot): number => {
  const { key, value } = record
  if (!(value instanceof LazyValue)) return utf8Length(JSON.stringify(value === undefined ? { k: key } : { k: key, v: value }))
  // `{"k":` + key + `,"v":` + text + `}`
  return 5 + utf8Length(JSON.stringify(key)) + 5 + value.byteLength + 1
}

/** Parts built one record at a time, each counted as its packed form writes it (src/store/codec.ts, packRecords). */
class Splitter<R extends RawSlot> {
  readonly parts: R[][] = []
  #part: R[] = []
  #bytes = FRAME_BYTES
  /** The part's tables so far: each id's and hash's index. */
  #ids = new Map<string, number>()
  #hashes = new Map<string, number>()
  readonly maxRecords: number
  constructor (maxRecords: number) { this.maxRecords = maxRecords }

  /** What the record's stamp adds to the part: its numbers, and its id and hash where the tables lack them. */
  #stampBytes (record: RawSlot): number {
    const { epoch, time, id, hash } = record.stamp
    const i = this.#ids.get(id)
    const j = this.#hashes.get(hash)
    return STAMP_BYTES + digits(epoch) + digits(time) +
      (i !== undefined ? digits(i) : digits(this.#ids.size) + tableBytes(id)) +
      (j !== undefined ? digits(j) : digits(this.#hashes.size) + tableBytes(hash))
  }

  add (record: R): void {
    const own = ownBytes(record)
    let size = own + this.#stampBytes(record)
    if (this.#part.length > 0 && (this.#part.length >= this.maxRecords || this.#bytes + size > PART_BYTES)) {
      this.parts.push(this.#part)
      this.#part = []
      this.#bytes = FRAME_BYTES
      this.#ids = new Map()
      this.#hashes = new Map()
      size = own + this.#stampBytes(record)
    }
    this.#part.push(record)
    if (!this.#ids.has(record.stamp.id)) this.#ids.set(record.stamp.id, this.#ids.size)
    if (!this.#hashes.has(record.stamp.hash)) this.#hashes.set(record.stamp.hash, this.#hashes.size)
    this.#bytes += size
  }

  finish (): R[][] {
    this.parts.push(this.#part)
    return this.parts
  }
}

/** Splits the records into parts small enough for one log entry each (at least one part). */
export const recordParts = <R extends RawSlot>(records: R[], maxRecords = PART_RECORDS): R[][] => {
  const splitter = new Splitter<R>(maxRecords)
  for (const record of records) splitter.add(record)
  return splitter.finish()
}

/**
 * The same split, for records read as they go (a state of 100,000 keys: ~1-2 s of value
 * reads), in turns of a few milliseconds: the device answers its peers and its person
 * meanwhile.
 */
export const partsInTurns = async <R extends RawSlot>(records: Iterable<R>, maxRecords = PART_RECORDS): Promise<R[][]> => {
  const splitter = new Splitter<R>(maxRecords)
  let turn = Date.now()
  for (const record of records) {
    splitter.add(record)
    if (Date.now() - turn >= TURN_MS) {
      await new Promise<void>((resolve) => { nextTurn(resolve) })
      turn = Date.now()
    }
  }
  return splitter.finish()
}
