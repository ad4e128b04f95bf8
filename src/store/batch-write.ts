/**
 * A batch write as its writer makes it (browser-ready): the ops checked, then cut into
 * `batch` parts small enough for one log entry each (src/orbit/caps.ts). Readers count
 * it only once every part is stored (src/store/batches.ts).
 */
import { base64urlEncode, randomBytes, utf8Length } from '../crypto/bytes.ts'
import { InvalidArgumentError, ValueTooLargeError } from '../errors.ts'
import { MAX_BATCH_PARTS, MAX_RECORDS_PER_OP, type BatchRecord, type DataOp } from './codec.ts'
import { checkKey, checkValue, MAX_VALUE_BYTES, type JsonValue } from './limits.ts'

/** One write of a batch: a put, or a del. */
export type BatchOp = { op: 'put', key: string, value: JsonValue } | { op: 'del', key: string }

/**
 * The JSON a part's records hold at most (a single record over it has a part of its
 * own): with the key and value limits, a part is never larger than a put at its limits,
 * the largest entry every peer takes.
 */
export const BATCH_PART_BYTES = MAX_VALUE_BYTES

/** A checked record and the bytes of JSON it adds to a part. */
interface Sized { record: BatchRecord, bytes: number }

/**
 * Checks every op before anything is written: keys, values (VALUE_TOO_LARGE, INVALID_JSON),
 * and no key twice in one batch (INVALID_ARGUMENT: which of two writes of a key counts
 * would depend on how the batch is cut).
 */
const checked = (ops: BatchOp[]): Sized[] => {
  if (!Array.isArray(ops)) throw new InvalidArgumentError('a batch must be an array of { op: "put", key, value } or { op: "del", key }')
  const keys = new Set<string>()
  return ops.map((o, i): Sized => {
    if (typeof o !== 'object' || o === null || (o.op !== 'put' && o.op !== 'del')) throw new InvalidArgumentError(`batch op ${i} must be { op: "put", key, value } or { op: "del", key }`)
    checkKey(o.key)
    if (keys.has(o.key)) throw new InvalidArgumentError(`batch op ${i} writes key ${JSON.stringify(o.key)} again: a batch writes each key once`)
    keys.add(o.key)
    const keyBytes = utf8Length(JSON.stringify(o.key))
    if (o.op === 'del') return { record: { k: o.key }, bytes: keyBytes + 8 }
    const text = checkValue(o.value)
    return { record: { k: o.key, v: o.value }, bytes: keyBytes + utf8Length(text) + 14 }
  })
}

/** Cuts checked records into parts of at most BATCH_PART_BYTES of JSON and MAX_RECORDS_PER_OP records each. */
const cut = (records: Sized[]): BatchRecord[][] => {
  const parts: BatchRecord[][] = []
  let part: BatchRecord[] = []
  let bytes = 0
  for (const { record, bytes: n } of records) {
    if (part.length > 0 && (bytes + n > BATCH_PART_BYTES || part.length >= MAX_RECORDS_PER_OP)) {
      parts.push(part)
      part = []
      bytes = 0
    }
    part.push(record)
    bytes += n
  }
  if (part.length > 0) parts.push(part)
  if (parts.length > MAX_BATCH_PARTS) throw new ValueTooLargeError(`this batch needs ${parts.length} parts; the limit is ${MAX_BATCH_PARTS}: split it`)
  return parts
}

/** A batch ready to write: what it writes (for the quota check) and its parts' ops, in order. */
export interface PlannedBatch { writes: Array<{ key: string, value: JsonValue | undefined }>, ops: DataOp[] }

/** Checks and cuts a batch; a new random id names it. An empty batch plans nothing. */
export const planBatch = (ops: BatchOp[]): PlannedBatch => {
  const records = checked(ops)
  const parts = cut(records)
  const id = base64urlEncode(randomBytes(16))
  return {
    writes: records.map(({ record }) => ({ key: record.k, value: record.v })),
    ops: parts.map((part, i): DataOp => ({ op: 'batch', id, part: i, of: parts.length, records: part }))
  }
}

/** A putMany's entries as batch ops (checked as an object first). */
export const putsOf = (entries: Record<string, JsonValue>): BatchOp[] => {
  if (typeof entries !== 'object' || entries === null || Array.isArray(entries)) throw new InvalidArgumentError('putMany takes an object of keys to values')
  return Object.entries(entries).map(([key, value]) => ({ op: 'put', key, value }))
}
