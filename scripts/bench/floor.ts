/**
 * The floor under the new-device figure (issue #16): what a new device cannot skip,
 * timed alone in a fresh process. A snapshot of `keys` records, cut into parts and
 * encrypted as a rotation writes them (untimed), then decoded as a device decodes a
 * part it fetched (src/store/codec.ts: decrypt, inflate, UTF-8, JSON.parse, the JSON
 * checks of every value), each value put in a Map, and every key read back as the
 * benchmark's new device reads it. No network, no log, no index, no quotas.
 */
import '../../src/node/native-aead.ts'
import '../../src/node/native-deflate.ts'
import { encryptedCodec, toWire } from '../../src/store/codec.ts'
import type { JsonValue } from '../../src/store/limits.ts'
import type { SlotRecord, Stamp } from '../../src/store/kv-index.ts'
import { recordParts } from '../../src/rotation/parts.ts'
import { keyOf, now, valueOf, type Figures, type Side } from './common.ts'

export interface FloorParams { keys: number }

/** As the benchmark's fixtures are filled (fill.ts, 'batch'): one stamp for each 5,000 keys. */
const BATCH = 5000
const WRITER = `0x${'ab'.repeat(32)}`
const HASH = `zdpu${'A'.repeat(45)}`

export const floor = async (_side: Side, _root: string, p: FloorParams): Promise<Figures> => {
  const codec = encryptedCodec(new Uint8Array(32).fill(7), 'floor-account', 1)
  const stamps: Stamp[] = []
  const records: SlotRecord[] = []
  for (let i = 0; i < p.keys; i++) {
    const b = Math.floor(i / BATCH)
    const stamp = stamps[b] ??= { epoch: 1, time: b + 1, id: WRITER, hash: HASH }
    records.push({ key: keyOf(i), value: valueOf(i), stamp })
  }
  const parts = recordParts(records)
  const payloads = parts.map((part, i) => codec.encode({ op: 'snapshot', part: i, of: parts.length, records: part.map(toWire) }))
  records.length = 0
  const t0 = now()
  const values = new Map<string, JsonValue | undefined>()
  for (const payload of payloads) {
    const op = codec.decode(payload)
    if (op.op !== 'snapshot') throw new Error(`decoded a ${op.op}, not a snapshot part`)
    for (const r of op.records) values.set(r.k, r.v)
  }
  const decodeMs = now() - t0
  for (let i = 0; i < p.keys; i++) {
    if ((values.get(keyOf(i)) as { id?: number } | undefined)?.id !== i) throw new Error(`key ${i} does not read back`)
  }
  const floorMs = now() - t0
  return { floorMs, decodeMs, parts: parts.length }
}
