/**
 * The one typed door to @orbitdb/core, which ships no types. Everything else in the
 * project imports OrbitDB through this file, so the untyped surface stays here.
 */
import type { PeerId, Stream, StreamHandler } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
// @ts-expect-error: @orbitdb/core ships no type declarations; they are given below.
import * as core from '@orbitdb/core'
import * as dagCbor from '@ipld/dag-cbor'
import { base58btc } from 'multiformats/bases/base58'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { EntryTooLargeError } from '../errors.ts'
import { MAX_ENTRY_BYTES } from './caps.ts'

/** A Helia node as OrbitDB uses it. */
export interface HeliaNode {
  libp2p: Libp2pNode
  blockstore: {
    get: (cid: unknown, options?: { signal?: AbortSignal }) => AsyncIterable<Uint8Array> | Promise<Uint8Array>
    has: (cid: unknown) => Promise<boolean>
    delete?: (cid: unknown) => Promise<void>
  }
  stop: () => Promise<void>
}

/** The libp2p surface this project uses. */
export interface Libp2pNode {
  handle: (protocol: string, handler: StreamHandler, options?: { maxInboundStreams?: number }) => Promise<void>
  unhandle: (protocol: string) => Promise<void>
  peerStore: { get: (peerId: PeerId) => Promise<{ addresses: Array<{ multiaddr: Multiaddr }> }> }
  dialProtocol: (peer: Multiaddr | Multiaddr[], protocol: string, options?: { signal?: AbortSignal }) => Promise<Stream>
  peerId: { toString: () => string }
  getMultiaddrs: () => Array<{ toString: () => string }>
  getPeers: () => Array<{ toString: () => string }>
  getConnections: () => Array<{ id: string, remotePeer: PeerId, status: string, close: () => Promise<void> }>
  dial: (addr: unknown, options?: { signal?: AbortSignal }) => Promise<unknown>
  addEventListener: (type: string, fn: (event: CustomEvent) => void) => void
  removeEventListener: (type: string, fn: (event: CustomEvent) => void) => void
  services: Record<string, unknown>
  status: string
  stop: () => Promise<void>
}

export interface LogClock { id: string, time: number }

/** An entry of an OrbitDB log (oplog). */
export interface LogEntry<P = unknown> {
  hash: string
  id: string
  payload: P
  next: string[]
  refs: string[]
  clock: LogClock
  v: number
  /** The writer's public key (as in its identity). */
  key: string
  /** Hash of the writer's identity block. */
  identity: string
  sig: string
}

export interface OrbitLog {
  joinEntry: (entry: LogEntry) => Promise<boolean>
  append: (payload: unknown, options?: { referencesCount?: number }) => Promise<LogEntry>
  close: () => Promise<void>
  clear: () => Promise<void>
  heads: () => Promise<LogEntry[]>
  get: (hash: string) => Promise<LogEntry | undefined>
  has: (hash: string) => Promise<boolean>
  iterator: (options?: { amount?: number }) => AsyncIterable<LogEntry>
  traverse: (roots?: LogEntry[] | null, shouldStop?: (entry: LogEntry) => Promise<boolean> | boolean) => AsyncIterable<LogEntry>
  values: () => Promise<LogEntry[]>
}

export interface OrbitIdentity {
  id: string
  publicKey: string
  signatures: { id: string, publicKey: string }
  type: string
  hash: string
  bytes: Uint8Array
  sign: (identity: OrbitIdentity, data: Uint8Array | string) => Promise<string>
  verify: (signature: string, publicKey: string, data: Uint8Array | string) => Promise<boolean>
}

export interface OrbitIdentities {
  createIdentity?: (options?: unknown) => Promise<OrbitIdentity>
  getIdentity: (hash: string) => Promise<OrbitIdentity | undefined>
  verifyIdentity: (identity: OrbitIdentity) => Promise<boolean>
  sign: (identity: OrbitIdentity, data: Uint8Array | string) => Promise<string>
  verify: (signature: string, publicKey: string, data: Uint8Array | string) => Promise<boolean>
  keystore: { close: () => Promise<void> }
}

export interface OrbitEvents {
  on: (event: string, fn: (...args: unknown[]) => void) => void
  off: (event: string, fn: (...args: unknown[]) => void) => void
  emit: (event: string, ...args: unknown[]) => boolean
}

/** What the core `Database` function returns; custom database types extend it. */
export interface BaseDatabase {
  address: string
  name: string
  identity: OrbitIdentity
  meta: Record<string, unknown>
  log: OrbitLog
  events: OrbitEvents
  sync: { start: () => Promise<void>, stop: () => Promise<void>, add: (entry: LogEntry) => Promise<void> }
  peers: Set<string>
  access: AccessController
  /** Appends an op; `references`: how many earlier entries it names (OrbitDB's `referencesCount`, else the log's own). */
  addOperation: (op: unknown, options?: { references?: number }) => Promise<string>
  close: () => Promise<void>
  drop: () => Promise<void>
}

export interface DatabaseArgs {
  directory?: string
  ipfs: HeliaNode
  identity: OrbitIdentity
  address: string
  name: string
  access: AccessController
  meta: Record<string, unknown>
  syncAutomatically?: boolean
  headsStorage?: unknown
  entryStorage?: unknown
  indexStorage?: unknown
  referencesCount?: number
  /**
   * Told of each entry the log gains. `joined`: the ancestors joined with it, those that
   * were not in the log before (our ManagedDatabase's joins only; OrbitDB passes none).
   */
  onUpdate?: (log: OrbitLog, entry: LogEntry, joined?: LogEntry[]) => Promise<void>
}

export interface AccessController {
  type: string
  address: string
  canAppend: (entry: LogEntry) => Promise<boolean>
  close?: () => Promise<void>
  /**
   * Could a refused entry be accepted later (an admission naming its writer may still
   * arrive)? False: it is not kept for a retry. Absent: it may.
   */
  mayRetry?: (entry: LogEntry) => Promise<boolean>
  /**
   * How many more entries the writer of `entry` may add to this log (Infinity: no bound).
   * The database checks a join's whole batch against it. Absent: no bound.
   */
  allowance?: (entry: LogEntry) => Promise<number>
  /**
   * The log's cap: the largest entry in bytes as encoded (src/orbit/caps.ts). Every peer
   * refuses a larger one, and this device does not write one. Absent: MAX_ENTRY_BYTES.
   */
  maxEntryBytes?: number
  /**
   * May an entry join without an ancestor no peer served in time (src/orbit/absent.ts)?
   * Yes for a data log; never for the registry, whose rules read each op's whole causal
   * past. Absent: no.
   */
  holes?: boolean
}

export interface AccessControllerArgs {
  orbitdb: { open: OrbitDB['open'], identity: OrbitIdentity, ipfs: HeliaNode }
  identities: OrbitIdentities
  address?: string
  name?: string
}

export type AccessControllerFactory = ((...args: never[]) => (args: AccessControllerArgs) => Promise<AccessController>) & { type: string }

export interface OpenOptions {
  type?: string
  meta?: Record<string, unknown>
  sync?: boolean
  Database?: (args: DatabaseArgs) => Promise<BaseDatabase>
  AccessController?: (args: AccessControllerArgs) => Promise<AccessController>
  referencesCount?: number
  entryStorage?: StorageBackend
  signal?: AbortSignal
}

export interface OrbitDB {
  id: string
  open: (address: string, options?: OpenOptions) => Promise<BaseDatabase>
  stop: () => Promise<void>
  identity: OrbitIdentity
  identities: OrbitIdentities
  ipfs: HeliaNode
  directory: string
}

export interface StorageBackend {
  put: (hash: string, data: Uint8Array) => Promise<void>
  get: (hash: string, signal?: AbortSignal) => Promise<Uint8Array | undefined>
  del?: (hash: string) => Promise<void>
  close?: () => Promise<void>
}

export interface EntryModule {
  create: (identity: OrbitIdentity, id: string, payload: unknown, encryptPayloadFn?: unknown, clock?: LogClock | null, next?: string[], refs?: string[]) => Promise<Omit<LogEntry, 'hash'>>
  encode: (entry: Omit<LogEntry, 'hash'>) => Promise<{ hash: string, bytes: Uint8Array }>
  decode: (bytes: Uint8Array) => Promise<LogEntry>
  verify: (identities: { verify: OrbitIdentities['verify'] }, entry: LogEntry) => Promise<boolean>
}

interface Core {
  Entry: EntryModule
  createOrbitDB: (options: { ipfs: HeliaNode, identity?: OrbitIdentity, identities?: OrbitIdentities, directory?: string, id?: string }) => Promise<OrbitDB>
  Database: (args: DatabaseArgs) => Promise<BaseDatabase>
  useAccessController: (ac: AccessControllerFactory) => void
  Log: (identity: OrbitIdentity, options: { logId: string, access: AccessController, entryStorage: unknown, headsStorage: unknown, indexStorage: unknown }) => Promise<OrbitLog>
  isValidAddress: (address: string) => boolean
  parseAddress: (address: string) => { protocol: string, hash: string, toString: () => string }
  IPFSBlockStorage: (options: { ipfs: HeliaNode, pin?: boolean, timeout?: number }) => Promise<StorageBackend>
  LRUStorage: (options: { size: number }) => Promise<StorageBackend>
  ComposedStorage: (a: StorageBackend, b: StorageBackend) => Promise<StorageBackend>
  LevelStorage: (options: { path: string, valueEncoding?: string }) => Promise<StorageBackend>
  MemoryStorage: () => Promise<StorageBackend>
  /** OrbitDB's own identities (keystore at `path`): for tests that build a bare log. */
  Identities: (options: { path: string }) => Promise<OrbitIdentities>
}

const typed = core as unknown as Core

export const createOrbitDB: Core['createOrbitDB'] = typed.createOrbitDB
export const Entry: EntryModule = typed.Entry

/**
 * OrbitDB's `Entry.verify`, less its one waste: it builds the signed bytes with
 * `Block.encode`, which also hashes them for a CID it never uses (for a 256 KiB snapshot
 * part, a SHA-256 of it per check). The signed bytes are the same: `Block.encode`'s are
 * the codec's encoding of the same value, which this makes directly.
 */
export const verifyEntry = async (identities: { verify: OrbitIdentities['verify'] }, entry: LogEntry): Promise<boolean> => {
  const e = entry as LogEntry & { _payload?: unknown }
  if (e.id === undefined || e.next === undefined || e.payload === undefined || e.v === undefined || e.clock === undefined || e.refs === undefined) throw new Error('Invalid Log entry')
  if (typeof e.key !== 'string' || e.key.length === 0) throw new Error('Entry doesn\'t have a key')
  if (typeof e.sig !== 'string' || e.sig.length === 0) throw new Error('Entry doesn\'t have a signature')
  const value = { id: e.id, payload: e._payload ?? e.payload, next: e.next, refs: e.refs, clock: e.clock, v: e.v }
  return await identities.verify(e.sig, e.key, dagCbor.encode(value))
}

/**
 * OrbitDB decodes an entry (its CBOR, and its CID as base58) every time a log reads it
 * from storage: each append reads the last 16 entries again to name them as refs, and a
 * join re-reads what it traverses (a third of the CPU of a two-device write load,
 * measured). Our entry storage keeps recent entries' bytes in an LRU, which hands back
 * the same byte array each time, so the decoded entry is kept per byte array (the last
 * DECODED_MAX of them) and each caller gets its own shallow copy. Only
 * byte arrays read through `withDecodeCache` count: any other OrbitDB log in the process
 * (the benchmark's plain one) decodes as before, and so do entries that use OrbitDB's own
 * encryption (never used here).
 */
const decodeEntry = typed.Entry.decode.bind(typed.Entry) as (bytes: Uint8Array, ...rest: unknown[]) => Promise<LogEntry>
const ours = new WeakSet<Uint8Array>()
/** The most recently read entries (an append's refs and the heads are the hot ones); bounded so memory stays flat. */
const DECODED_MAX = 1000
const decodedEntries = new Map<Uint8Array, Promise<LogEntry>>()
/** The encoded size of each entry object decode handed out (see `encodedSize`). */
const sizes = new WeakMap<object, number>()
;(typed.Entry as { decode: (bytes: Uint8Array, ...rest: unknown[]) => Promise<LogEntry> }).decode = async (bytes, ...rest) => {
  const entry = await decodeChecked(bytes, rest)
  sizes.set(entry, bytes.byteLength)
  return entry
}

/**
 * Bytes from anywhere but our own entry storage (a head message from a peer, a fetched
 * block) are checked against the largest entry any of our logs takes before they are
 * decoded: an oversized one costs a hash, never a decode.
 */
const decodeChecked = async (bytes: Uint8Array, rest: unknown[]): Promise<LogEntry> => {
  if (!ours.has(bytes) && bytes.byteLength > MAX_ENTRY_BYTES) throw new OversizedEntryError(await hashOf(bytes), bytes.byteLength)
  if (!ours.has(bytes) || rest.some((fn) => fn !== undefined)) return await decodeEntry(bytes, ...rest)
  let decoding = decodedEntries.get(bytes)
  if (decoding !== undefined) {
    decodedEntries.delete(bytes)
  } else {
    decoding = decodeEntry(bytes)
    decoding.catch(() => { decodedEntries.delete(bytes) })
    if (decodedEntries.size >= DECODED_MAX) decodedEntries.delete(decodedEntries.keys().next().value as Uint8Array)
  }
  decodedEntries.set(bytes, decoding)
  return { ...(await decoding) }
}

/** The hash (base58 CID, as OrbitDB names entries) of an entry's bytes. */
const hashOf = async (bytes: Uint8Array): Promise<string> =>
  CID.create(1, dagCbor.code, await sha256.digest(bytes)).toString(base58btc)

/** An entry over the largest any log takes, refused before it was decoded. */
export class OversizedEntryError extends EntryTooLargeError {
  readonly hash: string
  constructor (hash: string, bytes: number) {
    super(`entry ${hash} is ${bytes} bytes; no log takes more than ${MAX_ENTRY_BYTES}`)
    this.hash = hash
  }
}

/**
 * The size in bytes of an entry as encoded: known for every entry `Entry.decode` handed
 * out; otherwise (an entry just created) it is encoded again to count.
 */
/** Does the log hold every one of these entries? */
export const holdsAll = async (log: { has: (hash: string) => Promise<boolean> }, hashes: string[]): Promise<boolean> => {
  for (const hash of hashes) if (!(await log.has(hash))) return false
  return true
}

export const encodedSize = (entry: LogEntry | Omit<LogEntry, 'hash'>): number => {
  const known = sizes.get(entry)
  if (known !== undefined) return known
  // As Entry.encode does: everything but the hash.
  const { hash: _hash, ...fields } = entry as LogEntry
  return dagCbor.encode(fields).byteLength
}

/** An entry storage whose entries are decoded once per cached byte array (see above). */
export const withDecodeCache = (storage: StorageBackend): StorageBackend => ({
  ...storage,
  get: async (hash, signal) => {
    const bytes = await storage.get(hash, signal)
    if (bytes !== undefined) ours.add(bytes)
    return bytes
  }
})
export const Database: Core['Database'] = typed.Database
export const Log: Core['Log'] = typed.Log
export const useAccessController: Core['useAccessController'] = typed.useAccessController
export const isValidAddress: Core['isValidAddress'] = typed.isValidAddress
export const parseAddress: Core['parseAddress'] = typed.parseAddress
export const IPFSBlockStorage: Core['IPFSBlockStorage'] = typed.IPFSBlockStorage
export const LRUStorage: Core['LRUStorage'] = typed.LRUStorage
export const ComposedStorage: Core['ComposedStorage'] = typed.ComposedStorage
export const LevelStorage: Core['LevelStorage'] = typed.LevelStorage
export const MemoryStorage: Core['MemoryStorage'] = typed.MemoryStorage
export const Identities: Core['Identities'] = typed.Identities
