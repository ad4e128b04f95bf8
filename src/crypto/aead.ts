/**
 * XChaCha20-Poly1305 with a fresh random 24-byte nonce for every encryption.
 * Wire format: version (1 byte, 0x01) || nonce (24) || ciphertext || tag (16).
 */
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { DecryptionError, InvalidCiphertextError } from '../errors.ts'
import { assertBytes, concatBytes, randomBytes } from './bytes.ts'

export const AEAD_VERSION = 0x01
export const AEAD_KEY_LENGTH = 32
export const AEAD_NONCE_LENGTH = 24
export const AEAD_TAG_LENGTH = 16
/** Bytes added to the plaintext length by `encrypt`. */
export const AEAD_OVERHEAD = 1 + AEAD_NONCE_LENGTH + AEAD_TAG_LENGTH

/** A fresh random 32-byte key. */
export const generateKey = (): Uint8Array => randomBytes(AEAD_KEY_LENGTH)

export const encrypt = (key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array => {
  assertBytes(key, 'key', AEAD_KEY_LENGTH)
  assertBytes(plaintext, 'plaintext')
  assertBytes(aad, 'aad')
  const nonce = randomBytes(AEAD_NONCE_LENGTH)
  const sealed = xchacha20poly1305(key, nonce, aad).encrypt(plaintext)
  return concatBytes(Uint8Array.of(AEAD_VERSION), nonce, sealed)
}

export const decrypt = (key: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array => {
  assertBytes(key, 'key', AEAD_KEY_LENGTH)
  assertBytes(sealed, 'sealed')
  assertBytes(aad, 'aad')
  if (sealed.length < AEAD_OVERHEAD) {
    throw new InvalidCiphertextError(`ciphertext too short: ${sealed.length} bytes, need at least ${AEAD_OVERHEAD}`)
  }
  if (sealed[0] !== AEAD_VERSION) {
    throw new InvalidCiphertextError(`unknown ciphertext version 0x${sealed[0]!.toString(16).padStart(2, '0')}`)
  }
  const nonce = sealed.subarray(1, 1 + AEAD_NONCE_LENGTH)
  const body = sealed.subarray(1 + AEAD_NONCE_LENGTH)
  try {
    return xchacha20poly1305(key, nonce, aad).decrypt(body)
  } catch (cause) {
    throw new DecryptionError('decryption failed: wrong key, wrong associated data or tampered ciphertext', { cause })
  }
}
