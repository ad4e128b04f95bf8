/**
 * Per-device quotas (DESIGN property 11): what one device's writes may make every peer
 * hold in memory. They are account parameters, so every peer applies the same numbers,
 * and a device's verdicts depend only on its own writes to the log (their set, not the
 * order they arrived in): its writes are taken in a canonical order, by Lamport time then
 * entry hash, and each counts iff the device stays within its quotas after it (or holds
 * no more than before it). Another
 * device's writes never change them, so no one can use up someone else's quota.
 *
 * - `writes`: only the first writes of a device in an epoch's log are considered (a put
 *   or a del is one, a carry op one per record and at least one); everything after them is ignored. A log
 *   ends at every rotation or compaction, which starts the count again.
 * - `keys` and `liveBytes`: the keys with a value that a device's counted writes hold,
 *   and the estimated memory of all they hold (a deleted key's tombstone stays in the
 *   index: it costs bytes), counting what the epoch's snapshot holds of its earlier
 *   writes: a new epoch gives no fresh room.
 *
 * Browser-ready.
 */
import { InvalidArgumentError, QuotaExceededError } from '../errors.ts'
import { compareStamps, type Stamp } from './kv-index.ts'
import { jsonCost, type JsonValue } from './limits.ts'

export interface Quotas {
  /** Estimated bytes of memory a device's counted writes hold at once (see `writeCost`). */
  liveBytes: number
  /** Keys with a value that a device's counted writes hold at once (deleted ones cost only bytes). */
  keys: number
  /** Writes of a device considered per epoch log (the write rate: a log ends at each rotation). */
  writes: number
}

/**
 * 128 MiB and 1,000,000 keys: room for a 100,000-key account of ~200-byte values (about
 * 70 MiB as counted here) on one device, far more than a person's settings and notes.
 * 100,000 writes per epoch log: a write every 30 s for a month between rotations, so an
 * honest app that saves often does not meet it (at the limit its writes fail until an
 * admin compacts). The bound a hostile member can make a peer hold: 128 MiB of values
 * plus the key and stamp of 100,000 writes (~35 MiB with short keys, ~240 MiB with
 * 1 KiB ones); an account that fears a hostile member sets lower numbers at create.
 */
export const DEFAULT_QUOTAS: Readonly<Quotas> = Object.freeze({ liveBytes: 128 * 1024 * 1024, keys: 1_000_000, writes: 100_000 })

const QUOTA_MAX: Readonly<Quotas> = Object.freeze({ liveBytes: 2 ** 40, keys: 100_000_000, writes: 100_000_000 })

/** Checks quota parameters (given at create, or read from an account's parameters). */
export const checkQuotas = (v: unknown): Quotas => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidArgumentError('quotas must be an object { liveBytes, keys, writes }')
  const o = v as Record<string, unknown>
  const out: Partial<Quotas> = {}
  for (const name of ['liveBytes', 'keys', 'writes'] as const) {
    const n = o[name]
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1 || n > QUOTA_MAX[name]) {
      throw new InvalidArgumentError(`quotas.${name} must be an integer from 1 to ${QUOTA_MAX[name]}`)
    }
    out[name] = n
  }
  return out as Quotas
}

/** An account's quotas: its parameters' own, else the defaults (accounts made before quotas). */
export const quotasOf = (params: { quotas?: Quotas }): Quotas => params.quotas ?? { ...DEFAULT_QUOTAS }

/** What one slot costs besides its key and value: the slot, its stamp's strings, map entries. */
export const SLOT_OVERHEAD = 256
/**
 * A generous estimate of the memory a parsed JSON value holds: two bytes a character
 * and NODE_COST for each node (src/store/limits.ts, jsonCost). JSON text alone would
 * undercount: `[{},{},...]` takes 3 bytes of text but some 40 bytes of memory per element.
 */
export const valueCost = (value: JsonValue): number => jsonCost(value)

/**
 * The cost of a write of `key` (value undefined: a del, which leaves a tombstone).
 * `measured`: the value's cost as its decoder found it (src/store/codec.ts, RecordCosts), if any.
 */
export const writeCost = (key: string, value: JsonValue | undefined, measured?: number): number =>
  SLOT_OVERHEAD + 2 * key.length + (value === undefined ? 0 : measured !== undefined && measured >= 0 ? measured : valueCost(value))

/** Where a write's value can be read again: the entry, and the record's index in it (-1: the op's own put/del). */
export interface WriteRef { hash: string, index: number }

/** One write of a device as its ledger keeps it: no value (the index holds the counted ones). */
export interface Write { key: string, stamp: Stamp, cost: number, ref: WriteRef, /** false: a del (a tombstone) */ live: boolean }

/**
 * One entry of a device: its place in the canonical order, and its writes in order.
 * A batch part (src/store/batches.ts) uses `weight` writes of the quota (its records)
 * where it stands, whole or not; the last part of a whole batch holds all the batch's
 * writes, `atomic`: they count together or not at all.
 */
export interface LedgerOp { time: number, hash: string, writes: Write[], weight?: number, atomic?: boolean }

/** What an op uses of the writes quota: one per write, and at least one (an empty carry too). */
const weight = (op: LedgerOp): number => op.weight ?? Math.max(1, op.writes.length)

const compareOps = (a: LedgerOp, b: LedgerOp): number =>
  a.time !== b.time ? (a.time < b.time ? -1 : 1) : a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0

export interface QuotaUsage { writes: number, keys: number, bytes: number }

/** A device ledger as a checkpoint keeps it: its considered ops, the first op cut off, the snapshot's records. */
export interface LedgerDump { ops: LedgerOp[], cutoff: LedgerOp | undefined, base: Write[], best: Array<[number, number]>, usage: QuotaUsage }

/**
 * What adding an op did: ignored (past the considered writes); appended at the end of
 * the order (`counted`: its writes that now hold their key for this device, in order);
 * or inserted before others, so every verdict was judged again (`changed`: the keys
 * whose counted write of this device changed).
 */
export type LedgerResult =
  | { kind: 'ignored' }
  | { kind: 'appended', counted: Write[] }
  | { kind: 'replayed', changed: Set<string> }

/**
 * One device's writes to one epoch's log and their verdicts, on top of what the epoch's
 * snapshot holds of its earlier writes (always counted, and in its live quotas: a new
 * epoch gives no fresh room). Memory: the considered writes only (at most
 * `quotas.writes`) and the snapshot's slots of this device, each its key and stamp, no value.
 */
export class DeviceLedger {
  readonly #quotas: Quotas
  /** Considered ops in canonical order. */
  #ops: LedgerOp[] = []
  #writes = 0
  /** The first op that did not fit: it and every later op are ignored, whatever arrives. */
  #cutoff: LedgerOp | undefined
  /** The snapshot's records of this device's writes, by key. */
  readonly #base = new Map<string, Write>()
  /**
   * For each key, this device's counted write that holds it (the highest stamp). The same
   * Map as `#base` while it holds nothing else (a new device applying a snapshot: 100,000
   * keys kept once, not twice); copied before it first differs (`#ownBest`).
   */
  #best: Map<string, Write> = this.#base
  #bytes = 0
  /** How many of `#best` hold a value. */
  #keys = 0

  constructor (quotas: Quotas) { this.#quotas = quotas }

  usage (): QuotaUsage { return { writes: this.#writes, keys: this.#keys, bytes: this.#bytes } }

  /**
   * What a checkpoint keeps of this ledger (src/store/checkpoint.ts): its ops, cutoff and
   * snapshot records, and its verdicts (each key's counted write, as its place: op and
   * write, op -1 for a snapshot record), so a restore judges nothing again.
   */
  dump (): LedgerDump {
    const base = [...this.#base.values()]
    // Holding the snapshot's records only (one Map): each is its key's counted write, in order.
    if (this.#best === this.#base) return { ops: [...this.#ops], cutoff: this.#cutoff, base, best: base.map((_, j): [number, number] => [-1, j]), usage: this.usage() }
    const places = new Map<Write, [number, number]>()
    base.forEach((w, j) => places.set(w, [-1, j]))
    this.#ops.forEach((o, i) => o.writes.forEach((w, j) => places.set(w, [i, j])))
    const best: Array<[number, number]> = []
    for (const w of this.#best.values()) {
      const place = places.get(w)
      if (place !== undefined) best.push(place)
    }
    // A copy of the list of ops: a checkpoint is encoded from this while more ops come (an op itself never changes).
    return { ops: [...this.#ops], cutoff: this.#cutoff, base, best, usage: this.usage() }
  }

  /** A ledger as `dump()` left it (a checkpoint this device sealed: trusted as written). */
  static restore (quotas: Quotas, dump: LedgerDump): DeviceLedger {
    const ledger = new DeviceLedger(quotas)
    for (const w of dump.base) ledger.#base.set(w.key, w)
    ledger.#best = new Map()
    ledger.#ops = dump.ops
    ledger.#cutoff = dump.cutoff
    for (const [i, j] of dump.best) {
      const w = i < 0 ? dump.base[j] : dump.ops[i]?.writes[j]
      if (w !== undefined) ledger.#best.set(w.key, w)
    }
    ledger.#writes = dump.usage.writes
    ledger.#bytes = dump.usage.bytes
    ledger.#keys = dump.usage.keys
    return ledger
  }

  /** This device's counted write holding `key`. */
  best (key: string): Write | undefined { return this.#best.get(key) }

  /**
   * Would a write of `key` costing `cost` (`live` false: a del), made after every op of
   * this device, count? Throws QuotaExceededError naming the quota it would pass (the
   * writer's own check).
   */
  check (key: string, cost: number, live: boolean): void {
    const q = this.#quotas
    if (this.#cutoff !== undefined || this.#writes + 1 > q.writes) {
      throw new QuotaExceededError(`this device has made ${this.#writes} writes to this epoch's log; the quota is ${q.writes} (a rotation starts a new log)`)
    }
    const held = this.#best.get(key)
    if (this.#addsKey(held, live) && this.#keys + 1 > q.keys) throw new QuotaExceededError(`this device holds ${this.#keys} keys; the quota is ${q.keys}`)
    const bytes = this.#bytes - (held?.cost ?? 0) + cost
    if (bytes > q.liveBytes && bytes > this.#bytes) throw new QuotaExceededError(`this device's writes would hold ${bytes} bytes; the quota is ${q.liveBytes}`)
  }

  /**
   * Adds the snapshot's records of this device's earlier writes: they count whatever
   * the quotas, and take room from its writes to this log (judged again if there are some).
   */
  addBase (writes: Write[]): LedgerResult {
    if (this.#best === this.#base && this.#ops.length === 0) return this.#addSharedBase(writes)
    this.#ownBest()
    const fresh = writes.filter((w) => {
      const held = this.#base.get(w.key)
      if (held !== undefined && compareStamps(held.stamp, w.stamp) >= 0) return false
      this.#base.set(w.key, w)
      return true
    })
    if (fresh.length === 0) return { kind: 'ignored' }
    if (this.#ops.length > 0) return { kind: 'replayed', changed: this.#replay() }
    const counted = fresh.filter((w) => this.#holdBase(w))
    return { kind: 'appended', counted }
  }

  /** addBase while `#best` is `#base` and no op is here: each newer record is held, in one Map. */
  #addSharedBase (writes: Write[]): LedgerResult {
    const counted: Write[] = []
    for (const w of writes) {
      const held = this.#base.get(w.key)
      if (held !== undefined && compareStamps(held.stamp, w.stamp) >= 0) continue
      this.#base.set(w.key, w)
      this.#count(w, held)
      counted.push(w)
    }
    return counted.length === 0 ? { kind: 'ignored' } : { kind: 'appended', counted }
  }

  /** Gives `#best` a Map of its own before it changes apart from `#base`. */
  #ownBest (): void {
    if (this.#best === this.#base) this.#best = new Map(this.#base)
  }

  add (op: LedgerOp): LedgerResult {
    if (this.#cutoff !== undefined && compareOps(op, this.#cutoff) >= 0) return { kind: 'ignored' }
    const last = this.#ops.at(-1)
    if (last === undefined || compareOps(last, op) < 0) {
      if (this.#writes + weight(op) > this.#quotas.writes) {
        this.#cutoff = op
        return { kind: 'ignored' }
      }
      this.#ops.push(op)
      this.#writes += weight(op)
      return { kind: 'appended', counted: this.#judgeOp(op) }
    }
    if (this.#ops.some((o) => o.hash === op.hash)) return { kind: 'ignored' }
    return { kind: 'replayed', changed: this.#replay(op) }
  }

  /** Is op `hash` among the considered ones (within the writes quota)? One that is not never will be. */
  considers (hash: string): boolean { return this.#ops.some((o) => o.hash === hash) }

  /**
   * Gives the considered op `hash` these writes, counted together or not at all (a
   * batch's, when it is whole; none: it was voided). An op past the writes quota, or
   * not here, takes none: its batch does not count.
   */
  setWrites (hash: string, writes: Write[]): LedgerResult {
    const i = this.#ops.findIndex((o) => o.hash === hash)
    const op = this.#ops[i]
    if (op === undefined) return { kind: 'ignored' }
    const next: LedgerOp = { ...op, writes, weight: weight(op), atomic: true }
    this.#ops[i] = next
    // The last op, which counted nothing so far: judged on top of the others, as if it came now.
    if (i === this.#ops.length - 1 && op.writes.length === 0) return { kind: 'appended', counted: this.#judgeOp(next) }
    return { kind: 'replayed', changed: this.#replay() }
  }

  /**
   * Would these writes (`live` false: a del), made together after every op of this
   * device, count? The writer's own check before a batch: they would count all or none.
   */
  checkMany (items: Array<{ key: string, cost: number, live: boolean }>): void {
    const q = this.#quotas
    if (this.#cutoff !== undefined || this.#writes + Math.max(1, items.length) > q.writes) {
      throw new QuotaExceededError(`this batch of ${items.length} writes would pass this device's writes to this epoch's log (${this.#writes} made; the quota is ${q.writes}; a rotation starts a new log)`)
    }
    const mine = new Map<string, { cost: number, live: boolean }>()
    let bytes = this.#bytes
    let keys = this.#keys
    for (const item of items) {
      const held = mine.get(item.key) ?? this.#best.get(item.key)
      const after = bytes - (held?.cost ?? 0) + item.cost
      if (after > q.liveBytes && after > bytes) throw new QuotaExceededError(`this batch would make this device's writes hold ${after} bytes; the quota is ${q.liveBytes}`)
      if (item.live && held?.live !== true && keys + 1 > q.keys) throw new QuotaExceededError(`this batch would make this device hold ${keys + 1} keys; the quota is ${q.keys}`)
      keys += (item.live ? 1 : 0) - (held?.live === true ? 1 : 0)
      bytes = after
      mine.set(item.key, item)
    }
  }

  /** Judges an op's writes: each on its own, or (atomic) all of them or none. Returns those that now hold their key. */
  #judgeOp (op: LedgerOp): Write[] {
    if (op.atomic !== true) return op.writes.filter((w) => this.#judge(w))
    const done: Array<[Write, Write | undefined]> = []
    for (const w of op.writes) {
      const held = this.#best.get(w.key)
      if (this.#judge(w)) done.push([w, held])
      else if (held === undefined || compareStamps(held.stamp, w.stamp) < 0) {
        // It did not fit: take back what the op's earlier writes took.
        for (const [x, before] of done.reverse()) this.#unhold(x, before)
        return []
      }
    }
    return done.map(([w]) => w)
  }

  #unhold (w: Write, before: Write | undefined): void {
    this.#ownBest()
    if (before === undefined) this.#best.delete(w.key)
    else this.#best.set(w.key, before)
    this.#bytes -= w.cost - (before?.cost ?? 0)
    this.#keys -= (w.live ? 1 : 0) - (before?.live === true ? 1 : 0)
  }

  /**
   * Counts `w` if it fits (updating the usage); true when it now holds its key. A write
   * that does not make the device hold more always fits (it may be over its quota after
   * a snapshot).
   */
  #judge (w: Write): boolean {
    const held = this.#best.get(w.key)
    // An older write of a key this device wrote later changes nothing, and costs nothing.
    if (held !== undefined && compareStamps(held.stamp, w.stamp) >= 0) return false
    const bytes = this.#bytes - (held?.cost ?? 0) + w.cost
    if ((bytes > this.#quotas.liveBytes && bytes > this.#bytes) || (this.#addsKey(held, w.live) && this.#keys + 1 > this.#quotas.keys)) return false
    this.#hold(w, held)
    return true
  }

  /** Does a write (`live`: with a value) over `held` add a key with a value? */
  #addsKey (held: Write | undefined, live: boolean): boolean { return live && held?.live !== true }

  #hold (w: Write, held: Write | undefined): void {
    this.#ownBest()
    this.#best.set(w.key, w)
    this.#count(w, held)
  }

  /** The usage after `w` holds its key in place of `held`. */
  #count (w: Write, held: Write | undefined): void {
    this.#bytes += w.cost - (held?.cost ?? 0)
    this.#keys += (w.live ? 1 : 0) - (held?.live === true ? 1 : 0)
  }

  /** Holds a snapshot record (no quota applies); true when it now holds its key. */
  #holdBase (w: Write): boolean {
    const held = this.#best.get(w.key)
    if (held !== undefined && compareStamps(held.stamp, w.stamp) >= 0) return false
    this.#hold(w, held)
    return true
  }

  /** Inserts `op` (if any) in the order, keeps the ops that fit, and judges every write again. */
  #replay (op?: LedgerOp): Set<string> {
    const all = (op === undefined ? [...this.#ops] : [...this.#ops, op]).sort(compareOps)
    const before = this.#best
    this.#ops = []
    this.#writes = 0
    this.#best = new Map()
    this.#bytes = 0
    this.#keys = 0
    for (const w of this.#base.values()) this.#holdBase(w)
    for (const o of all) {
      if (this.#writes + weight(o) > this.#quotas.writes) {
        // The first op that does not fit: the ones after it are dropped for good.
        if (this.#cutoff === undefined || compareOps(o, this.#cutoff) < 0) this.#cutoff = o
        break
      }
      this.#ops.push(o)
      this.#writes += weight(o)
      this.#judgeOp(o)
    }
    const changed = new Set<string>()
    for (const [key, w] of before) if (this.#best.get(key) !== w) changed.add(key)
    for (const [key, w] of this.#best) if (before.get(key) !== w) changed.add(key)
    return changed
  }
}
