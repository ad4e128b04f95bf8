/**
 * Records cut into parts for one log entry each: a rotation's snapshot parts and the
 * writes a move carries forward (browser-ready). A peer cannot tell these entries from
 * a put (the payload is ciphertext), so they must fit the same cap (src/orbit/caps.ts):
 * a part holds at most the JSON of one put at its limits, or a single record.
 */
import { utf8Length } from '../crypto/bytes.ts'
import { toWire } from '../store/codec.ts'
import type { SlotRecord } from '../store/kv-index.ts'
import { MAX_VALUE_BYTES } from '../store/limits.ts'

/** A part holds at most this many records (by default), or about this many bytes of JSON. */
const PART_RECORDS = 5000
const PART_BYTES = MAX_VALUE_BYTES

/** Splits the records into parts small enough for one log entry each (at least one part). */
export const recordParts = (records: SlotRecord[], maxRecords = PART_RECORDS): SlotRecord[][] => {
  const parts: SlotRecord[][] = []
  let part: SlotRecord[] = []
  let bytes = 0
  for (const record of records) {
    const size = utf8Length(JSON.stringify(toWire(record)))
    if (part.length > 0 && (part.length >= maxRecords || bytes + size > PART_BYTES)) {
      parts.push(part)
      part = []
      bytes = 0
    }
    part.push(record)
    bytes += size
  }
  parts.push(part)
  return parts
}
