/**
 * Sealed box to one device's X25519 public key (used to hand a group key to a device).
 *
 *   eph      = fresh X25519 key pair
 *   shared   = x25519(eph.secret, recipientPub)
 *   key      = HKDF-SHA256(shared, salt = ephPub || recipientPub, info = 'orbit-account/lockbox/v1', 32)
 *   output   = 0x01 || ephPub (32) || aead.encrypt(key, plaintext, aad)
 *
 * Low-order public keys (all-zero shared secret) are refused.
 */
import { x25519 } from '@noble/curves/ed25519.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { DecryptionError, InvalidArgumentError, InvalidCiphertextError } from '../errors.ts'
import { AEAD_OVERHEAD, decrypt, encrypt } from './aead.ts'
import { assertBytes, concatBytes, utf8Encode } from './bytes.ts'
import { x25519PublicKey, x25519Shared, x25519SharedSync } from './fast-x25519.ts'

export const LOCKBOX_VERSION = 0x01
export const LOCKBOX_INFO = 'orbit-account/lockbox/v1'
const X25519_LENGTH = 32
/** Bytes added to the plaintext length by `sealTo`. */
export const LOCKBOX_OVERHEAD = 1 + X25519_LENGTH + AEAD_OVERHEAD

const INFO = utf8Encode(LOCKBOX_INFO)

const deriveKey = (shared: Uint8Array, ephPub: Uint8Array, recipientPub: Uint8Array): Uint8Array =>
  hkdf(sha256, shared, concatBytes(ephPub, recipientPub), INFO, 32)

export const sealTo = (recipientBoxPublicKey: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array => {
  assertBytes(recipientBoxPublicKey, 'recipientBoxPublicKey', X25519_LENGTH)
  assertBytes(plaintext, 'plaintext')
  assertBytes(aad, 'aad')
  const eph = x25519.keygen()
  try {
    const shared = x25519SharedSync(eph.secretKey, recipientBoxPublicKey)
    if (shared === undefined) {
      throw new InvalidArgumentError('recipientBoxPublicKey is a low-order X25519 point')
    }
    const key = deriveKey(shared, eph.publicKey, recipientBoxPublicKey)
    shared.fill(0)
    try {
      return concatBytes(Uint8Array.of(LOCKBOX_VERSION), eph.publicKey, encrypt(key, plaintext, aad))
    } finally {
      key.fill(0)
    }
  } finally {
    eph.secretKey.fill(0)
  }
}

/** The checked parts of a lockbox: the sender's ephemeral key and the sealed text. */
const partsOf = (recipientBoxSecretKey: Uint8Array, box: Uint8Array, aad: Uint8Array): { ephPub: Uint8Array, sealed: Uint8Array } => {
  assertBytes(recipientBoxSecretKey, 'recipientBoxSecretKey', X25519_LENGTH)
  assertBytes(box, 'box')
  assertBytes(aad, 'aad')
  if (box.length < LOCKBOX_OVERHEAD) {
    throw new InvalidCiphertextError(`lockbox too short: ${box.length} bytes, need at least ${LOCKBOX_OVERHEAD}`)
  }
  if (box[0] !== LOCKBOX_VERSION) {
    throw new InvalidCiphertextError(`unknown lockbox version 0x${box[0]!.toString(16).padStart(2, '0')}`)
  }
  return { ephPub: box.subarray(1, 1 + X25519_LENGTH), sealed: box.subarray(1 + X25519_LENGTH) }
}

const decryptWith = (shared: Uint8Array | undefined, ephPub: Uint8Array, recipientPub: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array => {
  if (shared === undefined) {
    throw new DecryptionError('lockbox ephemeral key is a low-order X25519 point')
  }
  const key = deriveKey(shared, ephPub, recipientPub)
  shared.fill(0)
  try {
    return decrypt(key, sealed, aad)
  } finally {
    key.fill(0)
  }
}

export const openBox = (recipientBoxSecretKey: Uint8Array, box: Uint8Array, aad: Uint8Array): Uint8Array => {
  const { ephPub, sealed } = partsOf(recipientBoxSecretKey, box, aad)
  return decryptWith(x25519SharedSync(recipientBoxSecretKey, ephPub), ephPub, x25519.getPublicKey(recipientBoxSecretKey), sealed, aad)
}

/** `openBox` with native X25519 where the platform has it (fast-x25519.ts): for a process's first lockbox. */
export const openBoxFast = async (recipientBoxSecretKey: Uint8Array, box: Uint8Array, aad: Uint8Array): Promise<Uint8Array> => {
  const { ephPub, sealed } = partsOf(recipientBoxSecretKey, box, aad)
  return decryptWith(await x25519Shared(recipientBoxSecretKey, ephPub), ephPub, await x25519PublicKey(recipientBoxSecretKey), sealed, aad)
}

/** Associated data binding a group-key lockbox to its account, epoch and recipient device. */
export const lockboxAad = (account: string, epoch: number, device: string): Uint8Array => {
  for (const [label, value] of [['account', account], ['device', device]] as const) {
    if (typeof value !== 'string' || value.length === 0) {
      throw new InvalidArgumentError(`${label} must be a non-empty string`)
    }
    if (value.includes('|')) throw new InvalidArgumentError(`${label} must not contain '|'`)
  }
  if (!Number.isSafeInteger(epoch) || epoch < 0) {
    throw new InvalidArgumentError(`epoch must be a non-negative integer, got ${String(epoch)}`)
  }
  return utf8Encode(`${LOCKBOX_INFO}|${account}|${epoch}|${device}`)
}
