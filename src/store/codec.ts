/**
 * Payload codecs for data log entries. Encrypted mode: XChaCha20-Poly1305 under the
 * epoch key, a fresh random nonce per entry, the account and epoch bound as associated
 * data, and the key name inside the ciphertext. Public mode: the operation in clear.
 */
import { decrypt, encrypt } from '../crypto/aead.ts'
import { utf8Decode, utf8Encode } from '../crypto/bytes.ts'
import { DecryptionError, InvalidOperationError } from '../errors.ts'
import { checkKey, checkValue, type JsonValue } from './limits.ts'

export type DataOp =
  | { op: 'put', key: string, value: JsonValue }
  | { op: 'del', key: string }

export interface PayloadCodec {
  readonly encrypted: boolean
  encode: (op: DataOp) => Uint8Array | Record<string, unknown>
  /** Decodes an untrusted payload; throws a typed error when it is not a valid op. */
  decode: (payload: unknown) => DataOp
}

/** Validates the shape of a decoded operation. */
export const parseDataOp = (v: unknown): DataOp => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidOperationError('data op must be an object')
  const o = v as Record<string, unknown>
  if (typeof o.key !== 'string') throw new InvalidOperationError('data op key must be a string')
  checkKey(o.key)
  if (o.op === 'put' && Object.keys(o).length === 3 && 'value' in o) {
    checkValue(o.value as JsonValue)
    return { op: 'put', key: o.key, value: o.value as JsonValue }
  }
  if (o.op === 'del' && Object.keys(o).length === 2) return { op: 'del', key: o.key }
  throw new InvalidOperationError('data op must be {op:"put",key,value} or {op:"del",key}')
}

export const dataAad = (account: string, epoch: number): Uint8Array =>
  utf8Encode(`orbit-account/data/v1|${account}|${epoch}`)

export const encryptedCodec = (key: Uint8Array, account: string, epoch: number): PayloadCodec => {
  const aad = dataAad(account, epoch)
  return {
    encrypted: true,
    encode: (op) => encrypt(key, utf8Encode(JSON.stringify(op)), aad),
    decode: (payload) => {
      if (!(payload instanceof Uint8Array)) throw new DecryptionError('encrypted payload must be bytes')
      const text = utf8Decode(decrypt(key, payload, aad), 'payload')
      let parsed: unknown
      try {
        parsed = JSON.parse(text)
      } catch {
        throw new InvalidOperationError('decrypted payload is not JSON')
      }
      return parseDataOp(parsed)
    }
  }
}

export const plainCodec: PayloadCodec = {
  encrypted: false,
  encode: (op) => ({ ...op }),
  decode: (payload) => parseDataOp(payload)
}
