/**
 * The account's key/value database: an OrbitDB log (one per epoch) of encoded put/del
 * operations, with a materialized index so `get` never scans the log. Entries that do
 * not decode (wrong key, tampered, malformed) are counted and skipped, never thrown
 * out of the node, and never stop valid entries from being applied. A device's writes
 * count only within its quotas (src/store/kv-state.ts); its own writer is told first.
 */
import { ManagedDatabase, type EarlyWork } from '../orbit/database.ts'
import { ranked, WriterRanks } from '../orbit/ranks.ts'
import type { DatabaseArgs, LogEntry, OrbitLog } from '../orbit/orbitdb.ts'
import { holdsAll } from '../orbit/orbitdb.ts'
import { encodeCheckpointPaused, type KvCheckpoint } from './checkpoint.ts'
import { changesBetween, compareStamps, type Change, type KvIndex, type RawSlot, type SlotRecord, type Stamp } from './kv-index.ts'
import { checkKey, checkValue, type JsonValue } from './limits.ts'
import type { BatchRecord, DataOp, PayloadCodec } from './codec.ts'
import { batchWrites, KvState, type Applied, type BatchPart } from './kv-state.ts'
import { planBatch, putsOf, type BatchOp } from './batch-write.ts'
import type { WholeBatch } from './batches.ts'
import type { QuotaUsage, Quotas, WriteRef } from './quota.ts'
import { Checkpoints, type StateStore } from './state-store.ts'

/** The payloads decoded ahead of their join held at once, at most (a whole walk's ancestry is at most 64 MiB). */
const EARLY_MAX_BYTES = 96 * 1024 * 1024

export const KV_TYPE = 'orbit-account-kv'

export interface KvDatabase extends ManagedDatabase {
  type: typeof KV_TYPE
  put: (key: string, value: JsonValue) => Promise<string>
  del: (key: string) => Promise<string>
  /**
   * Writes these puts and dels as one batch: every one is checked, and the writer's
   * quotas for all of them, before anything is written; every device applies all of
   * them or none (src/store/batches.ts). Each key once; an empty batch writes nothing.
   */
  batch: (ops: BatchOp[]) => Promise<void>
  /** A batch of puts. */
  putMany: (entries: Record<string, JsonValue>) => Promise<void>
  get: (key: string) => JsonValue | undefined
  entries: (prefix?: string) => Array<[string, JsonValue]>
  /** Number of live keys. */
  size: () => number
  /** Entries applied to the index, and entries skipped because they did not decode. */
  stats: () => { applied: number, skipped: number }
  /** Applied entries that counted for nothing (past their writer's writes quota, a forged clock: see src/store/kv-state.ts). */
  ignoredCount: () => number
  /** What a device's writes to this log use of its quotas (default: this device's). */
  quotaUsage: (signer?: string) => QuotaUsage
  onChange: (listener: (change: Change) => void) => () => void
  /** The stamp of each live key's write (no value read). */
  liveStamps: () => Map<string, Stamp>
  /** Every slot of the index, deletions included. */
  records: () => SlotRecord[]
  /** The hashes of every part of the counted batch that entry `hash` is a part of (undefined: none). */
  batchPartsOf: (hash: string) => string[] | undefined
  /** Does the index hold exactly this write (its key at this stamp)? */
  holds: (record: SlotRecord) => boolean
  /** Would this record change the index (is it newer than what the index holds)? */
  wins: (record: SlotRecord) => boolean
  /** Appends one operation (a snapshot part or a carry-over); `references`: how many earlier entries it names (default 16). */
  append: (op: DataOp, options?: { references?: number }) => Promise<string>
  /** Writes (a put or del one, a batch part or carry one per record) applied from this log: how far it has grown past its starting snapshot. */
  writesSinceStart: () => number
  /** True once every one of these entries has been applied to the index (not just stored), and nothing is left to settle. */
  hasApplied: (hashes: string[]) => boolean
  /** Entries this log refused since it opened (not admitted writers, forgeries). */
  rejectedCount: () => number
  /** True once every part of the epoch's starting snapshot is here (always true for epoch 0). */
  snapshotComplete: () => boolean
  /** The epoch this log belongs to. */
  epoch: number
  /** How the open went: from a checkpoint or not, and how many log entries it applied (none after a clean close). */
  openStats: () => OpenStats
  /** Closes a log left for a newer epoch, and deletes its checkpoint. */
  retire: () => Promise<void>
  /** How this log's payloads are encoded (to read them when carrying them forward). */
  codec: PayloadCodec
  /**
   * Every slot of the index as it is now, read as it goes: what a rotation's snapshot
   * parts are written from (src/rotation/rotate.ts), after its `rotate` op, a part at a
   * time. Writes made after the call do not show.
   */
  frozenRecords: () => Iterable<RawSlot>
  /**
   * Every slot of the state that exactly these entries and their ancestors make, built
   * again from the log beside the current one (O(entries)): a rotation done again after a
   * crash, from a log that has applied entries past its first rotation's cut since.
   */
  recordsAt: (cut: string[]) => Promise<Iterable<RawSlot>>
  /**
   * Gives this log's index away to the log of the next epoch (a move on this device's own
   * state, src/account/epochs.ts): from then on this log applies nothing, writes no
   * checkpoint and keeps the one on disk (until `retire`), whose values the index reads.
   * Undefined when it cannot (a rebuild under way, a damaged checkpoint, closed).
   */
  handOver: () => HandedIndex | undefined
  /** Takes the index another log handed over, under the slots this one holds (each kept where newer). */
  adopt: (handed: HandedIndex) => void
  /**
   * Resolves true once a checkpoint taken after the call is on disk, false when none
   * will be (no store, or the log closed first).
   */
  checkpointed: () => Promise<boolean>
}

/** An index handed from one epoch's log to the next (KvDatabase.handOver). */
export interface HandedIndex { index: KvIndex, release: (() => void) | undefined }

export interface OpenStats { fromCheckpoint: boolean, applied: number }

export interface KvOptions {
  codec: PayloadCodec
  /** The epoch of this data log: the first part of the stamp of its own writes. */
  epoch: number
  /** The account's per-device quotas (src/store/quota.ts). */
  quotas: Quotas
  /** Signing key of the device whose rotation started this epoch: only its snapshot counts (undefined: epoch 0). */
  starter: string | undefined
  /** Where this log's checkpoint is kept (src/store/state-store.ts); none: the log is replayed at each open. */
  store?: StateStore
}

/**
 * What the database derives from its log: the state, the writers' ranks, which entries
 * were applied. One bundle, so a rebuild (a checkpoint found damaged) builds another
 * from the log while this one serves reads, and swaps it in at once.
 */
interface Derived {
  state: KvState
  ranks: WriterRanks
  seen: Set<string>
  skipped: number
  writes: number
  snapshotOf: number | undefined
  snapshotParts: Set<number>
  /** Keys whose counted writes changed (a back-dated entry) and that still have to be settled. */
  unsettled: Set<string>
}

export const KeyValueDatabase = ({ codec, epoch, quotas, starter, store }: KvOptions) => async (args: DatabaseArgs): Promise<KvDatabase> => {
  const blank = (): Derived => ({
    state: new KvState({ epoch, quotas, starter }),
    // Every entry stored, per writer: the log refuses those that can never count (src/orbit/ranks.ts).
    ranks: WriterRanks(quotas.writes),
    seen: new Set(),
    skipped: 0,
    writes: 0,
    snapshotOf: undefined,
    snapshotParts: new Set(),
    unsettled: new Set()
  })
  const listeners = new Set<(change: Change) => void>()
  /** Set when a read of the checkpoint's tail failed to authenticate: the state is rebuilt from the log. */
  let damaged = false
  // What the last checkpoint holds: applied at once, so the open replays nothing it covers.
  const checkpoints = store === undefined ? undefined : Checkpoints(store, args.address)
  const saved = await checkpoints?.load(epoch, () => {
    damaged = true
    if (started) rebuild()
  })
  let d = blank()
  /** Set once this log handed its index over (handOver): it applies nothing from then on. */
  let handed = false
  /**
   * What the index reads from: the checkpoint this log opened from, and those of indexes it
   * adopted. Let go at its close, or handed over with the index.
   */
  const reads: Array<() => void> = saved?.release !== undefined ? [saved.release] : []
  const releaseAll = (): void => { for (const release of reads.splice(0)) release() }
  if (saved !== undefined) {
    d.state = KvState.restore({ epoch, quotas, starter }, saved.state)
    d.ranks.restore(saved.ranks)
    d.seen = new Set(saved.seen)
    ;({ skipped: d.skipped, writes: d.writes, snapshotOf: d.snapshotOf } = saved)
    d.snapshotParts = new Set(saved.snapshotParts)
    d.unsettled = new Set(saved.unsettled)
  }
  // The log's check reads the ranks of whichever bundle is current.
  const ranks: WriterRanks = {
    limit: quotas.writes,
    add: (entry) => { d.ranks.add(entry) },
    refused: (batch) => d.ranks.refused(batch),
    dump: () => d.ranks.dump(),
    restore: (dump) => { d.ranks.restore(dump) }
  }

  const emit = (changes: Array<Change | null>): void => {
    for (const change of changes) if (change !== null) for (const listener of listeners) listener(change)
  }

  /**
   * The snapshot parts and carries this device appends, by their encoded payload: its own
   * entry is applied from the op it just encoded, not decrypted and parsed again (a
   * rotation's snapshot of 100,000 keys was decoded back whole). Their records are built
   * here, never a caller's objects (a put's value is decoded as before: no aliasing).
   */
  const ownOps = new WeakMap<object, DataOp>()
  const encodeOwn = (op: DataOp): ReturnType<PayloadCodec['encode']> => {
    const payload = codec.encode(op)
    ownOps.set(payload, op)
    return payload
  }
  const opOf = (payload: unknown): DataOp =>
    (typeof payload === 'object' && payload !== null ? ownOps.get(payload) : undefined) ?? codec.decode(payload)

  /**
   * Ops decoded from checked entries of the network before their join (the database's
   * EarlyWork), by entry hash, each used once; at most EARLY_MAX_BYTES of payloads. One
   * that does not decode is left for its apply, which counts it for nothing as before.
   */
  const early = new Map<string, { op: DataOp, bytes: number }>()
  let earlyBytes = 0
  const forget = (hash: string): DataOp | undefined => {
    const held = early.get(hash)
    if (held === undefined) return undefined
    early.delete(hash)
    earlyBytes -= held.bytes
    return held.op
  }
  const earlyWork: EarlyWork = {
    take: (entry) => {
      const payload = entry.payload as unknown
      const bytes = payload instanceof Uint8Array ? payload.byteLength : 0
      if (early.has(entry.hash) || earlyBytes + bytes > EARLY_MAX_BYTES) return
      try {
        early.set(entry.hash, { op: codec.decode(payload), bytes })
        earlyBytes += bytes
      } catch {}
    },
    drop: (hashes) => { for (const hash of hashes) forget(hash) }
  }

  /** Applies one entry to `x`; its visible changes are told when `x` is the current bundle. */
  const applyEntry = (x: Derived, entry: LogEntry): void => {
    if (x.seen.has(entry.hash)) return
    x.seen.add(entry.hash)
    let applied: Applied
    try {
      const op = forget(entry.hash) ?? opOf(entry.payload)
      // As the writes quota counts them: one per record of a batch part or a carry, at least one.
      if (op.op !== 'snapshot') x.writes += op.op === 'put' || op.op === 'del' ? 1 : Math.max(1, op.records.length)
      applied = x.state.apply({ hash: entry.hash, signer: entry.key, clock: entry.clock }, op)
      // The counted snapshot's parts use no writes of the starter's quota: they take no rank either.
      if (!applied.snapshot) x.ranks.add(ranked(entry))
      if (applied.snapshot && op.op === 'snapshot' && (x.snapshotOf === undefined || x.snapshotOf === op.of)) {
        x.snapshotOf = op.of
        x.snapshotParts.add(op.part)
      }
    } catch {
      // Stored all the same: it takes a rank, as any entry that counts for nothing.
      x.ranks.add(ranked(entry))
      x.skipped++
      return
    }
    for (const key of applied.settle) x.unsettled.add(key)
    if (x !== d) return
    checkpoints?.changed()
    emit(applied.changes)
  }

  /** Reads a write's value again from the log (a write that counts again after a back-dated entry). */
  const readValue = (log: OrbitLog) => {
    // The last entry read: a batch part's keys are settled one after another.
    let cached: { hash: string, op: DataOp } | undefined
    return async (ref: WriteRef): Promise<JsonValue | undefined> => {
      if (cached?.hash !== ref.hash) cached = { hash: ref.hash, op: await readOp(log, ref.hash) }
      const op = cached.op
      if (ref.index < 0) return op.op === 'put' ? op.value : undefined
      return op.op === 'carry' || op.op === 'snapshot' || op.op === 'batch' ? op.records[ref.index]?.v : undefined
    }
  }
  const readOp = async (log: OrbitLog, hash: string): Promise<DataOp> => {
    const entry = await log.get(hash)
    if (entry === undefined) throw new Error(`entry ${hash} is not in the log`)
    return codec.decode(entry.payload)
  }

  /**
   * Counts the batches made whole: their parts read back one at a time, keeping keys and
   * sizes only; the keys that count are then settled (values read again, all told at once).
   */
  const countWhole = async (x: Derived, log: OrbitLog): Promise<void> => {
    for (const whole of x.state.batches.ready()) {
      const parts: BatchPart[] = []
      try {
        // One past its writer's writes quota never counts: not read at all.
        if (x.state.considers(whole)) for (const p of whole.parts) parts.push({ ...p, writes: batchWrites(recordsOf(whole, await readOp(log, p.hash))) })
      } catch {
        continue // tried again after the next entry
      }
      for (const key of x.state.countBatch(whole, parts).settle) x.unsettled.add(key)
      if (x === d) checkpoints?.changed()
    }
  }

  /** Settles the keys a back-dated entry changed; one that cannot be read now is tried again after the next entry. */
  const settle = async (x: Derived, log: OrbitLog): Promise<void> => {
    // All read first, then set and told at once: a batch's keys show together.
    const keys = [...x.unsettled]
    const { changes, failed } = await x.state.settleMany(keys, readValue(log))
    for (const key of keys) if (!failed.has(key)) x.unsettled.delete(key)
    if (x !== d) return
    checkpoints?.changed()
    emit(changes)
  }

  /**
   * Applies `roots` and every ancestor not yet applied to `x` (the applied set is closed
   * downwards). `joined`: ancestors just joined with them, taken as they are rather than
   * read back from the log (a snapshot's ~100 parts each read and decoded again took ~50 ms).
   */
  const applyFrom = async (x: Derived, log: OrbitLog, roots: LogEntry[], joined: LogEntry[] = []): Promise<void> => {
    const known = new Map(joined.map((e) => [e.hash, e]))
    const stack = [...roots]
    const batch: LogEntry[] = []
    // Each entry read once: a snapshot part is named by the 17 after it (next and refs).
    const queued = new Set<string>(roots.map((e) => e.hash))
    while (stack.length > 0) {
      const entry = stack.pop() as LogEntry
      if (x.seen.has(entry.hash)) continue
      batch.push(entry)
      for (const hash of [...entry.next, ...entry.refs]) {
        if (x.seen.has(hash) || queued.has(hash)) continue
        queued.add(hash)
        const parent = known.get(hash) ?? await log.get(hash)
        if (parent !== undefined) stack.push(parent)
      }
    }
    // Oldest first, so watchers see changes in causal order.
    batch.sort((a, b) => a.clock.time - b.clock.time)
    for (const entry of batch) applyEntry(x, entry)
    if (x.state.batches.ready().length > 0) await countWhole(x, log)
    if (x.unsettled.size > 0) await settle(x, log)
  }

  const onUpdate = async (log: OrbitLog, entry: LogEntry, joined?: LogEntry[]): Promise<void> => {
    if (handed) return
    await applyFrom(d, log, [entry], joined)
  }

  /**
   * A read of the checkpoint found it damaged (its head opened, a part of its tail did
   * not authenticate): the reads that met it threw CorruptStateError. The state is built
   * again from the log beside the one serving reads, swapped in whole, and what differs
   * is told; the next checkpoint replaces the damaged one.
   */
  let rebuilding: Promise<void> | undefined
  const rebuild = (): void => {
    if (rebuilding !== undefined || closed) return
    rebuilding = (async () => {
      const fresh = blank()
      await applyFrom(fresh, db.log, await db.log.heads())
      if (closed) return
      const before = liveStampsOf(d)
      d = fresh
      damaged = false
      // Entries joined meanwhile, and what changed, are told as any others.
      await applyFrom(d, db.log, await db.log.heads())
      const current = d
      emit(changesBetween(before, liveStampsOf(current), (key) => current.state.index.get(key)))
      saved?.release?.()
      checkpoints?.changed()
    })().catch(() => {}).finally(() => { rebuilding = undefined })
  }
  /** The stamp of each live key's write; a slot the damaged checkpoint cannot give is left out. */
  const liveStampsOf = (x: Derived): Map<string, Stamp> => {
    try {
      return x.state.index.liveStamps()
    } catch {
      return new Map()
    }
  }
  let closed = false
  /** Set once the log is open (a rebuild reads it). */
  let started = false

  const db = await ManagedDatabase({ ...args, onUpdate, ranks, early: earlyWork })
  let rejected = 0
  db.events.on('rejected', () => { rejected++ })
  // A checkpoint whose heads this log does not hold belongs to another copy of it: replay instead.
  if (saved !== undefined && !(await holdsAll(db.log, saved.heads))) {
    saved.release?.()
    d = blank()
  }
  // Only what the checkpoint did not cover (none after a clean close).
  const seenBefore = d.seen.size
  await applyFrom(d, db.log, await db.log.heads())
  const opened: OpenStats = { fromCheckpoint: saved !== undefined && seenBefore > 0, applied: d.seen.size - seenBefore }
  started = true
  if (damaged) rebuild()
  const snapshotOfState = (clean: boolean, heads: string[]): KvCheckpoint => ({
    epoch, heads, clean, seen: [...d.seen], skipped: d.skipped, writes: d.writes, snapshotOf: d.snapshotOf, snapshotParts: [...d.snapshotParts], unsettled: [...d.unsettled], state: d.state.dump(), ranks: d.ranks.dump()
  })
  checkpoints?.start(async () => {
    const heads = (await db.log.heads()).map((e) => e.hash)
    // Dumped in one synchronous run (no apply in between), then encoded with pauses, from
    // the dump's own lists: reads and writes go on meanwhile (see Checkpoints.start).
    return await encodeCheckpointPaused(snapshotOfState(false, heads))
  })

  // This device's own writes, one at a time: each is checked against its quotas after the one before counted.
  const self = db.identity.publicKey
  let last: Promise<unknown> = Promise.resolve()
  const write = async (key: string, value: JsonValue | undefined, op: DataOp): Promise<string> => {
    const run = last.then(async () => {
      d.state.check(self, key, value)
      return await db.addOperation(codec.encode(op))
    })
    last = run.catch(() => {})
    return await run
  }
  const put = async (key: string, value: JsonValue): Promise<string> => {
    checkKey(key)
    checkValue(value)
    return await write(key, value, { op: 'put', key, value })
  }
  const del = async (key: string): Promise<string> => {
    checkKey(key)
    return await write(key, undefined, { op: 'del', key })
  }
  /** A batch's parts, one entry each, in the write queue: the quota check covers them all before the first is written. */
  const batch = async (ops: BatchOp[]): Promise<void> => {
    const planned = planBatch(ops)
    if (planned.ops.length === 0) return
    const run = last.then(async () => {
      d.state.checkMany(self, planned.writes)
      for (const op of planned.ops) await db.addOperation(codec.encode(op))
    })
    last = run.catch(() => {})
    await run
  }

  const close = async (): Promise<void> => {
    closed = true
    const heads = (await db.log.heads()).map((e) => e.hash)
    await rebuilding
    await checkpoints?.stop()
    await db.close()
    // After the close: the checks it let finish are in it. Clean: no other process writes this log.
    // A log that handed its index over keeps the checkpoint on disk: the next epoch's may not be written yet.
    if (!handed) await checkpoints?.close(() => snapshotOfState(true, heads))
    // The index read the checkpoint it opened from until now (its values, its sealed ledgers).
    releaseAll()
  }
  /** Closes a log this device left for a newer epoch: its checkpoint is deleted, not written (nothing reads it again). */
  const retire = async (): Promise<void> => {
    closed = true
    await rebuilding
    await checkpoints?.stop()
    await db.close()
    await checkpoints?.remove()
    releaseAll()
  }
  const drop = async (): Promise<void> => {
    closed = true
    await rebuilding
    await checkpoints?.stop()
    await db.drop()
    await checkpoints?.remove()
    releaseAll()
  }

  return {
    ...db,
    close,
    retire,
    drop,
    type: KV_TYPE,
    epoch,
    openStats: () => opened,
    codec,
    frozenRecords: () => d.state.index.frozenRecords(),
    recordsAt: async (cut) => {
      const roots: LogEntry[] = []
      for (const hash of cut) {
        // In this log's index: a block of another log in the same block store is not one of its entries.
        const entry = await db.log.has(hash) ? await db.log.get(hash) : undefined
        if (entry === undefined) throw new Error(`entry ${hash} of the cut is not in this log`)
        roots.push(entry)
      }
      const x = blank()
      await applyFrom(x, db.log, roots)
      return x.state.index.frozenRecords()
    },
    handOver: () => {
      if (handed || closed || damaged || rebuilding !== undefined) return undefined
      handed = true
      void checkpoints?.stop()
      // What the index reads goes with it.
      const given = reads.splice(0)
      return { index: d.state.index, release: given.length === 0 ? undefined : () => { for (const release of given) release() } }
    },
    adopt: (given) => {
      d.state.index.adopt(given.index)
      if (given.release !== undefined) reads.push(given.release)
      checkpoints?.changed()
    },
    checkpointed: async () => checkpoints === undefined || closed ? false : await checkpoints.saved(),
    records: () => d.state.index.records(),
    liveStamps: () => d.state.index.liveStamps(),
    hasApplied: (hashes) => !damaged && d.unsettled.size === 0 && d.state.batches.ready().length === 0 && hashes.every((h) => d.seen.has(h)),
    writesSinceStart: () => d.writes,
    rejectedCount: () => rejected,
    wins: (record) => d.state.index.wins(record.key, record.stamp),
    batchPartsOf: (hash) => d.state.batches.partsOf(hash),
    holds: (record) => { const held = d.state.index.stampOf(record.key); return held !== undefined && compareStamps(held, record.stamp) === 0 },
    append: async (op, options) => await db.addOperation(encodeOwn(op), options),
    snapshotComplete: () => epoch === 0 || (d.snapshotOf !== undefined && d.snapshotParts.size === d.snapshotOf),
    put,
    del,
    batch,
    putMany: async (entries) => { await batch(putsOf(entries)) },
    get: (key) => d.state.index.get(key),
    entries: (prefix) => d.state.index.entries(prefix),
    size: () => d.state.index.size,
    stats: () => ({ applied: d.seen.size - d.skipped, skipped: d.skipped }),
    ignoredCount: () => d.state.ignored,
    quotaUsage: (signer = self) => d.state.usage(signer),
    onChange: (listener) => {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    }
  }
}

/** A whole batch's part as read back: its records (the part is its signer's, as when it was applied). */
const recordsOf = (whole: WholeBatch, op: DataOp): BatchRecord[] => {
  if (op.op !== 'batch' || op.id !== whole.id) throw new Error(`entry is not a part of batch ${whole.id}`)
  return op.records
}
