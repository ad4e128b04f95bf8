/**
 * A tiny key-value store over one IndexedDB database (the browser twin of the small
 * files an account directory holds: config, keystore, remembered peers). Values are
 * structured clones, so a non-extractable CryptoKey can be stored as it is.
 */

/** Every database this app makes has this in its name (browser-level adds its own prefix), so a failed join can remove them all. */
export const DB_PREFIX = 'orbit-account'
const STORE = 'kv'
/** The device's keys, config and remembered peers. */
export const DEVICE_DB = `${DB_PREFIX}/device`

const request = async <T>(req: IDBRequest<T>): Promise<T> => await new Promise<T>((resolve, reject) => {
  req.onsuccess = () => { resolve(req.result) }
  req.onerror = () => { reject(req.error ?? new Error('IndexedDB request failed')) }
})

export interface KeyValue {
  get: <T>(key: string) => Promise<T | undefined>
  put: (key: string, value: unknown) => Promise<void>
  close: () => void
}

export const openKeyValue = async (name = DEVICE_DB): Promise<KeyValue> => {
  const open = indexedDB.open(name, 1)
  open.onupgradeneeded = () => { open.result.createObjectStore(STORE) }
  const db = await request(open)
  const store = (mode: IDBTransactionMode): IDBObjectStore => db.transaction(STORE, mode).objectStore(STORE)
  return {
    get: async <T>(key: string): Promise<T | undefined> => await request(store('readonly').get(key)) as T | undefined,
    put: async (key, value) => { await request(store('readwrite').put(value, key)) },
    close: () => { db.close() }
  }
}

/** Deletes every database of this app (a join that did not finish leaves nothing behind). */
export const deleteAllDatabases = async (): Promise<void> => {
  const all = await indexedDB.databases()
  await Promise.all(all.filter((d) => d.name?.includes(DB_PREFIX) === true).map(async (d) => {
    await new Promise<void>((resolve) => {
      const req = indexedDB.deleteDatabase(d.name as string)
      // A blocked delete finishes once the last connection closes; nothing to wait for here.
      req.onsuccess = req.onerror = req.onblocked = () => { resolve() }
    })
  }))
}
