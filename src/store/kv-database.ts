/**
 * The account's key/value database: an OrbitDB log (one per epoch) of encoded put/del
 * operations, with a materialized index so `get` never scans the log. Entries that do
 * not decode (wrong key, tampered, malformed) are counted and skipped, never thrown
 * out of the node, and never stop valid entries from being applied.
 */
import { ManagedDatabase } from '../orbit/database.ts'
import type { DatabaseArgs, LogEntry, OrbitLog } from '../orbit/orbitdb.ts'
import { KvIndex, type Change, type SlotRecord, type Stamp } from './kv-index.ts'
import { checkKey, checkValue, type JsonValue } from './limits.ts'
import { fromWire, type DataOp, type PayloadCodec } from './codec.ts'

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
  onChange: (listener: (change: Change) => void) => () => void
  /** Every slot of the index, deletions included. */
  records: () => SlotRecord[]
  /** Would this record change the index (is it newer than what the index holds)? */
  wins: (record: SlotRecord) => boolean
  /** Appends one operation (a snapshot part or a carry-over). */
  append: (op: DataOp) => Promise<string>
  /** Writes (put, del, carry) applied from this log: how far it has grown past its starting snapshot. */
  writesSinceStart: () => number
  /** True once every one of these entries has been applied to the index (not just stored). */
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
}

export const KeyValueDatabase = ({ codec, epoch }: KvOptions) => async (args: DatabaseArgs): Promise<KvDatabase> => {
  const snapshotParts = new Set<number>()
  let writes = 0
  let snapshotOf: number | undefined
  const index = new KvIndex()
  const seen = new Set<string>()
  const listeners = new Set<(change: Change) => void>()
  let skipped = 0

  const applyEntry = (entry: LogEntry): void => {
    if (seen.has(entry.hash)) return
    seen.add(entry.hash)
    const changes: Change[] = []
    const apply = (key: string, value: JsonValue | undefined, stamp: Stamp): void => {
      const change = index.apply(key, value, stamp)
      if (change !== null) changes.push(change)
    }
    try {
      const op = codec.decode(entry.payload)
      const stamp: Stamp = { epoch, time: entry.clock.time, id: entry.clock.id, hash: entry.hash }
      if (op.op !== 'snapshot') writes++
      switch (op.op) {
        case 'put': apply(op.key, op.value, stamp); break
        case 'del': apply(op.key, undefined, stamp); break
        case 'snapshot':
          if (snapshotOf === undefined || snapshotOf === op.of) {
            snapshotOf = op.of
            snapshotParts.add(op.part)
          }
          for (const r of op.records) { const rec = fromWire(r); apply(rec.key, rec.value, rec.stamp) }
          break
        case 'carry':
          for (const r of op.records) { const rec = fromWire(r); apply(rec.key, rec.value, rec.stamp) }
          break
      }
    } catch {
      skipped++
      return
    }
    for (const change of changes) for (const listener of listeners) listener(change)
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
  }

  const onUpdate = async (log: OrbitLog, entry: LogEntry): Promise<void> => {
    await applyFrom(log, [entry])
  }

  const db = await ManagedDatabase({ ...args, onUpdate })
  let rejected = 0
  db.events.on('rejected', () => { rejected++ })
  await applyFrom(db.log, await db.log.heads())

  const put = async (key: string, value: JsonValue): Promise<string> => {
    checkKey(key)
    checkValue(value)
    return await db.addOperation(codec.encode({ op: 'put', key, value }))
  }
  const del = async (key: string): Promise<string> => {
    checkKey(key)
    return await db.addOperation(codec.encode({ op: 'del', key }))
  }

  return {
    ...db,
    type: KV_TYPE,
    epoch,
    codec,
    records: () => index.records(),
    hasApplied: (hashes) => hashes.every((h) => seen.has(h)),
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
    onChange: (listener) => {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    }
  }
}
