/**
 * Device key pairs: Ed25519 for signing, X25519 for receiving lockboxes.
 * A device id is 'd' + lowercase base32 of the first 15 bytes of sha256(signing public key).
 */
import { ed25519, x25519 } from '@noble/curves/ed25519.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { assertBytes, base32LowerEncode } from '../src/crypto/bytes.ts'
import type { DeviceId } from '../src/types.ts'

export type KeyPair = { secretKey: Uint8Array, publicKey: Uint8Array }
export type DeviceKeys = { signing: KeyPair, box: KeyPair }

export const SIGNING_KEY_LENGTH = 32
export const BOX_KEY_LENGTH = 32
export const SIGNATURE_LENGTH = 64

/** A device id: 'd' and 24 lowercase base32 characters (the first 15 bytes of SHA-256 of its signing key). */
export const DEVICE_ID_PATTERN = /^d[a-z2-7]{24}$/

export const generateDeviceKeys = (): DeviceKeys => {
  const signing = ed25519.keygen()
  const box = x25519.keygen()
  return {
    signing: { secretKey: signing.secretKey, publicKey: signing.publicKey },
    box: { secretKey: box.secretKey, publicKey: box.publicKey }
  }
}

/** Ed25519 public key for a 32-byte secret key (seed). */
export const signingPublicKey = (secretKey: Uint8Array): Uint8Array =>
  ed25519.getPublicKey(assertBytes(secretKey, 'signing secretKey', SIGNING_KEY_LENGTH))

/** X25519 public key for a 32-byte secret key. */
export const boxPublicKey = (secretKey: Uint8Array): Uint8Array =>
  x25519.getPublicKey(assertBytes(secretKey, 'box secretKey', BOX_KEY_LENGTH))

export const deviceIdFromSigningKey = (publicKey: Uint8Array): DeviceId => {
  assertBytes(publicKey, 'signing publicKey', SIGNING_KEY_LENGTH)
  return ('d' + base32LowerEncode(sha256(publicKey).subarray(0, 15))) as DeviceId
}

export const isDeviceId = (value: unknown): value is DeviceId => typeof value === 'string' && DEVICE_ID_PATTERN.test(value)

export const signBytes = (secretKey: Uint8Array, msg: Uint8Array): Uint8Array => {
  assertBytes(secretKey, 'signing secretKey', SIGNING_KEY_LENGTH)
  assertBytes(msg, 'msg')
  return ed25519.sign(msg, secretKey)
}

/** True only for a valid signature; malformed input of any kind yields false, never an exception. */
export const verifyBytes = (signature: Uint8Array, publicKey: Uint8Array, msg: Uint8Array): boolean => {
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_LENGTH) return false
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== SIGNING_KEY_LENGTH) return false
  if (!(msg instanceof Uint8Array)) return false
  try {
    return ed25519.verify(signature, msg, publicKey, { zip215: false })
  } catch {
    return false
  }
}
