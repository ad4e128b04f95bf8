/**
 * The account's persisted state in the browser (the twin of src/node/state-files.ts):
 * each data log's checkpoint and the registry's state, one IndexedDB record per name, so
 * a page that opens again reads them instead of replaying its logs.
 *
 * Each record is sealed with AES-GCM (WebCrypto, native) under the device's state key
 * (`stateKey`: from its box secret key), a fresh random IV per seal, the name in the
 * associated data, so a record copied onto another name does not open. A split blob (a
 * checkpoint) seals its head and its tail apart, both bound to one random write id: a
 * head never opens with another write's tail. A write is one IndexedDB transaction: a
 * reader sees the old record or the new one. The tail is opened whole when it is read
 * (IndexedDB gives nothing synchronously, and a checkpoint's values are read from it
 * synchronously), and kept in memory while the index reads from it.
 *
 * A connection is opened for each operation and closed after it, so a join that fails
 * can delete the database at once (src/browser/idb.ts, `deleteAllDatabases`).
 */
import { randomBytes, utf8Encode } from '../crypto/bytes.ts'
import { CorruptStateError } from '../errors.ts'
import type { ByteSource } from '../store/byte-source.ts'
import type { StateStore } from '../store/state-store.ts'
import { DB_PREFIX } from './idb.ts'

/** The database of every account's state on this origin. */
export const STATE_DB = `${DB_PREFIX}/state`
const STORE = 'blobs'
const IV_BYTES = 12
const WRITE_ID_BYTES = 16

type Bytes = Uint8Array<ArrayBuffer>

/** A record as stored: a plain blob, or a split blob's head and tail. */
type StoredRecord =
  | { kind: 'blob', iv: Bytes, sealed: ArrayBuffer }
  | { kind: 'split', write: Bytes, headIv: Bytes, head: ArrayBuffer, tailIv: Bytes, tail: ArrayBuffer }

const request = async <T>(req: IDBRequest<T>): Promise<T> => await new Promise<T>((resolve, reject) => {
  req.onsuccess = () => { resolve(req.result) }
  req.onerror = () => { reject(req.error ?? new Error('IndexedDB request failed')) }
})

const done = async (tx: IDBTransaction): Promise<void> => await new Promise<void>((resolve, reject) => {
  tx.oncomplete = () => { resolve() }
  tx.onerror = tx.onabort = () => { reject(tx.error ?? new Error('IndexedDB transaction failed')) }
})

/** Runs `work` on the store in a connection of its own, closed after. */
const withStore = async <T>(mode: IDBTransactionMode, work: (store: IDBObjectStore) => Promise<T>): Promise<T> => {
  const open = indexedDB.open(STATE_DB, 1)
  open.onupgradeneeded = () => { open.result.createObjectStore(STORE) }
  const db = await request(open)
  try {
    const tx = db.transaction(STORE, mode)
    const [result] = await Promise.all([work(tx.objectStore(STORE)), done(tx)])
    return result
  } finally {
    db.close()
  }
}

const own = (bytes: Uint8Array): Bytes => new Uint8Array(bytes)
/** `bytes` as WebCrypto takes them: the same view when it is over an ArrayBuffer (a checkpoint's tail is megabytes), else a copy. */
const asBuffer = (bytes: Uint8Array): Bytes => bytes.buffer instanceof ArrayBuffer ? bytes as Bytes : own(bytes)
const aadOf = (...parts: Array<string | Uint8Array>): Bytes => {
  const text = parts.map((p) => typeof p === 'string' ? `${p.length}:${p}` : `${p.length}:${Array.from(p, (b) => b.toString(16).padStart(2, '0')).join('')}`).join('|')
  return own(utf8Encode(`orbit-account/state/v1|${text}`))
}

/** The state store of one account, sealed under `key` (32 bytes: `stateKey`). */
export const idbStateStore = (key: Uint8Array): StateStore => {
  const cryptoKey = crypto.subtle.importKey('raw', own(key), { name: 'AES-GCM' }, false, ['encrypt', 'decrypt'])
  const seal = async (plain: Uint8Array, aad: Bytes): Promise<{ iv: Bytes, sealed: ArrayBuffer }> => {
    const iv = own(randomBytes(IV_BYTES))
    return { iv, sealed: await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: aad }, await cryptoKey, asBuffer(plain)) }
  }
  const open = async (name: string, iv: Bytes, sealed: ArrayBuffer, aad: Bytes): Promise<Uint8Array> => {
    try {
      return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: aad }, await cryptoKey, sealed))
    } catch (cause) {
      throw new CorruptStateError(`${name}: does not open with this device's key (damaged, or another device's)`, { cause })
    }
  }
  /** The record under `name` (undefined: none); CorruptStateError when what is there is not a record (another version, a meddler). */
  const get = async (name: string): Promise<StoredRecord | undefined> => {
    const record: unknown = await withStore('readonly', async (store) => await request(store.get(name)))
    if (record === undefined) return undefined
    if (typeof record !== 'object' || record === null) throw new CorruptStateError(`${name}: not a state record`)
    return record as StoredRecord
  }
  const put = async (name: string, record: StoredRecord): Promise<void> => {
    await withStore('readwrite', async (store) => { await request(store.put(record, name)) })
  }
  const isBytes = (v: unknown): v is Bytes => v instanceof Uint8Array
  return {
    read: async (name) => {
      const record = await get(name)
      if (record === undefined) return undefined
      if (record.kind !== 'blob' || !isBytes(record.iv) || !(record.sealed instanceof ArrayBuffer)) throw new CorruptStateError(`${name}: not a state record`)
      return await open(name, record.iv, record.sealed, aadOf('blob', name))
    },
    write: async (name, bytes) => {
      const { iv, sealed } = await seal(bytes, aadOf('blob', name))
      await put(name, { kind: 'blob', iv, sealed })
    },
    writeSplit: async (name, { head, tail }) => {
      const write = own(randomBytes(WRITE_ID_BYTES))
      const h = await seal(head, aadOf('head', name, write, String(tail.length)))
      const t = await seal(tail, aadOf('tail', name, write))
      await put(name, { kind: 'split', write, headIv: h.iv, head: h.sealed, tailIv: t.iv, tail: t.sealed })
    },
    readSplit: async (name) => {
      const record = await get(name)
      if (record === undefined) return undefined
      if (record.kind !== 'split' || !isBytes(record.write) || !isBytes(record.headIv) || !isBytes(record.tailIv) ||
          !(record.head instanceof ArrayBuffer) || !(record.tail instanceof ArrayBuffer)) {
        throw new CorruptStateError(`${name}: not a split state record`)
      }
      const tail = await open(name, record.tailIv, record.tail, aadOf('tail', name, record.write))
      const head = await open(name, record.headIv, record.head, aadOf('head', name, record.write, String(tail.length)))
      let held: Uint8Array | undefined = tail
      const source: ByteSource = {
        length: tail.length,
        bytes: (from, to) => {
          if (held === undefined) throw new CorruptStateError(`${name}: read after the state record was let go`)
          if (from < 0 || to > held.length || to < from) throw new RangeError(`bytes ${from}..${to} are not in the tail (${held.length})`)
          return held.subarray(from, to)
        },
        close: () => { held = undefined }
      }
      return { head, tail: source }
    },
    remove: async (name) => {
      await withStore('readwrite', async (store) => { await request(store.delete(name)) })
    }
  }
}
