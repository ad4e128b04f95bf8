/**
 * X25519 through WebCrypto where the platform has it (Node 22+, current browsers):
 * native code. It serves what a device does as its store opens (check its box key pair,
 * open the lockbox of its epoch key): the JavaScript implementation's first use in a
 * process costs ~45 ms, its later uses ~2 ms. Native X25519 is used only where it gives
 * RFC 7748's own answers (section 6.1); else the audited @noble one.
 */
import { x25519 } from '@noble/curves/ed25519.js'
import { equalBytes, hexDecode } from './bytes.ts'
import { importSecretKey, publicKeyOfKey, subtle } from './webcrypto.ts'

let available: Promise<boolean> | undefined

/** RFC 7748, section 6.1: Alice's secret and public keys, Bob's public key, and their shared secret. */
const KAT = {
  alice: hexDecode('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'),
  alicePublic: hexDecode('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a'),
  bobPublic: hexDecode('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f'),
  shared: hexDecode('4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742')
}

const nativePublicKey = async (secretKey: Uint8Array): Promise<Uint8Array> =>
  await publicKeyOfKey(await importSecretKey('X25519', secretKey, true, ['deriveBits']))

const nativeShared = async (secretKey: Uint8Array, publicKey: Uint8Array): Promise<Uint8Array> => {
  const s = subtle as SubtleCrypto
  const pub = await s.importKey('raw', publicKey as Uint8Array<ArrayBuffer>, { name: 'X25519' }, false, [])
  return new Uint8Array(await s.deriveBits({ name: 'X25519', public: pub }, await importSecretKey('X25519', secretKey, false, ['deriveBits']), 256))
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

/** `shared`, or undefined when it is all zeros (the result of a low-order public key: RFC 7748, section 6.1). */
const nonZero = (shared: Uint8Array): Uint8Array | undefined => {
  let acc = 0
  for (const b of shared) acc |= b
  return acc === 0 ? undefined : shared
}

/** The X25519 shared secret in JavaScript, or undefined where there is none (a low-order public key, which it may also throw on). */
export const x25519SharedSync = (secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array | undefined => {
  try {
    return nonZero(x25519.getSharedSecret(secretKey, publicKey))
  } catch {
    return undefined
  }
}

/** `x25519SharedSync`, natively where the platform can. */
export const x25519Shared = async (secretKey: Uint8Array, publicKey: Uint8Array): Promise<Uint8Array | undefined> => {
  if (secretKey.length !== 32 || publicKey.length !== 32 || !await hasNativeX25519()) return x25519SharedSync(secretKey, publicKey)
  try {
    return nonZero(await nativeShared(secretKey, publicKey))
  } catch {
    return undefined
  }
}
