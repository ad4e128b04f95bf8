/**
 * Device secrets at rest, as JSON text (pure: no fs, browser-ready).
 *
 * Unsealed: {"format":"orbit-account-keystore","version":1,"sealed":false,"secrets":{...}}
 * Sealed:   {"format":"orbit-account-keystore","version":1,"sealed":true,
 *            "kdf":{"name":"scrypt","N","r","p","salt"},"cipher":"xchacha20poly1305","box":"..."}
 * where box = aead.encrypt(scrypt(passphrase, salt), utf8(JSON secrets), utf8('orbit-account/keystore/v1')).
 * Byte fields are unpadded base64url.
 */
import { decrypt, encrypt } from '../src/crypto/aead.ts'
import { base64urlDecode, base64urlEncode, equalBytes, randomBytes, utf8Decode, utf8Encode } from '../src/crypto/bytes.ts'
import { DEFAULT_KDF_PARAMS, derivePassphraseKey, validateKdfParams } from '../src/crypto/kdf.ts'
import type { KdfParams } from '../src/crypto/kdf.ts'
import {
  DecryptionError,
  InvalidArgumentError,
  KeystoreCorruptError,
  PassphraseRequiredError,
  WrongPassphraseError,
  isOrbitAccountError
} from '../src/errors.ts'
import type { DeviceId } from '../src/types.ts'
import { deviceIdFromSigningKey, isDeviceId } from './keys.ts'
import { x25519PublicKey } from '../src/crypto/fast-x25519.ts'
import { publicKeyOf } from './fast-ed25519.ts'
import type { KeyPair } from './keys.ts'

export const KEYSTORE_FORMAT = 'orbit-account-keystore'
export const KEYSTORE_VERSION = 1
export const KEYSTORE_CIPHER = 'xchacha20poly1305'
export const KEYSTORE_AAD = 'orbit-account/keystore/v1'
const SALT_LENGTH = 16
const KEY_LENGTH = 32
const MAX_NAME_LENGTH = 256

export type DeviceSecrets = {
  version: 1
  device: DeviceId
  name: string
  signing: KeyPair
  box: KeyPair
}

export type EncodeKeystoreOptions = {
  /** Seal the secrets under this passphrase; omit to store them unsealed. */
  passphrase?: string
  /** scrypt params for sealing (dkLen must be 32); defaults to DEFAULT_KDF_PARAMS. */
  kdfParams?: KdfParams
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
type JsonObject = { [key: string]: Json }

const corrupt = (message: string, cause?: unknown): never => {
  throw new KeystoreCorruptError(`keystore corrupt: ${message}`, cause === undefined ? undefined : { cause })
}

const checkPassphrase = (passphrase: string | undefined): void => {
  if (passphrase === undefined) return
  if (typeof passphrase !== 'string' || passphrase.length === 0) {
    throw new InvalidArgumentError('passphrase must be a non-empty string')
  }
}

/** Verifies internal consistency; returns a message describing the first problem, or undefined. */
const inconsistency = async (s: DeviceSecrets): Promise<string | undefined> => {
  // Natively where the platform can (fast-ed25519.ts, fast-x25519.ts): the JavaScript curves' first uses cost ~50 ms.
  if (!equalBytes(await publicKeyOf(s.signing.secretKey), s.signing.publicKey)) {
    return 'signing.publicKey does not match signing.secretKey'
  }
  if (!equalBytes(await x25519PublicKey(s.box.secretKey), s.box.publicKey)) {
    return 'box.publicKey does not match box.secretKey'
  }
  if (deviceIdFromSigningKey(s.signing.publicKey) !== s.device) {
    return 'device id does not match signing.publicKey'
  }
  return undefined
}

const checkSecretsArgument = async (s: DeviceSecrets): Promise<void> => {
  if (typeof s !== 'object' || s === null) throw new InvalidArgumentError('secrets must be an object')
  if (s.version !== 1) throw new InvalidArgumentError(`secrets.version must be 1, got ${String(s.version)}`)
  if (!isDeviceId(s.device)) throw new InvalidArgumentError('secrets.device is not a device id')
  if (typeof s.name !== 'string' || s.name.length > MAX_NAME_LENGTH) {
    throw new InvalidArgumentError(`secrets.name must be a string of at most ${MAX_NAME_LENGTH} characters`)
  }
  for (const pair of ['signing', 'box'] as const) {
    for (const field of ['secretKey', 'publicKey'] as const) {
      const v: unknown = s[pair]?.[field]
      if (!(v instanceof Uint8Array) || v.length !== KEY_LENGTH) {
        throw new InvalidArgumentError(`secrets.${pair}.${field} must be ${KEY_LENGTH} bytes`)
      }
    }
  }
  const problem = await inconsistency(s)
  if (problem !== undefined) throw new InvalidArgumentError(`secrets: ${problem}`)
}

const secretsToJson = (s: DeviceSecrets): JsonObject => ({
  version: s.version,
  device: s.device,
  name: s.name,
  signing: { secretKey: base64urlEncode(s.signing.secretKey), publicKey: base64urlEncode(s.signing.publicKey) },
  box: { secretKey: base64urlEncode(s.box.secretKey), publicKey: base64urlEncode(s.box.publicKey) }
})

export const encodeKeystore = async (secrets: DeviceSecrets, options: EncodeKeystoreOptions = {}): Promise<string> => {
  await checkSecretsArgument(secrets)
  const { passphrase, kdfParams = DEFAULT_KDF_PARAMS } = options
  checkPassphrase(passphrase)
  if (passphrase === undefined) {
    return JSON.stringify({ format: KEYSTORE_FORMAT, version: KEYSTORE_VERSION, sealed: false, secrets: secretsToJson(secrets) }, null, 2) + '\n'
  }
  validateKdfParams(kdfParams)
  if (kdfParams.dkLen !== KEY_LENGTH) {
    throw new InvalidArgumentError(`kdfParams.dkLen must be ${KEY_LENGTH} for a keystore, got ${kdfParams.dkLen}`)
  }
  const salt = randomBytes(SALT_LENGTH)
  const key = await derivePassphraseKey(passphrase, salt, kdfParams)
  const plaintext = utf8Encode(JSON.stringify(secretsToJson(secrets)))
  try {
    const box = encrypt(key, plaintext, utf8Encode(KEYSTORE_AAD))
    return JSON.stringify({
      format: KEYSTORE_FORMAT,
      version: KEYSTORE_VERSION,
      sealed: true,
      kdf: { name: 'scrypt', N: kdfParams.N, r: kdfParams.r, p: kdfParams.p, salt: base64urlEncode(salt) },
      cipher: KEYSTORE_CIPHER,
      box: base64urlEncode(box)
    }, null, 2) + '\n'
  } finally {
    key.fill(0)
    plaintext.fill(0)
  }
}

// ---- decoding ----

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v)

const objectField = (o: JsonObject, key: string, path: string): JsonObject => {
  const v = o[key]
  return isObject(v) ? v : corrupt(`field '${path}' must be an object`)
}

const stringField = (o: JsonObject, key: string, path: string): string => {
  const v = o[key]
  return typeof v === 'string' ? v : corrupt(`field '${path}' must be a string`)
}

const intField = (o: JsonObject, key: string, path: string): number => {
  const v = o[key]
  return typeof v === 'number' && Number.isSafeInteger(v) ? v : corrupt(`field '${path}' must be an integer`)
}

const bytesField = (o: JsonObject, key: string, path: string, length?: number): Uint8Array => {
  const text = stringField(o, key, path)
  let bytes: Uint8Array
  try {
    bytes = base64urlDecode(text, path)
  } catch (cause) {
    return corrupt(`field '${path}' is not valid base64url`, cause)
  }
  if (length !== undefined && bytes.length !== length) {
    return corrupt(`field '${path}' must be ${length} bytes, got ${bytes.length}`)
  }
  return bytes
}

const keyPairField = (o: JsonObject, key: string, path: string): KeyPair => {
  const pair = objectField(o, key, path)
  return {
    secretKey: bytesField(pair, 'secretKey', `${path}.secretKey`, KEY_LENGTH),
    publicKey: bytesField(pair, 'publicKey', `${path}.publicKey`, KEY_LENGTH)
  }
}

const parseSecrets = async (o: JsonObject, path: string, checkPairs = true): Promise<DeviceSecrets> => {
  if (o.version !== 1) corrupt(`field '${path}.version' must be 1`)
  const device = stringField(o, 'device', `${path}.device`)
  if (!isDeviceId(device)) corrupt(`field '${path}.device' is not a device id`)
  const name = stringField(o, 'name', `${path}.name`)
  if (name.length > MAX_NAME_LENGTH) corrupt(`field '${path}.name' is longer than ${MAX_NAME_LENGTH} characters`)
  const secrets: DeviceSecrets = {
    version: 1,
    device: device as DeviceId,
    name,
    signing: keyPairField(o, 'signing', `${path}.signing`),
    box: keyPairField(o, 'box', `${path}.box`)
  }
  const problem = checkPairs ? await inconsistency(secrets) : undefined
  if (problem !== undefined) corrupt(problem)
  return secrets
}

const parseJson = (text: string, what: string): JsonObject => {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (cause) {
    return corrupt(`${what} is not valid JSON`, cause)
  }
  return isObject(value) ? value : corrupt(`${what} must be a JSON object`)
}

const openSealed = async (doc: JsonObject, passphrase: string | undefined, checkPairs: boolean): Promise<DeviceSecrets> => {
  const kdf = objectField(doc, 'kdf', 'kdf')
  if (kdf.name !== 'scrypt') corrupt("field 'kdf.name' must be 'scrypt'")
  const params: KdfParams = {
    N: intField(kdf, 'N', 'kdf.N'),
    r: intField(kdf, 'r', 'kdf.r'),
    p: intField(kdf, 'p', 'kdf.p'),
    dkLen: KEY_LENGTH
  }
  try {
    validateKdfParams(params)
  } catch (cause) {
    corrupt(`field 'kdf' has unsupported parameters: ${(cause as Error).message}`, cause)
  }
  const salt = bytesField(kdf, 'salt', 'kdf.salt')
  if (salt.length < SALT_LENGTH) corrupt(`field 'kdf.salt' must be at least ${SALT_LENGTH} bytes`)
  if (doc.cipher !== KEYSTORE_CIPHER) corrupt(`field 'cipher' must be '${KEYSTORE_CIPHER}'`)
  const box = bytesField(doc, 'box', 'box')

  if (passphrase === undefined) {
    throw new PassphraseRequiredError('keystore is sealed: a passphrase is required (--passphrase-file or ORBIT_ACCOUNT_PASSPHRASE)')
  }
  const key = await derivePassphraseKey(passphrase, salt, params)
  let plaintext: Uint8Array
  try {
    plaintext = decrypt(key, box, utf8Encode(KEYSTORE_AAD))
  } catch (cause) {
    if (cause instanceof DecryptionError) {
      throw new WrongPassphraseError('wrong passphrase (or the sealed keystore was modified)', { cause })
    }
    if (isOrbitAccountError(cause)) corrupt(`field 'box': ${cause.message}`, cause)
    throw cause
  } finally {
    key.fill(0)
  }
  try {
    let text: string
    try {
      text = utf8Decode(plaintext, 'box')
    } catch (cause) {
      return corrupt("sealed 'box' content is not valid UTF-8", cause)
    }
    return await parseSecrets(parseJson(text, "sealed 'box' content"), 'box', checkPairs)
  } finally {
    plaintext.fill(0)
  }
}

/**
 * The device's secrets from its keystore text. `checkPairs: false` skips checking each
 * public key against its secret key (an Ed25519 scalar multiplication, ~40 ms in a
 * fresh process): for a read that only derives a key from the box secret key, whose
 * result fails closed when that key is wrong (the reads with no daemon).
 */
export const decodeKeystore = async (text: string, passphrase?: string, { checkPairs = true }: { checkPairs?: boolean } = {}): Promise<DeviceSecrets> => {
  checkPassphrase(passphrase)
  if (typeof text !== 'string') throw new InvalidArgumentError('keystore text must be a string')
  const doc = parseJson(text, 'keystore')
  if (doc.format !== KEYSTORE_FORMAT) corrupt(`field 'format' must be '${KEYSTORE_FORMAT}'`)
  if (doc.version !== KEYSTORE_VERSION) corrupt(`field 'version' must be ${KEYSTORE_VERSION}, got ${JSON.stringify(doc.version ?? null)}`)
  if (doc.sealed === false) return await parseSecrets(objectField(doc, 'secrets', 'secrets'), 'secrets', checkPairs)
  if (doc.sealed === true) return await openSealed(doc, passphrase, checkPairs)
  return corrupt("field 'sealed' must be true or false")
}
