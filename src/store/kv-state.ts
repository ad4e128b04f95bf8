/**
 * The key/value state of one epoch's log under the account's quotas (src/store/quota.ts):
 * the index that `get` reads, a ledger per writing device, and the epoch's starting
 * snapshot. A slot holds the newest write (by stamp) among the writes that count: each
 * device's counted writes, and the snapshot's records. The same set of entries gives
 * the same state in any order: when a back-dated entry changes which of its device's
 * writes count, the keys concerned are settled again from what counts now.
 *
 * Signers: a write belongs to the key that signed its entry (checked by the log), never
 * to the clock id it claims, so no device can spend another's quota. The snapshot counts
 * only from the device whose rotation started the epoch (any other device's snapshot
 * parts are ignored); each of its records is held by the device that made the write
 * (its stamp's clock id: for a put or del, its signer), and takes room in that device's
 * quotas, so a device holds no more in a new epoch than it held in the last.
 * Browser-ready.
 */
import { Batches, type WholeBatch } from './batches.ts'
import { fromWire, type BatchRecord, type DataOp, type WireRecord } from './codec.ts'
import { compareStamps, KvIndex, type Change, type RawSlot, type SlotRecord, type Stamp } from './kv-index.ts'
import type { JsonValue } from './limits.ts'
import { SealedLedger } from './checkpoint.ts'
import type { SlotTable } from './slot-table.ts'
import { DeviceLedger, writeCost, type LedgerDump, type QuotaUsage, type Quotas, type Write, type WriteRef } from './quota.ts'

/** What the state needs of a log entry: its hash, who signed it, and its clock. */
export interface EntryMeta { hash: string, signer: string, clock: { id: string, time: number } }

/** Reads the value of a write again from the log (undefined: a del or a deleted record). */
export type ReadValue = (ref: WriteRef) => Promise<JsonValue | undefined>

export interface KvStateOptions {
  epoch: number
  quotas: Quotas
  /** The signing key of the device whose rotation started this epoch (undefined: epoch 0, or not known). */
  starter: string | undefined
}

/** What applying one entry did: the visible changes, the keys to settle, and whether it was a counted snapshot part. */
export interface Applied { changes: Change[], settle: string[], snapshot: boolean, ignored: boolean, /** a batch this part made whole: its records are to be read back and counted (countBatch) */ whole?: WholeBatch }

/** A part of a whole batch, read back from the log: its entry, and its records' keys and costs (not their values). */
export interface BatchPart { hash: string, time: number, writes: Array<{ key: string, cost: number, live: boolean }> }

/** What countBatch needs of a part's records: no values (those that count are read again, as settle does). */
export const batchWrites = (records: BatchRecord[]): BatchPart['writes'] =>
  records.map((r) => ({ key: r.k, cost: writeCost(r.k, r.v), live: r.v !== undefined }))

interface Candidate { stamp: Stamp, ref: WriteRef }

/** A state as a checkpoint keeps it: its slots as a list or a table read in place, its ledgers dumped or still sealed. */
export interface StateDump { slots: Iterable<RawSlot> | SlotTable, ledgers: Array<[string, LedgerDump | SealedLedger]>, ignored: number, /** Batches.toJSON() */ batches?: unknown }

export class KvState {
  readonly index = new KvIndex()
  readonly #options: KvStateOptions
  readonly #ledgers = new Map<string, DeviceLedger>()
  /** Ledgers of a checkpoint not needed yet: opened by `#ledger` (a write or an entry of that device), or all at once by `#opened`. */
  readonly #sealed = new Map<string, SealedLedger>()
  /** Parts of batch writes until their batch is whole (kept in a checkpoint with toJSON/fromJSON). */
  batches = new Batches()
  #ignored = 0

  constructor (options: KvStateOptions) { this.#options = options }

  /** Entries that counted for nothing (another device's snapshot, a forged clock id, past a device's writes quota). */
  get ignored (): number { return this.#ignored }

  /** What a checkpoint keeps (src/store/checkpoint.ts): the index's slots, each device's ledger, the ignored count. */
  dump (): StateDump {
    const ledgers: StateDump['ledgers'] = [...this.#ledgers].map(([signer, l]) => [signer, l.dump()])
    // The slots as they are now (a copy of the Map of slots written since the table, ~10 ms at 100,000 keys), read as a checkpoint is encoded.
    return { slots: this.index.frozenRecords(), ledgers: [...ledgers, ...this.#sealed], ignored: this.#ignored, batches: this.batches.toJSON() }
  }

  /** A state as `dump()` left it. */
  static restore (options: KvStateOptions, dump: StateDump): KvState {
    const state = new KvState(options)
    state.index.restore(dump.slots)
    for (const [signer, l] of dump.ledgers) {
      if (l instanceof SealedLedger) state.#sealed.set(signer, l)
      else state.#ledgers.set(signer, DeviceLedger.restore(options.quotas, l))
    }
    state.#ignored = dump.ignored
    if (dump.batches !== undefined) state.batches = Batches.fromJSON(dump.batches)
    return state
  }

  usage (signer: string): QuotaUsage {
    return this.#ledgers.get(signer)?.usage() ?? this.#sealed.get(signer)?.usage() ?? { writes: 0, keys: 0, bytes: 0 }
  }

  /** The writer's own check before it writes `key` (value undefined: a del): throws QuotaExceededError. */
  check (signer: string, key: string, value: JsonValue | undefined): void {
    this.#ledger(signer).check(key, writeCost(key, value), value !== undefined)
  }

  apply (entry: EntryMeta, op: DataOp): Applied {
    const changes: Change[] = []
    const push = (c: Change | null): void => { if (c !== null) changes.push(c) }
    const { epoch, starter } = this.#options
    if (op.op === 'snapshot' && starter !== undefined) {
      if (entry.signer !== starter) return this.#ignore()
      // Each record is held by the device that wrote it (its stamp's clock id), in its quotas.
      const byWriter = new Map<string, Write[]>()
      const records = op.records
      // The records of one write (a batch's) share one stamp object.
      let last: WireRecord['s'] | undefined
      let stamp: Stamp | undefined
      for (let index = 0; index < records.length; index++) {
        const { k: key, v: value, s } = records[index] as WireRecord
        if (s[0] > epoch) continue
        if (stamp === undefined || last === undefined || s[1] !== last[1] || s[3] !== last[3] || s[2] !== last[2] || s[0] !== last[0]) {
          stamp = { epoch: s[0], time: s[1], id: s[2], hash: s[3] }
          last = s
        }
        const w: Write = { key, stamp, cost: writeCost(key, value, op.costs?.[index]), ref: { hash: entry.hash, index }, live: value !== undefined }
        const mine = byWriter.get(s[2])
        if (mine === undefined) byWriter.set(s[2], [w])
        else mine.push(w)
      }
      const settle: string[] = []
      for (const [writer, writes] of byWriter) {
        const result = this.#ledger(writer).addBase(writes)
        if (result.kind === 'replayed') settle.push(...result.changed)
        if (result.kind === 'appended') for (const w of result.counted) push(this.index.apply(w.key, records[w.ref.index]?.v, w.stamp))
      }
      return { changes, settle, snapshot: true, ignored: false }
    }
    if (op.op === 'batch') return this.#applyPart(entry, op)
    const records = this.#recordsOf(entry, op)
    // A put or del whose clock names another device than its signer: no honest writer makes one.
    if (records === undefined) return this.#ignore()
    const values = new Map<Write, JsonValue | undefined>()
    const writes: Write[] = []
    records.forEach((r, index) => {
      // A carried record claiming a later epoch than this log's: no honest carry makes one.
      if (r.stamp.epoch > epoch) return
      const w = { key: r.key, stamp: r.stamp, cost: writeCost(r.key, r.value, op.op === 'carry' ? op.costs?.[index] : undefined), ref: { hash: entry.hash, index: op.op === 'put' || op.op === 'del' ? -1 : index }, live: r.value !== undefined }
      values.set(w, r.value)
      writes.push(w)
    })
    const result = this.#ledger(entry.signer).add({ time: entry.clock.time, hash: entry.hash, writes })
    if (result.kind === 'ignored') return this.#ignore()
    if (result.kind === 'replayed') return { changes, settle: [...result.changed], snapshot: false, ignored: false }
    for (const w of result.counted) push(this.index.apply(w.key, values.get(w), w.stamp))
    return { changes, settle: [], snapshot: false, ignored: false }
  }

  /**
   * Settles these keys together: every value they need is read first, then all are set
   * at once, so a reader never sees some of them (a batch's keys show whole). Returns the
   * visible changes, and the keys whose value could not be read (left to try again).
   */
  async settleMany (keys: string[], read: ReadValue): Promise<{ changes: Change[], failed: Set<string> }> {
    const changes: Change[] = []
    const failed = new Set<string>()
    let todo = keys
    while (todo.length > 0) {
      const planned: Array<{ key: string, winner: Candidate | undefined, value: JsonValue | undefined }> = []
      for (const key of todo) {
        const winner = this.#winner(key)
        const held = this.index.stampOf(key)
        if (winner !== undefined && held !== undefined && compareStamps(held, winner.stamp) === 0) continue
        try {
          planned.push({ key, winner, value: winner === undefined ? undefined : await read(winner.ref) })
        } catch {
          failed.add(key)
        }
      }
      // Another entry may have changed what counts while the values were read: those go round again.
      todo = []
      for (const { key, winner, value } of planned) {
        if (this.#winner(key) !== winner) todo.push(key)
        else {
          const change = winner === undefined ? (this.index.stampOf(key) === undefined ? null : this.index.replace(key, undefined, undefined)) : this.index.replace(key, value, winner.stamp)
          if (change !== null) changes.push(change)
        }
      }
    }
    return { changes, failed }
  }

  /**
   * Sets `key` to the newest write that counts now, reading its value from the log if
   * the index does not hold it. Returns the visible change, or null.
   */
  async settle (key: string, read: ReadValue): Promise<Change | null> {
    for (;;) {
      const winner = this.#winner(key)
      const held = this.index.stampOf(key)
      if (winner === undefined) return held === undefined ? null : this.index.replace(key, undefined, undefined)
      if (held !== undefined && compareStamps(held, winner.stamp) === 0) return null
      const value = await read(winner.ref)
      // Another entry may have changed what counts while the value was read: look again.
      if (this.#winner(key) === winner) return this.index.replace(key, value, winner.stamp)
    }
  }

  /** The writer's own check before a batch (value undefined: a del): all of it would count, or QuotaExceededError. */
  checkMany (signer: string, items: Array<{ key: string, value: JsonValue | undefined }>): void {
    this.#ledger(signer).checkMany(items.map(({ key, value }) => ({ key, cost: writeCost(key, value), live: value !== undefined })))
  }

  /**
   * A batch part: it takes its records' room in its signer's writes quota where it
   * stands (whether its batch completes or not), and counts nothing until its batch is
   * whole (`whole`: then its records are read back and given to countBatch).
   */
  #applyPart (entry: EntryMeta, op: Extract<DataOp, { op: 'batch' }>): Applied {
    // A clock naming another device than the signer: no honest writer makes one.
    if (entry.clock.id !== entry.signer) return this.#ignore()
    const ledger = this.#ledger(entry.signer)
    const added = ledger.add({ time: entry.clock.time, hash: entry.hash, writes: [], weight: op.records.length })
    const settle = added.kind === 'replayed' ? [...added.changed] : []
    const verdict = this.batches.add(entry.signer, op.id, { hash: entry.hash, time: entry.clock.time }, op.part, op.of)
    if (verdict.kind === 'void' && verdict.last !== undefined) {
      // A part contradicting a batch that counted: it stops counting.
      const undone = ledger.setWrites(verdict.last.hash, [])
      if (undone.kind === 'replayed') settle.push(...undone.changed)
    }
    if (added.kind === 'ignored') this.#ignored++
    return { changes: [], settle, snapshot: false, ignored: added.kind === 'ignored', ...(verdict.kind === 'whole' ? { whole: verdict.batch } : {}) }
  }

  /**
   * Can this whole batch count (its last part is within its signer's writes quota)? If
   * not, it never can: its parts need not be read back (countBatch with none).
   */
  considers (batch: WholeBatch): boolean { return this.#ledger(batch.signer).considers(batch.last.hash) }

  /**
   * Counts a whole batch from its parts as read back (in part order): one op of its
   * signer at its last part, every record stamped by the part entry that holds it,
   * all of them counting or none. Nothing if a part since made it void. Returns the
   * keys to settle (their values are read from the log then, and told all at once).
   */
  countBatch (batch: WholeBatch, parts: BatchPart[]): Applied {
    const none: Applied = { changes: [], settle: [], snapshot: false, ignored: false }
    if (!this.batches.isReady(batch)) return none
    this.batches.counted(batch)
    const writes: Write[] = []
    for (const part of parts) {
      const stamp: Stamp = { epoch: this.#options.epoch, time: part.time, id: batch.signer, hash: part.hash }
      part.writes.forEach((w, index) => { writes.push({ ...w, stamp, ref: { hash: part.hash, index } }) })
    }
    const result = this.#ledger(batch.signer).setWrites(batch.last.hash, writes)
    if (result.kind === 'replayed') return { ...none, settle: [...result.changed] }
    if (result.kind === 'ignored') return none
    return { ...none, settle: result.counted.map((w) => w.key) }
  }

  #ignore (): Applied {
    this.#ignored++
    return { changes: [], settle: [], snapshot: false, ignored: true }
  }

  #ledger (signer: string): DeviceLedger {
    let ledger = this.#ledgers.get(signer)
    if (ledger !== undefined) return ledger
    const sealed = this.#sealed.get(signer)
    // A sealed ledger that does not read (it was authenticated with the rest: it cannot) throws: the write fails, nothing is changed.
    ledger = sealed !== undefined ? DeviceLedger.restore(this.#options.quotas, sealed.open()) : new DeviceLedger(this.#options.quotas)
    this.#sealed.delete(signer)
    this.#ledgers.set(signer, ledger)
    return ledger
  }

  /** Every ledger, opened. */
  #opened (): Iterable<DeviceLedger> {
    for (const signer of [...this.#sealed.keys()]) this.#ledger(signer)
    return this.#ledgers.values()
  }

  /** The writes of an op as records (a carry's in their order). */
  #recordsOf (entry: EntryMeta, op: DataOp): SlotRecord[] | undefined {
    const stamp: Stamp = { epoch: this.#options.epoch, time: entry.clock.time, id: entry.clock.id, hash: entry.hash }
    switch (op.op) {
      case 'put': return entry.clock.id === entry.signer ? [{ key: op.key, value: op.value, stamp }] : undefined
      case 'del': return entry.clock.id === entry.signer ? [{ key: op.key, value: undefined, stamp }] : undefined
      case 'batch': return undefined
      default: return op.records.map(fromWire)
    }
  }

  /** The newest write that counts for `key` (a device's own, or the snapshot's record of it). */
  #winner (key: string): Candidate | undefined {
    let best: Candidate | undefined
    for (const ledger of this.#opened()) {
      const w = ledger.best(key)
      if (w !== undefined && (best === undefined || compareStamps(best.stamp, w.stamp) < 0)) best = w
    }
    return best
  }
}
