/**
 * The platform's WebCrypto, where it has one (Node 22+, browsers), and what the native
 * curve paths share: a 32-byte secret key imported as PKCS#8, and the public key read
 * back from its JWK. Browser-ready.
 */
import { base64urlDecode } from './bytes.ts'

export const subtle: SubtleCrypto | undefined = globalThis.crypto?.subtle

/** RFC 8410 object identifiers (1.3.101.x) of the curves. */
const OID = { Ed25519: 0x70, X25519: 0x6e } as const

/** A 32-byte secret key of `curve` as a CryptoKey (PKCS#8, RFC 8410); needs `subtle`. */
export const importSecretKey = async (curve: keyof typeof OID, secretKey: Uint8Array, extractable: boolean, usages: KeyUsage[]): Promise<CryptoKey> => {
  const pkcs8 = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, OID[curve], 0x04, 0x22, 0x04, 0x20, ...secretKey])
  return await (subtle as SubtleCrypto).importKey('pkcs8', pkcs8, { name: curve }, extractable, usages)
}

/** The public key of an extractable secret key, from its JWK ('x', base64url). */
export const publicKeyOfKey = async (key: CryptoKey): Promise<Uint8Array> => {
  const x = (await (subtle as SubtleCrypto).exportKey('jwk', key)).x
  if (typeof x !== 'string') throw new Error('no public key in the exported JWK')
  return base64urlDecode(x, 'JWK x')
}
