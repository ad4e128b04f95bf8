/**
 * A data log's stores in IndexedDB, for the sweeper of retired logs
 * (src/account/retired-logs.ts): OrbitDB's LevelStorage is browser-level there, one
 * IndexedDB database per store, named browser-level's prefix and the store's path.
 */
import type { LogStores } from '../account/retired-logs.ts'
import { checkedLogDirectory, isLogAddress, logStorePath, type LogStore } from '../orbit/log-paths.ts'

/** browser-level's default name prefix (kept by it for level-js databases). */
const LEVEL_PREFIX = 'level-js-'
const STORES: LogStore[] = ['_heads', '_index', '_absent']

const databaseOf = (directory: string, address: string, store: LogStore): string => LEVEL_PREFIX + logStorePath(checkedLogDirectory(directory, address), store)

const deleteDatabase = async (name: string): Promise<void> => await new Promise<void>((resolve, reject) => {
  const req = indexedDB.deleteDatabase(name)
  req.onsuccess = () => { resolve() }
  req.onerror = () => { reject(req.error ?? new Error(`IndexedDB could not delete ${name}`)) }
  // Blocked: a connection is still open; the delete finishes once it closes.
  req.onblocked = () => { resolve() }
})

/** The stores of the logs under OrbitDB's `directory`. IndexedDB gives back the space of deleted blocks by itself. */
export const idbLogStores = (directory: string): LogStores => ({
  has: async (address) => {
    if (!isLogAddress(address)) return false
    const names = new Set((await indexedDB.databases()).map((d) => d.name))
    return STORES.some((store) => names.has(databaseOf(directory, address, store)))
  },
  remove: async (address) => {
    for (const store of STORES) await deleteDatabase(databaseOf(directory, address, store))
  }
})
