/**
 * Ed25519 through WebCrypto where the platform has it (Node 22+, current browsers):
 * native code, many times faster than pure JavaScript, which matters because every log
 * entry is signed once and verified by every peer that receives it. Falls back to the
 * audited @noble implementation (identity/keys.ts) where WebCrypto lacks Ed25519.
 */
import { signBytes, verifyBytes } from './keys.ts'

// PKCS#8 wrapping of a 32-byte Ed25519 seed (RFC 8410).
const PKCS8_PREFIX = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20])
const MAX_CACHED_KEYS = 1000

const subtle: SubtleCrypto | undefined = globalThis.crypto?.subtle
let available: Promise<boolean> | undefined

const probe = async (): Promise<boolean> => {
  if (subtle === undefined) return false
  try {
    const seed = new Uint8Array(32).fill(7)
    const pkcs8 = new Uint8Array([...PKCS8_PREFIX, ...seed])
    const key = await subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, false, ['sign'])
    const msg = new Uint8Array([1, 2, 3])
    const sig = new Uint8Array(await subtle.sign('Ed25519', key, msg))
    // Must agree with the reference implementation, or it is not used.
    return sig.length === 64 && verifyBytes(sig, (await import('./keys.ts')).signingPublicKey(seed), msg)
  } catch {
    return false
  }
}

const hasNative = async (): Promise<boolean> => await (available ??= probe())

const publicKeys = new Map<string, CryptoKey>()
const secretKeys = new WeakMap<Uint8Array, CryptoKey>()

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')

export const sign = async (secretKey: Uint8Array, msg: Uint8Array): Promise<Uint8Array> => {
  if (secretKey.length !== 32 || !(await hasNative()) || subtle === undefined) return signBytes(secretKey, msg)
  let key = secretKeys.get(secretKey)
  if (key === undefined) {
    key = await subtle.importKey('pkcs8', new Uint8Array([...PKCS8_PREFIX, ...secretKey]), { name: 'Ed25519' }, false, ['sign'])
    secretKeys.set(secretKey, key)
  }
  return new Uint8Array(await subtle.sign('Ed25519', key, msg as Uint8Array<ArrayBuffer>))
}

/** True only for a valid signature; malformed input yields false, never an exception. */
export const verify = async (signature: Uint8Array, publicKey: Uint8Array, msg: Uint8Array): Promise<boolean> => {
  if (signature.length !== 64 || publicKey.length !== 32) return false
  if (!(await hasNative()) || subtle === undefined) return verifyBytes(signature, publicKey, msg)
  try {
    const id = hex(publicKey)
    let key = publicKeys.get(id)
    if (key === undefined) {
      key = await subtle.importKey('raw', publicKey as Uint8Array<ArrayBuffer>, { name: 'Ed25519' }, false, ['verify'])
      if (publicKeys.size >= MAX_CACHED_KEYS) publicKeys.delete(publicKeys.keys().next().value as string)
      publicKeys.set(id, key)
    }
    return await subtle.verify('Ed25519', key, signature as Uint8Array<ArrayBuffer>, msg as Uint8Array<ArrayBuffer>)
  } catch {
    return false
  }
}
