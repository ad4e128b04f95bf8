/**
 * OrbitDB identities for devices, on Ed25519 (OrbitDB's own keystore signs with
 * secp256k1, which verifies ~15x slower). An identity is self-certifying: its id is
 * derived from its signing key, and it signs its id and key with that key. Whether a
 * device belongs to an account is decided by the access controllers, not here.
 */
import * as Block from 'multiformats/block'
import * as dagCbor from '@ipld/dag-cbor'
import { sha256 } from 'multiformats/hashes/sha2'
import { base58btc } from 'multiformats/bases/base58'
import { ComposedStorage, IPFSBlockStorage, LRUStorage } from '../src/orbit/orbitdb.ts'
import type { HeliaNode, OrbitIdentities, OrbitIdentity, StorageBackend } from '../src/orbit/orbitdb.ts'
import { base64urlDecode, base64urlEncode, utf8Encode } from '../src/crypto/bytes.ts'
import { deviceIdFromSigningKey } from './keys.ts'
import { sign as fastSign, verify as fastVerify } from './fast-ed25519.ts'
import { sha256 as sha256Bytes } from '@noble/hashes/sha2.js'
import type { KeyPair } from './keys.ts'
import { InvalidArgumentError } from '../src/errors.ts'

export const DEVICE_IDENTITY_TYPE = 'orbit-account/ed25519'

/**
 * How long to wait for an unknown identity block from the network. An honest writer's
 * identity comes from the peer that sent its entry, quickly; a forged one never comes,
 * and must not hold up the log for long.
 */
const IDENTITY_FETCH_TIMEOUT_MS = 3000
/** An identity that could not be found is not looked for again before this long. */
const MISSING_RETRY_MS = 30_000

interface IdentityFields {
  id: string
  publicKey: string
  signatures: { id: string, publicKey: string }
  type: string
}

const toBytes = (data: Uint8Array | string): Uint8Array => typeof data === 'string' ? utf8Encode(data) : data

/**
 * Signatures already found valid, keyed by signature, key and a hash of the data (so a
 * signature replayed over other data is checked again): an entry kept for a retry, or
 * joined by OrbitDB's own `joinEntry` (tests' thief persona), is checked again cheaply.
 * Data of CACHED_UP_TO bytes or more is not cached: its hash costs as much as the native
 * check (a 256 KiB snapshot part: one SHA-256 against Ed25519's one SHA-512).
 */
const verified = new Map<string, true>()
const MAX_VERIFIED = 20_000
const CACHED_UP_TO = 4096

/**
 * The data's SHA-256 (the key of the cache above, so under CACHED_UP_TO bytes):
 * natively where that is synchronous (Node: multiformats' hasher is node:crypto there),
 * else in JavaScript (WebCrypto's is async: a thread hop costs more than such a hash).
 */
const syncNativeHash = ((): boolean => {
  try {
    return !(sha256.digest(new Uint8Array(0)) instanceof Promise)
  } catch {
    return false
  }
})()

const hashOf = (bytes: Uint8Array): Uint8Array => {
  try {
    if (syncNativeHash) return (sha256.digest(bytes) as Awaited<ReturnType<typeof sha256.digest>>).digest
  } catch {}
  return sha256Bytes(bytes)
}

/** The same, on the platform's native Ed25519 when it has one (log entries: the hot path). */
const verifySignatureFast = async (signature: string, publicKey: string, data: Uint8Array | string): Promise<boolean> => {
  try {
    const bytes = toBytes(data)
    const check = async (): Promise<boolean> => await fastVerify(base64urlDecode(signature, 'signature'), base64urlDecode(publicKey, 'publicKey'), bytes)
    if (bytes.length >= CACHED_UP_TO) return await check()
    const id = `${signature}|${publicKey}|${base64urlEncode(hashOf(bytes))}`
    if (verified.has(id)) return true
    const ok = await check()
    if (ok) {
      if (verified.size >= MAX_VERIFIED) verified.delete(verified.keys().next().value as string)
      verified.set(id, true)
    }
    return ok
  } catch {
    return false
  }
}

const isFields = (v: unknown): v is IdentityFields => {
  if (typeof v !== 'object' || v === null) return false
  const o = v as Record<string, unknown>
  const s = o.signatures as Record<string, unknown> | undefined
  return typeof o.id === 'string' && typeof o.publicKey === 'string' && typeof o.type === 'string' &&
    typeof s === 'object' && s !== null && typeof s.id === 'string' && typeof s.publicKey === 'string'
}

/** Checks the identity's self-certification: id from key, both signatures valid. */
export const isValidDeviceIdentity = async (identity: IdentityFields): Promise<boolean> => {
  if (identity.type !== DEVICE_IDENTITY_TYPE) return false
  let key: Uint8Array
  try {
    key = base64urlDecode(identity.publicKey, 'publicKey')
    if (key.length !== 32) return false
  } catch {
    return false
  }
  if (deviceIdFromSigningKey(key) !== identity.id) return false
  return await verifySignatureFast(identity.signatures.id, identity.publicKey, identity.id) &&
    await verifySignatureFast(identity.signatures.publicKey, identity.publicKey, identity.publicKey + identity.signatures.id)
}

export interface DeviceIdentities {
  identities: OrbitIdentities
  /** The identity of this device, when it has a signing key. */
  identity?: OrbitIdentity
}

/**
 * Makes the `identities` object OrbitDB uses, and (given a signing key pair) this
 * device's identity. Identity blocks are stored in and fetched from IPFS.
 */
export const createDeviceIdentities = async (options: { ipfs: HeliaNode, signing?: KeyPair }): Promise<DeviceIdentities> => {
  const storage: StorageBackend = await ComposedStorage(
    await LRUStorage({ size: 1000 }),
    await IPFSBlockStorage({ ipfs: options.ipfs, pin: true, timeout: IDENTITY_FETCH_TIMEOUT_MS })
  )
  const verified = new Map<string, boolean>()
  const signing = options.signing
  const ownPublicKey = signing !== undefined ? base64urlEncode(signing.publicKey) : undefined

  const sign = async (identity: OrbitIdentity, data: Uint8Array | string): Promise<string> => {
    if (signing === undefined || identity.publicKey !== ownPublicKey) {
      throw new InvalidArgumentError('this node holds no signing key for that identity')
    }
    return base64urlEncode(await fastSign(signing.secretKey, toBytes(data)))
  }
  const verify = async (signature: string, publicKey: string, data: Uint8Array | string): Promise<boolean> =>
    await verifySignatureFast(signature, publicKey, data)

  const build = async (fields: IdentityFields): Promise<OrbitIdentity> => {
    const value = { id: fields.id, publicKey: fields.publicKey, signatures: { id: fields.signatures.id, publicKey: fields.signatures.publicKey }, type: fields.type }
    const { cid, bytes } = await Block.encode({ value, codec: dagCbor, hasher: sha256 })
    return { ...value, hash: cid.toString(base58btc), bytes: Uint8Array.from(bytes), sign, verify }
  }

  const known = new Map<string, OrbitIdentity>()
  const missing = new Map<string, number>()
  const getIdentity = async (hash: string): Promise<OrbitIdentity | undefined> => {
    const cached = known.get(hash)
    if (cached !== undefined) return cached
    if ((missing.get(hash) ?? 0) > Date.now()) return undefined
    const identity = await fetchIdentity(hash)
    if (identity !== undefined) {
      if (known.size >= 1000) known.delete(known.keys().next().value as string)
      known.set(hash, identity)
    } else {
      if (missing.size >= 10_000) missing.clear()
      missing.set(hash, Date.now() + MISSING_RETRY_MS)
    }
    return identity
  }
  const fetchIdentity = async (hash: string): Promise<OrbitIdentity | undefined> => {
    let bytes: Uint8Array | undefined
    try {
      bytes = await storage.get(hash)
    } catch {
      return undefined
    }
    if (bytes === undefined) return undefined
    try {
      const { value } = await Block.decode({ bytes, codec: dagCbor, hasher: sha256 })
      if (!isFields(value)) return undefined
      const identity = await build(value)
      return identity.hash === hash ? identity : undefined
    } catch {
      return undefined
    }
  }

  const verifyIdentity = async (identity: OrbitIdentity): Promise<boolean> => {
    if (!isFields(identity) || typeof identity.hash !== 'string') return false
    const cached = verified.get(identity.hash)
    if (cached !== undefined) return cached
    const rebuilt = await build(identity)
    const ok = rebuilt.hash === identity.hash && await isValidDeviceIdentity(identity)
    verified.set(identity.hash, ok)
    return ok
  }

  const identities: OrbitIdentities = {
    getIdentity,
    verifyIdentity,
    sign,
    verify,
    keystore: { close: async () => {} }
  }

  if (signing === undefined || ownPublicKey === undefined) return { identities }
  const id = deviceIdFromSigningKey(signing.publicKey)
  const idSignature = base64urlEncode(await fastSign(signing.secretKey, utf8Encode(id)))
  const keySignature = base64urlEncode(await fastSign(signing.secretKey, utf8Encode(ownPublicKey + idSignature)))
  const identity = await build({ id, publicKey: ownPublicKey, signatures: { id: idSignature, publicKey: keySignature }, type: DEVICE_IDENTITY_TYPE })
  await storage.put(identity.hash, identity.bytes)
  return { identities, identity }
}
