/**
 * The account's key/value database: an OrbitDB log (one per epoch) of encoded put/del
 * operations, with a materialized index so `get` never scans the log. Entries that do
 * not decode (wrong key, tampered, malformed) are counted and skipped, never thrown
 * out of the node, and never stop valid entries from being applied.
 */
import { ManagedDatabase } from '../orbit/database.ts'
import type { DatabaseArgs, LogEntry, OrbitLog } from '../orbit/orbitdb.ts'
import { KvIndex, type Change } from './kv-index.ts'
import { checkKey, checkValue, type JsonValue } from './limits.ts'
import type { PayloadCodec } from './codec.ts'

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
}

export interface KvOptions {
  codec: PayloadCodec
}

export const KeyValueDatabase = ({ codec }: KvOptions) => async (args: DatabaseArgs): Promise<KvDatabase> => {
  const index = new KvIndex()
  const seen = new Set<string>()
  const listeners = new Set<(change: Change) => void>()
  let skipped = 0

  const applyEntry = (entry: LogEntry): void => {
    if (seen.has(entry.hash)) return
    seen.add(entry.hash)
    let change: Change | null
    try {
      const op = codec.decode(entry.payload)
      change = index.apply(op, { time: entry.clock.time, id: entry.clock.id, hash: entry.hash })
    } catch {
      skipped++
      return
    }
    if (change !== null) for (const listener of listeners) listener(change)
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
