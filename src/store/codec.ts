/**
 * Payload codecs for data log entries. Encrypted mode: XChaCha20-Poly1305 under the
 * epoch key, a fresh random nonce per entry, the account and epoch bound as associated
 * data, and the whole operation (its kind, the key name, the value) inside the
 * ciphertext, padded to a size bucket (crypto/padding.ts) so its size tells only a
 * coarse length, and a `del` looks like a small `put`. Public mode: the operation in clear.
 *
 * Operations: `put`/`del` (a write), `snapshot` (part of the state at a rotation's cut,
 * written at the start of a new epoch), `carry` (a write made to an older epoch that
 * the rotation had not seen, carried forward with its original stamp), `batch` (one part
 * of a batch write: it counts only once every part of its batch is stored, src/store/batches.ts).
 */
import { decrypt, encrypt } from '../crypto/aead.ts'
import { utf8Decode, utf8Encode } from '../crypto/bytes.ts'
import { deflate, inflate } from '../crypto/deflate.ts'
import { pad, unpad } from '../crypto/padding.ts'
import { DecryptionError, InvalidOperationError } from '../errors.ts'
import { checkDecodedValue, checkKey, MAX_OP_JSON, type JsonValue } from './limits.ts'
import type { SlotRecord, Stamp } from './kv-index.ts'
import { Strings } from './strings.ts'

/** A slot on the wire: key, value (absent when deleted), stamp as [epoch, time, id, hash]. */
export interface WireRecord { k: string, v?: JsonValue, s: [number, number, string, string] }

/**
 * A snapshot part's or a carry's records as written: each writer id and entry hash once,
 * in the op's `ids` and `hashes`, and a record's stamp as [epoch, time, index in ids,
 * index in hashes]. A snapshot of batch writes repeats one id and a few hashes for
 * thousands of records: ~110 of a record's ~290 bytes (a new device fetched, decrypted,
 * parsed and held each copy). Ops written before this form (stamps in full) still read.
 */
export interface PackedRecord { k: string, v?: JsonValue, s: [number, number, number, number] }
export interface PackedRecords { ids: string[], hashes: string[], records: PackedRecord[] }

/** A record of a batch part: key and value (absent: a del). Its stamp is its entry's, as for a put. */
export interface BatchRecord { k: string, v?: JsonValue }

export type DataOp =
  | { op: 'put', key: string, value: JsonValue }
  | { op: 'del', key: string }
  | { op: 'batch', id: string, part: number, of: number, records: BatchRecord[] }
  | { op: 'snapshot', part: number, of: number, records: WireRecord[], costs?: RecordCosts }
  | { op: 'carry', records: WireRecord[], costs?: RecordCosts }

/**
 * The `jsonCost` of each record's value (-1: a record with none), measured by the decoder
 * as it checked them. Not enumerable, so never written nor compared; an op built here
 * (not decoded), or a copy of one, has none.
 */
export type RecordCosts = Float64Array

/** `op` with its records' costs attached (see RecordCosts). */
const withCosts = <T extends { records: WireRecord[] }>(op: T, costs: RecordCosts): T =>
  Object.defineProperty(op, 'costs', { value: costs, enumerable: false, writable: false, configurable: false })

export interface PayloadCodec {
  readonly encrypted: boolean
  encode: (op: DataOp) => Uint8Array | Record<string, unknown>
  /** Decodes an untrusted payload; throws a typed error when it is not a valid op. */
  decode: (payload: unknown) => DataOp
}

export const MAX_SNAPSHOT_PARTS = 100_000
export const MAX_RECORDS_PER_OP = 50_000
export const MAX_BATCH_PARTS = MAX_SNAPSHOT_PARTS
/** A batch id: 128 random bits in base64url. */
const BATCH_ID = /^[A-Za-z0-9_-]{22}$/

export const toWire = (r: SlotRecord): WireRecord => ({
  k: r.key, ...(r.value !== undefined ? { v: r.value } : {}), s: [r.stamp.epoch, r.stamp.time, r.stamp.id, r.stamp.hash]
})

export const fromWire = (w: WireRecord): SlotRecord => ({
  key: w.k, value: w.v, stamp: { epoch: w.s[0], time: w.s[1], id: w.s[2], hash: w.s[3] } satisfies Stamp
})

const isCount = (v: unknown, max: number): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= max

/** The records with their stamps' ids and hashes in tables (see PackedRecord). */
export const packRecords = (records: WireRecord[]): PackedRecords => {
  const ids = new Strings()
  const hashes = new Strings()
  const packed = records.map((r): PackedRecord => {
    const s: PackedRecord['s'] = [r.s[0], r.s[1], ids.of(r.s[2]), hashes.of(r.s[3])]
    return r.v !== undefined ? { k: r.k, v: r.v, s } : { k: r.k, s }
  })
  return { ids: ids.list, hashes: hashes.list, records: packed }
}

/** The op as its payload holds it: a snapshot's or a carry's records packed. */
const toPayloadOp = (op: DataOp): unknown => {
  if (op.op === 'snapshot') return { op: 'snapshot', part: op.part, of: op.of, ...packRecords(op.records) }
  if (op.op === 'carry') return { op: 'carry', ...packRecords(op.records) }
  return op
}

const STAMP_TEXT_MAX = 200

/** A table of a packed op: at most one string per record, each of at most 200 characters. */
const parseTable = (v: unknown, name: string): string[] => {
  if (!Array.isArray(v) || v.length > MAX_RECORDS_PER_OP) throw new InvalidOperationError(`${name} must be an array of at most 50,000`)
  for (const x of v) if (typeof x !== 'string' || x.length > STAMP_TEXT_MAX) throw new InvalidOperationError(`${name} must hold strings of at most ${STAMP_TEXT_MAX} characters`)
  return v as string[]
}

/**
 * Records of a snapshot part or a carry, checked: stamps in full (`tables` absent: ops
 * written before packing), or packed, each index naming an entry of `tables`.
 */
const parseRecords = (v: unknown, tables: { ids: string[], hashes: string[] } | undefined, owned: boolean): [WireRecord[], RecordCosts] => {
  if (!Array.isArray(v) || v.length > MAX_RECORDS_PER_OP) throw new InvalidOperationError('records must be an array of at most 50,000')
  const out: WireRecord[] = new Array<WireRecord>(v.length)
  const costs: RecordCosts = new Float64Array(v.length).fill(-1)
  for (let i = 0; i < v.length; i++) {
    const r: unknown = v[i]
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw new InvalidOperationError(`record ${i} must be an object`)
    const o = r as Record<string, unknown>
    const s = o.s
    if (typeof o.k !== 'string' || !Array.isArray(s) || s.length !== 4 || !isCount(s[0], 2 ** 31) || !isCount(s[1], Number.MAX_SAFE_INTEGER)) {
      throw new InvalidOperationError(`record ${i} is malformed`)
    }
    let id: unknown = s[2]
    let hash: unknown = s[3]
    if (tables !== undefined) {
      id = typeof id === 'number' ? tables.ids[id] : undefined
      hash = typeof hash === 'number' ? tables.hashes[hash] : undefined
    }
    if (typeof id !== 'string' || id.length > STAMP_TEXT_MAX || typeof hash !== 'string' || hash.length > STAMP_TEXT_MAX) {
      throw new InvalidOperationError(`record ${i} is malformed`)
    }
    checkKey(o.k)
    const hasValue = 'v' in o
    if (hasValue) costs[i] = checkDecodedValue(o.v as JsonValue)
    // When the caller owns the parsed object (fresh from JSON.parse), it and its stamp array
    // become the record: no copies of 100,000 records to collect. Not when it holds fields
    // besides k, v and s: those are left out of a copy.
    let fields = 0
    if (owned) for (const _ in o) fields++
    if (owned && fields === (hasValue ? 3 : 2)) {
      s[2] = id
      s[3] = hash
      out[i] = o as unknown as WireRecord
    } else {
      out[i] = hasValue ? { k: o.k, v: o.v as JsonValue, s: [s[0], s[1], id, hash] } : { k: o.k, s: [s[0], s[1], id, hash] }
    }
  }
  return [out, costs]
}

/** A batch part's records: at least one, each `{k, v?}`, no key twice (no honest writer repeats one). */
const parseBatchRecords = (v: unknown): BatchRecord[] => {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_RECORDS_PER_OP) throw new InvalidOperationError('batch records must be an array of 1 to 50,000')
  const keys = new Set<string>()
  return v.map((r: unknown, i): BatchRecord => {
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw new InvalidOperationError(`batch record ${i} must be an object`)
    const o = r as Record<string, unknown>
    const n = Object.keys(o).length
    if (typeof o.k !== 'string' || n !== ('v' in o ? 2 : 1)) throw new InvalidOperationError(`batch record ${i} is malformed`)
    checkKey(o.k)
    if (keys.has(o.k)) throw new InvalidOperationError(`batch record ${i} repeats key ${JSON.stringify(o.k)}`)
    keys.add(o.k)
    if (!('v' in o)) return { k: o.k }
    checkDecodedValue(o.v as JsonValue)
    return { k: o.k, v: o.v as JsonValue }
  })
}

const parseBatch = (o: Record<string, unknown>): DataOp => {
  if (typeof o.id !== 'string' || !BATCH_ID.test(o.id)) throw new InvalidOperationError('batch id is malformed')
  if (!isCount(o.part, MAX_BATCH_PARTS) || !isCount(o.of, MAX_BATCH_PARTS) || (o.part as number) >= (o.of as number)) {
    throw new InvalidOperationError('batch part/of are malformed')
  }
  return { op: 'batch', id: o.id, part: o.part as number, of: o.of as number, records: parseBatchRecords(o.records) }
}

/**
 * Validates the shape of a decoded operation. `owned`: `v` is the caller's own, fresh from
 * JSON.parse and seen by nobody else, so its records may be reused (their packed stamps
 * resolved in place) rather than copied.
 */
export const parseDataOp = (v: unknown, owned = false): DataOp => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidOperationError('data op must be an object')
  const o = v as Record<string, unknown>
  const n = Object.keys(o).length
  const packed = 'ids' in o || 'hashes' in o
  const tables = packed ? { ids: parseTable(o.ids, 'ids'), hashes: parseTable(o.hashes, 'hashes') } : undefined
  if (o.op === 'snapshot' && n === (packed ? 6 : 4)) {
    if (!isCount(o.part, MAX_SNAPSHOT_PARTS) || !isCount(o.of, MAX_SNAPSHOT_PARTS) || (o.part as number) >= (o.of as number)) {
      throw new InvalidOperationError('snapshot part/of are malformed')
    }
    const [records, costs] = parseRecords(o.records, tables, owned)
    return withCosts({ op: 'snapshot' as const, part: o.part as number, of: o.of as number, records }, costs)
  }
  if (o.op === 'carry' && n === (packed ? 4 : 2)) {
    const [records, costs] = parseRecords(o.records, tables, owned)
    return withCosts({ op: 'carry' as const, records }, costs)
  }
  if (o.op === 'batch' && n === 5) return parseBatch(o)
  if (typeof o.key !== 'string') throw new InvalidOperationError('data op key must be a string')
  checkKey(o.key)
  if (o.op === 'put' && n === 3 && 'value' in o) {
    checkDecodedValue(o.value as JsonValue)
    return { op: 'put', key: o.key, value: o.value as JsonValue }
  }
  if (o.op === 'del' && n === 2) return { op: 'del', key: o.key }
  throw new InvalidOperationError('data op must be put, del, batch, snapshot or carry')
}

export const dataAad = (account: string, epoch: number): Uint8Array =>
  utf8Encode(`orbit-account/data/v1|${account}|${epoch}`)

/** The first byte of the unpadded plaintexts written before padding: JSON of an object. */
const LEGACY_START = 0x7b // '{'

/**
 * The first byte of a padded content that is raw DEFLATE of the JSON after it (a
 * snapshot part's or a carry's, src/crypto/deflate.ts); JSON never starts with it.
 *
 * Compression and secrecy: a ciphertext's size says how well its plaintext compresses.
 * That leaks only to who can choose part of a plaintext and see the size of the rest,
 * and only a device that can read the account writes what goes in a snapshot or carry:
 * a blind replica or a revoked device sees sizes but writes nothing into them. A put
 * (its size, the one thing an outsider could tie to a person's action) is never compressed.
 */
const DEFLATED = 0x00
/** The most a deflated content may inflate to: twice the largest op's JSON (a part holds at most one op's worth, src/rotation/parts.ts). */
const MAX_INFLATED = 2 * MAX_OP_JSON

/** The content to pad for an op's JSON: snapshot parts and carries deflated (see DEFLATED). */
const contentOf = (op: DataOp, json: Uint8Array): Uint8Array => {
  if (op.op !== 'snapshot' && op.op !== 'carry') return json
  const deflated = deflate(json)
  const content = new Uint8Array(deflated.length + 1)
  content[0] = DEFLATED
  content.set(deflated, 1)
  return content
}

/**
 * The JSON text inside a decrypted payload: padded (the current format: JSON, or JSON
 * deflated), or the bare JSON of entries written before padding (their first byte is
 * always `{`, which the padded format never starts with), so older logs still read.
 */
const plaintextJson = (plain: Uint8Array): string => {
  if (plain[0] === LEGACY_START) return utf8Decode(plain, 'payload')
  let content: Uint8Array
  try {
    content = unpad(plain)
  } catch (cause) {
    throw new InvalidOperationError('decrypted payload is not padded correctly', { cause })
  }
  if (content[0] === DEFLATED) {
    try {
      content = inflate(content.subarray(1), MAX_INFLATED)
    } catch (cause) {
      throw new InvalidOperationError('decrypted payload does not inflate to an op', { cause })
    }
  }
  return utf8Decode(content, 'payload')
}

export const encryptedCodec = (key: Uint8Array, account: string, epoch: number): PayloadCodec => {
  const aad = dataAad(account, epoch)
  return {
    encrypted: true,
    encode: (op) => encrypt(key, pad(contentOf(op, utf8Encode(JSON.stringify(toPayloadOp(op))))), aad),
    decode: (payload) => {
      if (!(payload instanceof Uint8Array)) throw new DecryptionError('encrypted payload must be bytes')
      const text = plaintextJson(decrypt(key, payload, aad))
      let parsed: unknown
      try {
        parsed = JSON.parse(text)
      } catch {
        throw new InvalidOperationError('decrypted payload is not JSON')
      }
      return parseDataOp(parsed, true)
    }
  }
}

export const plainCodec: PayloadCodec = {
  encrypted: false,
  encode: (op) => JSON.parse(JSON.stringify(toPayloadOp(op))) as Record<string, unknown>,
  decode: (payload) => parseDataOp(payload)
}
