/**
 * Lends the core Node's native ChaCha20-Poly1305 (OpenSSL) for large inputs: snapshot
 * parts and carried writes of up to 256 KiB (src/crypto/aead.ts says how XChaCha20 is
 * built on it). Imported for its effect by the Node entry points.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto'
import { AEAD_TAG_LENGTH, useNativeChaCha, type NativeChaCha } from '../crypto/aead.ts'

const ALGORITHM = 'chacha20-poly1305'
const TAG = { authTagLength: AEAD_TAG_LENGTH }

/** The bytes of Node buffers, as a plain Uint8Array over the same memory (the core takes no Buffer). */
const plain = (parts: Buffer[]): Uint8Array => {
  const joined = Buffer.concat(parts)
  return new Uint8Array(joined.buffer, joined.byteOffset, joined.byteLength)
}

export const nodeChaCha: NativeChaCha = {
  seal: (key, nonce, plaintext, aad) => {
    const cipher = createCipheriv(ALGORITHM, key, nonce, TAG)
    cipher.setAAD(aad, { plaintextLength: plaintext.length })
    const body = cipher.update(plaintext)
    const rest = cipher.final()
    return plain([body, rest, cipher.getAuthTag()])
  },
  open: (key, nonce, sealed, aad) => {
    if (sealed.length < AEAD_TAG_LENGTH) throw new Error('sealed input shorter than its tag')
    const body = sealed.subarray(0, sealed.length - AEAD_TAG_LENGTH)
    const decipher = createDecipheriv(ALGORITHM, key, nonce, TAG)
    decipher.setAAD(aad, { plaintextLength: body.length })
    decipher.setAuthTag(sealed.subarray(sealed.length - AEAD_TAG_LENGTH))
    const head = decipher.update(body)
    // Throws when the tag does not verify: nothing decrypted is returned before it.
    const rest = decipher.final()
    return plain([head, rest])
  }
}

useNativeChaCha(nodeChaCha)
