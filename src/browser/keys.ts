/**
 * The device's secrets in the browser. The device signs with raw Ed25519 and X25519 keys
 * (the core's identity and lockboxes need their bytes), so they cannot live in WebCrypto
 * as non-extractable keys themselves. What can: an AES-GCM key made non-extractable,
 * which seals the keystore text (identity/keystore.ts) before it goes to IndexedDB. Script
 * on this origin can still ask that key to unseal (see README, "what it does not protect"),
 * but the sealed bytes alone, copied out of the profile, are useless.
 */
import { decodeKeystore, encodeKeystore, type DeviceSecrets } from '../../identity/keystore.ts'
import { utf8Decode, utf8Encode, randomBytes } from '../crypto/bytes.ts'
import { KeystoreCorruptError } from '../errors.ts'
import type { KeyValue } from './idb.ts'

interface SealedKeystore { iv: Uint8Array<ArrayBuffer>, box: ArrayBuffer }

const WRAP_KEY = 'wrap-key'
const KEYSTORE = 'keystore'
const IV_BYTES = 12

const wrapKey = async (kv: KeyValue): Promise<CryptoKey> => {
  const stored = await kv.get<CryptoKey>(WRAP_KEY)
  if (stored !== undefined) return stored
  const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])
  await kv.put(WRAP_KEY, key)
  return key
}

export const saveSecrets = async (kv: KeyValue, secrets: DeviceSecrets): Promise<void> => {
  const key = await wrapKey(kv)
  const iv = new Uint8Array(randomBytes(IV_BYTES))
  const box = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, new Uint8Array(utf8Encode(await encodeKeystore(secrets))))
  await kv.put(KEYSTORE, { iv, box } satisfies SealedKeystore)
}

export const loadSecrets = async (kv: KeyValue): Promise<DeviceSecrets | undefined> => {
  const sealed = await kv.get<SealedKeystore>(KEYSTORE)
  if (sealed === undefined) return undefined
  const key = await kv.get<CryptoKey>(WRAP_KEY)
  if (key === undefined) throw new KeystoreCorruptError('the sealed device keys are here but their key is gone')
  const text = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: sealed.iv }, key, sealed.box)
    .catch((err: unknown) => { throw new KeystoreCorruptError('the device keys do not unseal', { cause: err }) })
  return await decodeKeystore(utf8Decode(new Uint8Array(text)))
}
