/**
 * Ed25519 through WebCrypto where the platform has it (Node 22+, current browsers):
 * native code, many times faster than pure JavaScript, which matters because every log
 * entry is signed once and verified by every peer that receives it. Falls back to the
 * audited @noble implementation (identity/keys.ts) where WebCrypto lacks Ed25519.
 */
import { equalBytes, hexDecode } from '../src/crypto/bytes.ts'
import { importSecretKey, publicKeyOfKey, subtle } from '../src/crypto/webcrypto.ts'
import { signBytes, signingPublicKey, verifyBytes } from './keys.ts'

const MAX_CACHED_KEYS = 1000

let available: Promise<boolean> | undefined

/** RFC 8032, section 7.1, test 1: a secret key (seed), its public key, and its signature of the empty message. */
const KAT = {
  seed: hexDecode('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'),
  publicKey: hexDecode('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a'),
  signature: hexDecode('e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b')
}

const importSeed = async (seed: Uint8Array, extractable: boolean): Promise<CryptoKey> => await importSecretKey('Ed25519', seed, extractable, ['sign'])

/**
 * Native Ed25519 is used only where it gives the RFC's own answers (the public key and
 * the signature of test 1, and accepts that signature): a known-answer test, which needs
 * no JavaScript Ed25519 (that one's first use costs ~70 ms of table building).
 */
const probe = async (): Promise<boolean> => {
  if (subtle === undefined) return false
  try {
    const key = await importSeed(KAT.seed, true)
    const sig = new Uint8Array(await subtle.sign('Ed25519', key, new Uint8Array(0)))
    const pub = await publicKeyOfKey(key)
    const verifier = await subtle.importKey('raw', KAT.publicKey as Uint8Array<ArrayBuffer>, { name: 'Ed25519' }, false, ['verify'])
    return equalBytes(sig, KAT.signature) && equalBytes(pub, KAT.publicKey) && await subtle.verify('Ed25519', verifier, sig, new Uint8Array(0))
  } catch {
    return false
  }
}

/** Whether native Ed25519 is there and passed the known-answer test (probed once). */
export const hasNative = async (): Promise<boolean> => await (available ??= probe())

const publicKeys = new Map<string, CryptoKey>()
const secretKeys = new WeakMap<Uint8Array, CryptoKey>()

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')

export const sign = async (secretKey: Uint8Array, msg: Uint8Array): Promise<Uint8Array> => {
  if (secretKey.length !== 32 || !(await hasNative()) || subtle === undefined) return signBytes(secretKey, msg)
  let key = secretKeys.get(secretKey)
  if (key === undefined) {
    key = await importSeed(secretKey, false)
    secretKeys.set(secretKey, key)
  }
  return new Uint8Array(await subtle.sign('Ed25519', key, msg as Uint8Array<ArrayBuffer>))
}

/** The Ed25519 public key of a 32-byte secret key (seed). */
export const publicKeyOf = async (secretKey: Uint8Array): Promise<Uint8Array> => {
  if (secretKey.length !== 32 || !(await hasNative())) return signingPublicKey(secretKey)
  return await publicKeyOfKey(await importSeed(secretKey, true))
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
