/**
 * X25519 through WebCrypto where the platform has it (Node 22+, current browsers):
 * native code. It serves what a device does as its store opens (check its box key pair,
 * open the lockbox of its epoch key): the JavaScript implementation's first use in a
 * process costs ~45 ms, its later uses ~2 ms. Native X25519 is used only where it gives
 * RFC 7748's own answers (section 6.1); else the audited @noble one.
 */
import { x25519 } from '@noble/curves/ed25519.js'
import { base64urlDecode, equalBytes, hexDecode } from './bytes.ts'

// PKCS#8 wrapping of a 32-byte X25519 secret key (RFC 8410).
const PKCS8_PREFIX = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20])

const subtle: SubtleCrypto | undefined = globalThis.crypto?.subtle
let available: Promise<boolean> | undefined

/** RFC 7748, section 6.1: Alice's secret and public keys, Bob's public key, and their shared secret. */
const KAT = {
  alice: hexDecode('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'),
  alicePublic: hexDecode('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a'),
  bobPublic: hexDecode('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f'),
  shared: hexDecode('4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742')
}

const importSecret = async (secretKey: Uint8Array, extractable: boolean): Promise<CryptoKey> =>
  await (subtle as SubtleCrypto).importKey('pkcs8', new Uint8Array([...PKCS8_PREFIX, ...secretKey]), { name: 'X25519' }, extractable, ['deriveBits'])

const nativePublicKey = async (secretKey: Uint8Array): Promise<Uint8Array> => {
  const x = (await (subtle as SubtleCrypto).exportKey('jwk', await importSecret(secretKey, true))).x
  if (typeof x !== 'string') throw new Error('no public key in the exported JWK')
  return base64urlDecode(x, 'JWK x')
}

const nativeShared = async (secretKey: Uint8Array, publicKey: Uint8Array): Promise<Uint8Array> => {
  const s = subtle as SubtleCrypto
  const pub = await s.importKey('raw', publicKey as Uint8Array<ArrayBuffer>, { name: 'X25519' }, false, [])
  return new Uint8Array(await s.deriveBits({ name: 'X25519', public: pub }, await importSecret(secretKey, false), 256))
}

const probe = async (): Promise<boolean> => {
  if (subtle === undefined) return false
  try {
    return equalBytes(await nativePublicKey(KAT.alice), KAT.alicePublic) && equalBytes(await nativeShared(KAT.alice, KAT.bobPublic), KAT.shared)
  } catch {
    return false
  }
}

/** Whether native X25519 is there and passed the known-answer test (probed once). */
export const hasNativeX25519 = async (): Promise<boolean> => await (available ??= probe())

/** The X25519 public key of a 32-byte secret key. */
export const x25519PublicKey = async (secretKey: Uint8Array): Promise<Uint8Array> =>
  secretKey.length === 32 && await hasNativeX25519() ? await nativePublicKey(secretKey) : x25519.getPublicKey(secretKey)

/**
 * The X25519 shared secret, or undefined where there is none: a low-order public key, or
 * an all-zero result (RFC 7748, section 6.1), which either implementation refuses.
 */
export const x25519Shared = async (secretKey: Uint8Array, publicKey: Uint8Array): Promise<Uint8Array | undefined> => {
  let shared: Uint8Array
  try {
    shared = secretKey.length === 32 && publicKey.length === 32 && await hasNativeX25519() ? await nativeShared(secretKey, publicKey) : x25519.getSharedSecret(secretKey, publicKey)
  } catch {
    return undefined
  }
  let acc = 0
  for (const b of shared) acc |= b
  return acc === 0 ? undefined : shared
}
