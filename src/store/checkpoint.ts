/**
 * A data log's checkpoint: everything its key/value database derives from the log (the
 * index, each device's quota ledger, the writers' ranks, which entries were applied),
 * so an open reads one file instead of replaying the log. The log stays the journal:
 * entries joined after the checkpoint was written (a crash) are applied at open from
 * the log, as when they arrive, and nothing else is read.
 *
 * The bytes: the length of a JSON header (4 bytes, big-endian), the header, padding to
 * a multiple of 4, then sections the header gives the place of:
 * - the index's slots as a table read in place (src/store/slot-table.ts): an open
 *   builds nothing per key, and a value is parsed only when read;
 * - each device's quota ledger as its own JSON text, parsed the first time the ledger
 *   is needed (a write, or an entry of that device), not at open; one never needed is
 *   written back as it was read.
 * In the JSON every string (entry hashes, clock ids, signing keys) is in one table,
 * written and held once; lists of writes are flat lists of numbers, which parse fast.
 * The bytes are sealed by the store that keeps them (src/store/state-store.ts): they
 * hold the decrypted data. Browser-ready.
 */
import { joinBytes, utf8Decode, utf8Encode } from '../crypto/bytes.ts'
import { CorruptStateError } from '../errors.ts'
import type { Place } from '../orbit/ranks.ts'
import type { LedgerDump, LedgerOp, QuotaUsage, Write } from './quota.ts'
import type { StateDump } from './kv-state.ts'
import { slotTableSteps, SlotTable } from './slot-table.ts'
import { ITEMS_PER_STEP, runSteps, runStepsPaused, type Steps } from './steps.ts'
import { Strings } from './strings.ts'
import type { ByteSource } from './byte-source.ts'
import type { SplitBlob } from './state-store.ts'

export const CHECKPOINT_VERSION = 4

/**
 * A ledger as a checkpoint holds it: its JSON text, parsed when first needed. Written
 * back as it is while nobody opened it.
 */
export class SealedLedger {
  readonly #source: ByteSource
  readonly #place: [number, number]
  readonly #usage: QuotaUsage
  constructor (source: ByteSource, start: number, end: number, usage: QuotaUsage) {
    this.#source = source
    this.#place = [start, end]
    this.#usage = usage
  }

  /** Its JSON text. */
  bytes (): Uint8Array { return this.#source.bytes(...this.#place) }

  /** What the ledger uses of its device's quotas (kept beside it: no need to open it). */
  usage (): QuotaUsage { return { ...this.#usage } }
  /** Throws CorruptStateError when the text is not a ledger. */
  open (): LedgerDump { return decodeLedger(this.bytes()) }
}

/** A ledger of a checkpoint, opened if it was not. */
export const ledgerOf = (l: LedgerDump | SealedLedger): LedgerDump => l instanceof SealedLedger ? l.open() : l

/** What a data log's checkpoint holds. */
export interface KvCheckpoint {
  epoch: number
  /** The log's heads when it was written: every entry in their past was applied. */
  heads: string[]
  /** Every entry applied (the decodable and the skipped). */
  seen: string[]
  skipped: number
  writes: number
  snapshotOf: number | undefined
  snapshotParts: number[]
  /** Keys still to settle (a value that could not be read yet). */
  unsettled: string[]
  state: StateDump
  ranks: Array<[string, Place[]]>
  /** Set by a close: no process wrote to the log after it (a reader may trust it whole). */
  clean: boolean
  /** Extra state of the database (its batches under way), kept as given. */
  extra?: unknown
  /** Set on one read from a store: lets go of its tail (read until then when values or ledgers are). */
  release?: () => void
}

/** Numbers per write: key, cost, live, ref (hash, index), stamp (epoch, time, id, hash). */
const WRITE = 9

/** A ledger's JSON text, with its own string table; a pause every ITEMS_PER_STEP writes. */
function * ledgerSteps (l: LedgerDump): Steps<Uint8Array> {
  const t = new Strings()
  let done = 0
  function * writes (list: Write[]): Steps<number[]> {
    const out: number[] = []
    for (const w of list) {
      out.push(t.of(w.key), w.cost, w.live ? 1 : 0, t.of(w.ref.hash), w.ref.index, w.stamp.epoch, w.stamp.time, t.of(w.stamp.id), t.of(w.stamp.hash))
      if (++done % ITEMS_PER_STEP === 0) yield
    }
    return out
  }
  // A batch's op also has its weight in the quota and whether its writes count together (src/store/quota.ts).
  function * op (o: LedgerOp): Steps<unknown> {
    return [o.time, t.of(o.hash), yield * writes(o.writes), o.weight ?? -1, o.atomic === true ? 1 : 0]
  }
  const ops: unknown[] = []
  for (const o of l.ops) ops.push(yield * op(o))
  const cutoff = l.cutoff === undefined ? null : yield * op(l.cutoff)
  const base = yield * writes(l.base)
  const body = { ops, cutoff, base, best: l.best.flat(), usage: l.usage }
  return utf8Encode(JSON.stringify({ strings: t.list, ...body }))
}

/** Sections laid out one after the other; each section's [offset, length]. */
class Sections {
  readonly parts: Uint8Array[] = []
  length = 0
  add (bytes: Uint8Array): [number, number] {
    // Each section starts on a multiple of 4 (the slot table is read as 32-bit words).
    const pad = (4 - (this.length % 4)) % 4
    if (pad > 0) this.parts.push(new Uint8Array(pad))
    this.length += pad
    this.parts.push(bytes)
    const at: [number, number] = [this.length, bytes.length]
    this.length += bytes.length
    return at
  }
}

/**
 * A checkpoint's bytes: the head, which an open reads whole (the header, the slot table
 * and its strings), and the tail, read a range at a time when needed (the values and
 * the ledgers).
 */
export const encodeCheckpoint = (c: KvCheckpoint): SplitBlob => runSteps(checkpointSteps(c))

/**
 * The same, with a pause every few thousand keys (src/store/steps.ts): reads and writes go
 * on meanwhile. `c` must be a copy that they do not change: what `dump()`s give (fresh
 * lists of the slots, the ledgers' writes and ops), not the state's own collections.
 */
export const encodeCheckpointPaused = async (c: KvCheckpoint): Promise<SplitBlob> => await runStepsPaused(checkpointSteps(c))

function * checkpointSteps (c: KvCheckpoint): Steps<SplitBlob> {
  const t = new Strings()
  const head = new Sections()
  const tail = new Sections()
  // What is read of `c` outside its dumped lists is read before the first pause.
  const heads = c.heads.map((h) => t.of(h))
  const seen = c.seen.map((h) => t.of(h))
  const ranks = c.ranks.map(([key, places]) => [t.of(key), places.flatMap((p) => [p.time, t.of(p.hash)])])
  const ledgerBytes: Uint8Array[] = []
  for (const [, l] of c.state.ledgers) ledgerBytes.push(l instanceof SealedLedger ? l.bytes() : yield * ledgerSteps(l))
  const table = yield * slotTableSteps(c.state.slots)
  yield
  const places = { table: head.add(table.table), strings: head.add(table.strings), values: tail.add(table.values) }
  const ledgers = c.state.ledgers.map(([signer, l], i) => {
    const { writes, keys, bytes } = l instanceof SealedLedger ? l.usage() : l.usage
    return [signer, ...tail.add(ledgerBytes[i] as Uint8Array), writes, keys, bytes]
  })
  const body = {
    v: CHECKPOINT_VERSION,
    epoch: c.epoch,
    clean: c.clean,
    heads,
    seen,
    skipped: c.skipped,
    writes: c.writes,
    snapshotOf: c.snapshotOf ?? null,
    snapshotParts: c.snapshotParts,
    unsettled: c.unsettled,
    sections: places,
    ledgers,
    ignored: c.state.ignored,
    ...(c.state.batches !== undefined ? { batches: c.state.batches } : {}),
    ranks,
    ...(c.extra !== undefined ? { extra: c.extra } : {})
  }
  const header = utf8Encode(JSON.stringify({ strings: t.list, ...body }))
  const start = 4 + header.length + ((4 - ((4 + header.length) % 4)) % 4)
  const out = new Uint8Array(start + head.length)
  new DataView(out.buffer).setUint32(0, header.length)
  out.set(header, 4)
  yield
  const joinedHead = joinBytes(head.parts, out, start)
  yield
  return { head: joinedHead, tail: joinBytes(tail.parts, new Uint8Array(tail.length)) }
}

const fail = (why: string): never => { throw new CorruptStateError(`the checkpoint is unreadable: ${why}`) }
const arr = (v: unknown, what: string): unknown[] => Array.isArray(v) ? v : fail(`${what} is not a list`)
const num = (v: unknown, what: string): number => typeof v === 'number' && Number.isSafeInteger(v) ? v : fail(`${what} is not an integer`)
const str = (v: unknown, what: string): string => typeof v === 'string' ? v : fail(`${what} is not a string`)
/**
 * A flat list of numbers whose length is a multiple of `stride`. Its items are not
 * checked one by one: the store authenticated the bytes (this device wrote them), and a
 * wrong item would only make a wrong index, never run code.
 */
const flat = (v: unknown, stride: number, what: string): number[] => {
  const a = arr(v, what)
  if (a.length % stride !== 0) fail(`${what} has the wrong length`)
  return a as number[]
}

/** Parses a JSON text with its string table; `s(i)` reads string i. */
const parseTable = (bytes: Uint8Array, what: string): { o: Record<string, unknown>, s: (i: number) => string } => {
  let o: Record<string, unknown>
  try {
    o = JSON.parse(utf8Decode(bytes, what)) as Record<string, unknown>
  } catch (cause) {
    throw new CorruptStateError(`the checkpoint's ${what} is not JSON`, { cause })
  }
  if (typeof o !== 'object' || o === null) fail(`its ${what} is not an object`)
  const strings = arr(o.strings, 'strings')
  for (const x of strings) if (typeof x !== 'string') fail('a string table holds a value that is not a string')
  const s = (i: number): string => {
    const v = strings[i]
    return typeof v === 'string' ? v : fail(`string ${i} is not in the table`)
  }
  return { o, s }
}

/** A ledger's JSON text, parsed (when it is first needed). */
const decodeLedger = (bytes: Uint8Array): LedgerDump => {
  const { o: l, s } = parseTable(bytes, 'ledger')
  const writes = (v: unknown): Write[] => {
    const a = flat(v, WRITE, 'writes')
    const out: Write[] = []
    for (let i = 0; i < a.length; i += WRITE) {
      const n = (k: number): number => a[i + k] as number
      out.push({ key: s(n(0)), cost: n(1), live: n(2) === 1, ref: { hash: s(n(3)), index: n(4) }, stamp: { epoch: n(5), time: n(6), id: s(n(7)), hash: s(n(8)) } })
    }
    return out
  }
  const op = (v: unknown): LedgerOp => {
    const a = arr(v, 'op')
    const o: LedgerOp = { time: num(a[0], 'op time'), hash: s(num(a[1], 'op hash')), writes: writes(a[2]) }
    const weight = num(a[3], 'op weight')
    if (weight >= 0) o.weight = weight
    if (a[4] === 1) o.atomic = true
    return o
  }
  const pairs = flat(l.best, 2, 'best')
  const best: Array<[number, number]> = []
  for (let i = 0; i < pairs.length; i += 2) best.push([pairs[i] as number, pairs[i + 1] as number])
  const u = (l.usage ?? {}) as Record<string, unknown>
  return {
    ops: arr(l.ops, 'ops').map(op),
    cutoff: l.cutoff === null ? undefined : op(l.cutoff),
    base: writes(l.base),
    best,
    usage: { writes: num(u.writes, 'usage'), keys: num(u.keys, 'usage'), bytes: num(u.bytes, 'usage') }
  }
}

/**
 * Reads a checkpoint; throws CorruptStateError when it is not one this version wrote
 * (the caller then replays the log). Its slots stay a table read in place and its
 * ledgers sealed (`ledgerOf` opens one): nothing is built per key.
 */
export const decodeCheckpoint = ({ head: bytes, tail }: { head: Uint8Array, tail: ByteSource }): KvCheckpoint => {
  if (bytes.length < 4) fail('it is too short')
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0)
  if (4 + headerLength > bytes.length) fail('its header is cut short')
  const { o, s } = parseTable(bytes.subarray(4, 4 + headerLength), 'header')
  if (o.v !== CHECKPOINT_VERSION) fail(`version ${String(o.v)} is not ${CHECKPOINT_VERSION}`)
  const area = bytes.subarray(4 + headerLength + ((4 - ((4 + headerLength) % 4)) % 4))
  /** A section's [start, end) in a part of `length` bytes. */
  const place = (v: unknown, length: number, what: string): [number, number] => {
    const [at, size] = flat(v, 2, what)
    if (at === undefined || size === undefined || at < 0 || size < 0 || at + size > length) fail(`its ${what} lies past the end`)
    return [at as number, (at as number) + (size as number)]
  }
  const section = (v: unknown, what: string): Uint8Array => area.subarray(...place(v, area.length, what))
  const places = (o.sections ?? {}) as Record<string, unknown>
  let slots: SlotTable
  try {
    const [start, end] = place(places.values, tail.length, 'values')
    const values: ByteSource = { length: end - start, bytes: (a, b) => tail.bytes(start + a, start + b), close: () => {} }
    slots = new SlotTable({ table: section(places.table, 'slot table'), strings: section(places.strings, 'strings'), values })
  } catch (cause) {
    if (cause instanceof CorruptStateError) throw cause
    throw new CorruptStateError(`the checkpoint is unreadable: ${(cause as Error).message}`, { cause })
  }
  const ledgers = arr(o.ledgers, 'ledgers').map((v): [string, SealedLedger] => {
    const a = arr(v, 'ledger')
    return [str(a[0], 'signer'), new SealedLedger(tail, ...place(a.slice(1, 3), tail.length, 'ledger'), { writes: num(a[3], 'usage'), keys: num(a[4], 'usage'), bytes: num(a[5], 'usage') })]
  })
  const ranks = arr(o.ranks, 'ranks').map((v): [string, Place[]] => {
    const a = arr(v, 'rank')
    const list = flat(a[1], 2, 'places')
    const places: Place[] = []
    for (let i = 0; i < list.length; i += 2) places.push({ time: list[i] as number, hash: s(list[i + 1] as number) })
    return [s(num(a[0], 'rank writer')), places]
  })
  return {
    epoch: num(o.epoch, 'epoch'),
    clean: o.clean === true,
    heads: flat(o.heads, 1, 'heads').map(s),
    seen: flat(o.seen, 1, 'seen').map(s),
    skipped: num(o.skipped, 'skipped'),
    writes: num(o.writes, 'writes'),
    snapshotOf: o.snapshotOf === null ? undefined : num(o.snapshotOf, 'snapshotOf'),
    snapshotParts: flat(o.snapshotParts, 1, 'snapshotParts'),
    unsettled: arr(o.unsettled, 'unsettled').map((k) => str(k, 'key')),
    state: { slots, ledgers, ignored: num(o.ignored, 'ignored'), ...('batches' in o ? { batches: o.batches } : {}) },
    ranks,
    ...('extra' in o ? { extra: o.extra } : {}),
    release: () => { tail.close() }
  }
}
