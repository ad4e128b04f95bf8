/**
 * Joining an entry the database has checked (browser-ready), in place of OrbitDB's
 * `joinEntry`. That one checks the entry again and reads and checks every parent it
 * names, in the log already or not: work done twice (up to 17 entries re-encoded and
 * hashed per entry), and an entry that names a refused or missing one
 * (src/orbit/absent.ts) could never join. This joins an entry whose ancestry the
 * database has already fetched and checked (src/orbit/database.ts): the entry is stored,
 * becomes a head in place of the heads its batch names, and the batch goes into the
 * index. OrbitDB keeps a log's heads in its heads storage as JSON under `heads`,
 * [{ hash, next }] (oplog/heads.js).
 */
import { utf8Decode, utf8Encode } from '../crypto/bytes.ts'
import { Entry, type LogEntry, type StorageBackend } from './orbitdb.ts'

/** The stores of one log, as the database gave them to OrbitDB's `Log`. */
export interface LogStores {
  entries: StorageBackend
  heads: StorageBackend
  index: { put: (hash: string, value: true) => Promise<void> }
}

interface Head { hash: string, next: string[] }

/** What the join needs of an ancestor in its batch. */
export type PastEntry = Pick<LogEntry, 'hash' | 'next' | 'refs'>

const HEADS_KEY = 'heads'

/**
 * Joins `entry` and `batch` (its ancestors fetched and checked for this join, all
 * local, and not yet in the log). Runs in the write queue, as OrbitDB's join would.
 * A hole that joins at last is no head: entries of the log name it already.
 */
export const joinVerified = async (stores: LogStores, entry: LogEntry, batch: PastEntry[], head: boolean): Promise<void> => {
  const { hash, bytes } = await Entry.encode(entry)
  if (hash !== entry.hash) throw new Error(`entry ${entry.hash} does not encode to its hash`)
  const named = new Set<string>()
  for (const e of [entry, ...batch]) for (const parent of [...e.next, ...e.refs]) named.add(parent)
  const heads = (await readHeads(stores.heads)).filter((h) => !named.has(h.hash) && h.hash !== entry.hash)
  if (head) heads.push({ hash: entry.hash, next: entry.next })
  // In OrbitDB's order: the entry and its head first, then the index (a crash between
  // leaves a head to traverse whose join is retried, never an indexed entry no head reaches).
  await stores.entries.put(entry.hash, bytes)
  await stores.heads.put(HEADS_KEY, utf8Encode(JSON.stringify(heads)))
  // The ancestors' marks side by side (one at a time, a rotation's ~100 parts took ~80 ms);
  // the entry's own last, once they are all down.
  await Promise.all(batch.map(async (e) => { await stores.index.put(e.hash, true) }))
  await stores.index.put(entry.hash, true)
}

const readHeads = async (storage: StorageBackend): Promise<Head[]> => {
  const bytes = await storage.get(HEADS_KEY)
  return bytes === undefined ? [] : JSON.parse(utf8Decode(bytes, 'heads')) as Head[]
}
