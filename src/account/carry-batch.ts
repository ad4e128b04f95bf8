/**
 * What a move to a new epoch carries of a batch write (browser-ready). A batch with a
 * part the rotation had not seen goes whole, every part of it, covered by the cut or
 * not: a batch that became whole only after the cut is in no snapshot, and carrying
 * only its late parts would make part of it show. Only what the old log counted and
 * still holds goes (an unfinished or void batch, nothing), with its original stamps.
 */
import type { SlotRecord } from '../store/kv-index.ts'
import type { KvDatabase } from '../store/kv-database.ts'

/**
 * The records of the batch that entry `hash` (an uncovered part) belongs to; none if
 * that batch did not count in `from`, or is in `done` (carried already: it is added).
 */
export const batchToCarry = async (from: KvDatabase, epoch: number, hash: string, done: Set<string>): Promise<SlotRecord[]> => {
  const parts = from.batchPartsOf(hash)
  if (parts === undefined || done.has(parts[0] ?? '')) return []
  done.add(parts[0] ?? '')
  const out: SlotRecord[] = []
  for (const part of parts) {
    const entry = await from.log.get(part)
    if (entry === undefined) continue
    const op = from.codec.decode(entry.payload)
    if (op.op !== 'batch') continue
    const stamp = { epoch, time: entry.clock.time, id: entry.clock.id, hash: entry.hash }
    for (const r of op.records) {
      const record: SlotRecord = { key: r.k, value: r.v, stamp }
      if (from.holds(record)) out.push(record)
    }
  }
  return out
}
