/**
 * The account's key/value database: an OrbitDB log (one per epoch) of encoded put/del
 * operations, with a materialized index so `get` never scans the log. Entries that do
 * not decode (wrong key, tampered, malformed) are counted and skipped, never thrown
 * out of the node, and never stop valid entries from being applied. A device's writes
 * count only within its quotas (src/store/kv-state.ts); its own writer is told first.
 */
import { ManagedDatabase } from '../orbit/database.ts'
import { ranked, WriterRanks } from '../orbit/ranks.ts'
import type { DatabaseArgs, LogEntry, OrbitLog } from '../orbit/orbitdb.ts'
import type { Change, SlotRecord } from './kv-index.ts'
import { checkKey, checkValue, type JsonValue } from './limits.ts'
import type { DataOp, PayloadCodec } from './codec.ts'
import { KvState, type Applied } from './kv-state.ts'
import type { QuotaUsage, Quotas, WriteRef } from './quota.ts'

export const KV_TYPE = 'orbit-account-kv'

export interface KvDatabase extends ManagedDatabase {
  type: typeof KV_TYPE
  put: (key: string, value: JsonValue) => Promise<string>
  del: (key: string) => Promise<string>
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
  /** Every slot of the index, deletions included. */
  records: () => SlotRecord[]
  /** Would this record change the index (is it newer than what the index holds)? */
  wins: (record: SlotRecord) => boolean
  /** Appends one operation (a snapshot part or a carry-over). */
  append: (op: DataOp) => Promise<string>
  /** Writes (put, del, carry) applied from this log: how far it has grown past its starting snapshot. */
  writesSinceStart: () => number
  /** True once every one of these entries has been applied to the index (not just stored), and nothing is left to settle. */
  hasApplied: (hashes: string[]) => boolean
  /** Entries this log refused since it opened (not admitted writers, forgeries). */
  rejectedCount: () => number
  /** True once every part of the epoch's starting snapshot is here (always true for epoch 0). */
  snapshotComplete: () => boolean
  /** The epoch this log belongs to. */
  epoch: number
  /** How this log's payloads are encoded (to read them when carrying them forward). */
  codec: PayloadCodec
}

export interface KvOptions {
  codec: PayloadCodec
  /** The epoch of this data log: the first part of the stamp of its own writes. */
  epoch: number
  /** The account's per-device quotas (src/store/quota.ts). */
  quotas: Quotas
  /** Signing key of the device whose rotation started this epoch: only its snapshot counts (undefined: epoch 0). */
  starter: string | undefined
}

export const KeyValueDatabase = ({ codec, epoch, quotas, starter }: KvOptions) => async (args: DatabaseArgs): Promise<KvDatabase> => {
  const snapshotParts = new Set<number>()
  let writes = 0
  let snapshotOf: number | undefined
  const state = new KvState({ epoch, quotas, starter })
  // Every entry stored, per writer: the log refuses those that can never count (src/orbit/ranks.ts).
  const ranks = WriterRanks(quotas.writes)
  const index = state.index
  const seen = new Set<string>()
  const listeners = new Set<(change: Change) => void>()
  let skipped = 0
  /** Keys whose counted writes changed (a back-dated entry) and that still have to be settled. */
  const unsettled = new Set<string>()

  const emit = (changes: Array<Change | null>): void => {
    for (const change of changes) if (change !== null) for (const listener of listeners) listener(change)
  }

  const applyEntry = (entry: LogEntry): void => {
    if (seen.has(entry.hash)) return
    seen.add(entry.hash)
    let applied: Applied
    try {
      const op = codec.decode(entry.payload)
      if (op.op !== 'snapshot') writes++
      applied = state.apply({ hash: entry.hash, signer: entry.key, clock: entry.clock }, op)
      // The counted snapshot's parts use no writes of the starter's quota: they take no rank either.
      if (!applied.snapshot) ranks.add(ranked(entry))
      if (applied.snapshot && op.op === 'snapshot' && (snapshotOf === undefined || snapshotOf === op.of)) {
        snapshotOf = op.of
        snapshotParts.add(op.part)
      }
    } catch {
      // Stored all the same: it takes a rank, as any entry that counts for nothing.
      ranks.add(ranked(entry))
      skipped++
      return
    }
    for (const key of applied.settle) unsettled.add(key)
    emit(applied.changes)
  }

  /** Reads a write's value again from the log (a write that counts again after a back-dated entry). */
  const readValue = (log: OrbitLog) => async (ref: WriteRef): Promise<JsonValue | undefined> => {
    const entry = await log.get(ref.hash)
    if (entry === undefined) throw new Error(`entry ${ref.hash} is not in the log`)
    const op = codec.decode(entry.payload)
    if (ref.index < 0) return op.op === 'put' ? op.value : undefined
    return op.op === 'carry' || op.op === 'snapshot' ? op.records[ref.index]?.v : undefined
  }

  /** Settles the keys a back-dated entry changed; one that cannot be read now is tried again after the next entry. */
  const settle = async (log: OrbitLog): Promise<void> => {
    for (const key of [...unsettled]) {
      try {
        emit([await state.settle(key, readValue(log))])
        unsettled.delete(key)
      } catch {}
    }
  }

  /** Applies `roots` and every ancestor not yet applied (the applied set is closed downwards). */
  const applyFrom = async (log: OrbitLog, roots: LogEntry[]): Promise<void> => {
    const stack = [...roots]
    const batch: LogEntry[] = []
    const queued = new Set<string>()
    while (stack.length > 0) {
      const entry = stack.pop() as LogEntry
      if (seen.has(entry.hash) || queued.has(entry.hash)) continue
      queued.add(entry.hash)
      batch.push(entry)
      for (const hash of [...entry.next, ...entry.refs]) {
        if (seen.has(hash) || queued.has(hash)) continue
        const parent = await log.get(hash)
        if (parent !== undefined) stack.push(parent)
      }
    }
    // Oldest first, so watchers see changes in causal order.
    batch.sort((a, b) => a.clock.time - b.clock.time)
    for (const entry of batch) applyEntry(entry)
    if (unsettled.size > 0) await settle(log)
  }

  const onUpdate = async (log: OrbitLog, entry: LogEntry): Promise<void> => {
    await applyFrom(log, [entry])
  }

  const db = await ManagedDatabase({ ...args, onUpdate, ranks })
  let rejected = 0
  db.events.on('rejected', () => { rejected++ })
  await applyFrom(db.log, await db.log.heads())

  // This device's own writes, one at a time: each is checked against its quotas after the one before counted.
  const self = db.identity.publicKey
  let last: Promise<unknown> = Promise.resolve()
  const write = async (key: string, value: JsonValue | undefined, op: DataOp): Promise<string> => {
    const run = last.then(async () => {
      state.check(self, key, value)
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

  return {
    ...db,
    type: KV_TYPE,
    epoch,
    codec,
    records: () => index.records(),
    hasApplied: (hashes) => unsettled.size === 0 && hashes.every((h) => seen.has(h)),
    writesSinceStart: () => writes,
    rejectedCount: () => rejected,
    wins: (record) => index.wins(record.key, record.stamp),
    append: async (op) => await db.addOperation(codec.encode(op)),
    snapshotComplete: () => epoch === 0 || (snapshotOf !== undefined && snapshotParts.size === snapshotOf),
    put,
    del,
    get: (key) => index.get(key),
    entries: (prefix) => index.entries(prefix),
    size: () => index.size,
    stats: () => ({ applied: seen.size - skipped, skipped }),
    ignoredCount: () => state.ignored,
    quotaUsage: (signer = self) => state.usage(signer),
    onChange: (listener) => {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    }
  }
}
