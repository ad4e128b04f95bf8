/**
 * A data log's checkpoint: everything its key/value database derives from the log (the
 * index, each device's quota ledger, the writers' ranks, which entries were applied),
 * so an open reads one file instead of replaying the log. The log stays the journal:
 * entries joined after the checkpoint was written (a crash) are applied at open from
 * the log, as when they arrive, and nothing else is read.
 *
 * The bytes: the length of a JSON header (4 bytes, big-endian), the header, then the
 * values' JSON texts one after the other (the header gives each slot's offset and
 * length). Values are parsed only when read (`LazyValue`), so an open builds no value
 * trees. In the header every string (keys, entry hashes, clock ids, signing keys) is in
 * one table, written and held once; slots and writes are flat lists of numbers, which
 * parse fast. The bytes are sealed by the store that keeps them
 * (src/store/state-store.ts): they hold the decrypted data. Browser-ready.
 */
import { utf8Decode, utf8Encode } from '../crypto/bytes.ts'
import { CorruptStateError } from '../errors.ts'
import type { Place } from '../orbit/ranks.ts'
import { LazyValue, type RawSlot } from './kv-index.ts'
import type { LedgerDump, LedgerOp, Write } from './quota.ts'
import type { StateDump } from './kv-state.ts'

export const CHECKPOINT_VERSION = 3

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
}

/** Interns strings: each written once, referred to by its index. */
class Strings {
  readonly list: string[] = []
  readonly #index = new Map<string, number>()
  of (s: string): number {
    let i = this.#index.get(s)
    if (i === undefined) {
      i = this.list.length
      this.list.push(s)
      this.#index.set(s, i)
    }
    return i
  }
}

/** Numbers per slot: key, stamp (epoch, time, id, hash), value start (-1: deleted) and length. */
const SLOT = 7
/** Numbers per write: key, cost, live, ref (hash, index), stamp (epoch, time, id, hash). */
const WRITE = 9

export const encodeCheckpoint = (c: KvCheckpoint): Uint8Array => {
  const t = new Strings()
  const writes = (list: Write[]): number[] => {
    const out: number[] = []
    for (const w of list) out.push(t.of(w.key), w.cost, w.live ? 1 : 0, t.of(w.ref.hash), w.ref.index, w.stamp.epoch, w.stamp.time, t.of(w.stamp.id), t.of(w.stamp.hash))
    return out
  }
  // A batch's op also has its weight in the quota and whether its writes count together (src/store/quota.ts).
  const op = (o: LedgerOp): unknown => [o.time, t.of(o.hash), writes(o.writes), o.weight ?? -1, o.atomic === true ? 1 : 0]
  const ledger = (l: LedgerDump): unknown => ({
    ops: l.ops.map(op), cutoff: l.cutoff === undefined ? null : op(l.cutoff), base: writes(l.base), best: l.best.flat(), usage: l.usage
  })
  // Each live value's JSON text, as held (a value read from a checkpoint is copied as is).
  const values: Uint8Array[] = []
  let at = 0
  const slots: number[] = []
  for (const r of c.state.slots) {
    slots.push(t.of(r.key), r.stamp.epoch, r.stamp.time, t.of(r.stamp.id), t.of(r.stamp.hash))
    if (r.value === undefined) {
      slots.push(-1, 0)
      continue
    }
    const bytes = r.value instanceof LazyValue ? r.value.bytes() : utf8Encode(JSON.stringify(r.value))
    values.push(bytes)
    slots.push(at, bytes.length)
    at += bytes.length
  }
  const body = {
    v: CHECKPOINT_VERSION,
    epoch: c.epoch,
    clean: c.clean,
    heads: c.heads.map((h) => t.of(h)),
    seen: c.seen.map((h) => t.of(h)),
    skipped: c.skipped,
    writes: c.writes,
    snapshotOf: c.snapshotOf ?? null,
    snapshotParts: c.snapshotParts,
    unsettled: c.unsettled,
    slots,
    ledgers: c.state.ledgers.map(([signer, l]) => [t.of(signer), ledger(l)]),
    ignored: c.state.ignored,
    ...(c.state.batches !== undefined ? { batches: c.state.batches } : {}),
    ranks: c.ranks.map(([key, places]) => [t.of(key), places.flatMap((p) => [p.time, t.of(p.hash)])]),
    ...(c.extra !== undefined ? { extra: c.extra } : {})
  }
  const header = utf8Encode(JSON.stringify({ strings: t.list, ...body }))
  const out = new Uint8Array(4 + header.length + at)
  new DataView(out.buffer).setUint32(0, header.length)
  out.set(header, 4)
  let offset = 4 + header.length
  for (const v of values) {
    out.set(v, offset)
    offset += v.length
  }
  return out
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

/** Reads a checkpoint; throws CorruptStateError when it is not one this version wrote (the caller then replays the log). */
export const decodeCheckpoint = (bytes: Uint8Array): KvCheckpoint => {
  if (bytes.length < 4) fail('it is too short')
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0)
  if (4 + headerLength > bytes.length) fail('its header is cut short')
  const blob = bytes.subarray(4 + headerLength)
  let o: Record<string, unknown>
  try {
    o = JSON.parse(utf8Decode(bytes.subarray(4, 4 + headerLength), 'checkpoint')) as Record<string, unknown>
  } catch (cause) {
    throw new CorruptStateError('the checkpoint\'s header is not JSON', { cause })
  }
  if (typeof o !== 'object' || o === null || o.v !== CHECKPOINT_VERSION) fail(`version ${String((o as { v?: unknown } | null)?.v)} is not ${CHECKPOINT_VERSION}`)
  const strings = arr(o.strings, 'strings')
  for (const x of strings) if (typeof x !== 'string') fail('the string table holds a value that is not a string')
  const s = (i: number): string => {
    const v = strings[i]
    return typeof v === 'string' ? v : fail(`string ${i} is not in the table`)
  }
  const epoch = num(o.epoch, 'epoch')
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
  const ledger = (v: unknown): LedgerDump => {
    if (typeof v !== 'object' || v === null) fail('a ledger is not an object')
    const l = v as Record<string, unknown>
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
  const numbers = flat(o.slots, SLOT, 'slots')
  const slots: RawSlot[] = []
  for (let i = 0; i < numbers.length; i += SLOT) {
    const n = (k: number): number => numbers[i + k] as number
    const start = n(5)
    const end = start + n(6)
    if (start >= 0 && (end > blob.length || end < start)) fail('a value lies past the end')
    slots.push({ key: s(n(0)), stamp: { epoch: n(1), time: n(2), id: s(n(3)), hash: s(n(4)) }, value: start < 0 ? undefined : new LazyValue(blob, start, end) })
  }
  const ranks = arr(o.ranks, 'ranks').map((v): [string, Place[]] => {
    const a = arr(v, 'rank')
    const list = flat(a[1], 2, 'places')
    const places: Place[] = []
    for (let i = 0; i < list.length; i += 2) places.push({ time: list[i] as number, hash: s(list[i + 1] as number) })
    return [s(num(a[0], 'rank writer')), places]
  })
  return {
    epoch,
    clean: o.clean === true,
    heads: flat(o.heads, 1, 'heads').map(s),
    seen: flat(o.seen, 1, 'seen').map(s),
    skipped: num(o.skipped, 'skipped'),
    writes: num(o.writes, 'writes'),
    snapshotOf: o.snapshotOf === null ? undefined : num(o.snapshotOf, 'snapshotOf'),
    snapshotParts: flat(o.snapshotParts, 1, 'snapshotParts'),
    unsettled: arr(o.unsettled, 'unsettled').map((k) => str(k, 'key')),
    state: { slots, ledgers: arr(o.ledgers, 'ledgers').map((v): [string, LedgerDump] => { const a = arr(v, 'ledger'); return [s(num(a[0], 'signer')), ledger(a[1])] }), ignored: num(o.ignored, 'ignored'), ...('batches' in o ? { batches: o.batches } : {}) },
    ranks,
    ...('extra' in o ? { extra: o.extra } : {})
  }
}
