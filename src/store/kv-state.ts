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
import { fromWire, type DataOp } from './codec.ts'
import { compareStamps, KvIndex, type Change, type SlotRecord, type Stamp } from './kv-index.ts'
import type { JsonValue } from './limits.ts'
import { DeviceLedger, writeCost, type QuotaUsage, type Quotas, type Write, type WriteRef } from './quota.ts'

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
export interface Applied { changes: Change[], settle: string[], snapshot: boolean, ignored: boolean }

interface Candidate { stamp: Stamp, ref: WriteRef }

export class KvState {
  readonly index = new KvIndex()
  readonly #options: KvStateOptions
  readonly #ledgers = new Map<string, DeviceLedger>()
  #ignored = 0

  constructor (options: KvStateOptions) { this.#options = options }

  /** Entries that counted for nothing (another device's snapshot, a forged clock id, past a device's writes quota). */
  get ignored (): number { return this.#ignored }

  usage (signer: string): QuotaUsage {
    return this.#ledgers.get(signer)?.usage() ?? { writes: 0, keys: 0, bytes: 0 }
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
      const values = new Map<Write, JsonValue | undefined>()
      op.records.forEach((wire, index) => {
        const r = fromWire(wire)
        if (r.stamp.epoch > epoch) return
        const w = { key: r.key, stamp: r.stamp, cost: writeCost(r.key, r.value), ref: { hash: entry.hash, index }, live: r.value !== undefined }
        values.set(w, r.value)
        const mine = byWriter.get(r.stamp.id)
        if (mine === undefined) byWriter.set(r.stamp.id, [w])
        else mine.push(w)
      })
      const settle: string[] = []
      for (const [writer, writes] of byWriter) {
        const result = this.#ledger(writer).addBase(writes)
        if (result.kind === 'replayed') settle.push(...result.changed)
        if (result.kind === 'appended') for (const w of result.counted) push(this.index.apply(w.key, values.get(w), w.stamp))
      }
      return { changes, settle, snapshot: true, ignored: false }
    }
    const records = this.#recordsOf(entry, op)
    // A put or del whose clock names another device than its signer: no honest writer makes one.
    if (records === undefined) return this.#ignore()
    const values = new Map<Write, JsonValue | undefined>()
    const writes: Write[] = []
    records.forEach((r, index) => {
      // A carried record claiming a later epoch than this log's: no honest carry makes one.
      if (r.stamp.epoch > epoch) return
      const w = { key: r.key, stamp: r.stamp, cost: writeCost(r.key, r.value), ref: { hash: entry.hash, index: op.op === 'put' || op.op === 'del' ? -1 : index }, live: r.value !== undefined }
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

  #ignore (): Applied {
    this.#ignored++
    return { changes: [], settle: [], snapshot: false, ignored: true }
  }

  #ledger (signer: string): DeviceLedger {
    let ledger = this.#ledgers.get(signer)
    if (ledger === undefined) this.#ledgers.set(signer, ledger = new DeviceLedger(this.#options.quotas))
    return ledger
  }

  /** The writes of an op as records (a carry's in their order). */
  #recordsOf (entry: EntryMeta, op: DataOp): SlotRecord[] | undefined {
    const stamp: Stamp = { epoch: this.#options.epoch, time: entry.clock.time, id: entry.clock.id, hash: entry.hash }
    switch (op.op) {
      case 'put': return entry.clock.id === entry.signer ? [{ key: op.key, value: op.value, stamp }] : undefined
      case 'del': return entry.clock.id === entry.signer ? [{ key: op.key, value: undefined, stamp }] : undefined
      default: return op.records.map(fromWire)
    }
  }

  /** The newest write that counts for `key` (a device's own, or the snapshot's record of it). */
  #winner (key: string): Candidate | undefined {
    let best: Candidate | undefined
    for (const ledger of this.#ledgers.values()) {
      const w = ledger.best(key)
      if (w !== undefined && (best === undefined || compareStamps(best.stamp, w.stamp) < 0)) best = w
    }
    return best
  }
}
