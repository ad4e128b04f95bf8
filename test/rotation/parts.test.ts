import assert from 'node:assert/strict'
import { recordParts, partsInTurns } from '../../src/rotation/parts.ts'
import { packRecords, toWire } from '../../src/store/codec.ts'
import { KvIndex, valueOf, type SlotRecord } from '../../src/store/kv-index.ts'
import { encodeSlotTable, SlotTable } from '../../src/store/slot-table.ts'
import { memorySource } from '../../src/store/byte-source.ts'
import { MAX_VALUE_BYTES } from '../../src/store/limits.ts'
import { utf8Encode } from '../../src/crypto/bytes.ts'
import { prng } from '../helpers/random.ts'


describe('rotation: records cut into parts (packed stamps)', () => {
  const records = (n: number, seed: number): SlotRecord[] => {
    const r = prng(seed)
    return Array.from({ length: n }, (_, i): SlotRecord => {
      // Batches share one stamp; puts have their own hash; a few writers; some non-ASCII text; some deletions.
      const batch = r() < 0.7
      const stamp = { epoch: 1, time: batch ? Math.floor(i / 500) : i, id: `writer-${Math.floor(r() * 3)}-é`, hash: batch ? `batch-${Math.floor(i / 500)}` : `entry-${i}-${'z'.repeat(40)}` }
      return { key: `key/${i}`, ...(r() < 0.05 ? {} : { value: { n: i, text: 'ü'.repeat(Math.floor(r() * 60)) } }), stamp } as SlotRecord
    })
  }

  it('keeps every part of several records within the part size as written, every record once and in order', async () => {
    for (const seed of [1, 2, 3]) {
      const all = records(6000, seed)
      const parts = recordParts(all)
      assert.deepEqual(parts.flat(), all)
      assert.deepEqual(await partsInTurns(all), parts)
      for (const part of parts) {
        const bytes = utf8Encode(JSON.stringify(packRecords(part.map(toWire)))).length
        if (part.length > 1) assert.ok(bytes <= MAX_VALUE_BYTES, `a part of ${part.length} records is ${bytes} bytes`)
      }
      // Packed, a part holds more records than whole stamps would allow: fewer parts.
      const whole = (part: SlotRecord[]): number => utf8Encode(JSON.stringify(part.map(toWire))).length
      assert.ok(parts.some((part) => whole(part) > MAX_VALUE_BYTES), 'some part holds more than whole stamps would fit')
    }
  })

  it('cuts a checkpoint\'s table, its values unread, exactly as the same records parsed', async () => {
    const all = records(6000, 4)
    const table = new KvIndex()
    for (const r of all) table.apply(r.key, r.value, r.stamp)
    const bytes = encodeSlotTable(table.rawSlots())
    const index = new KvIndex()
    index.restore(new SlotTable({ ...bytes, values: memorySource(bytes.values) }))
    const lazy = await partsInTurns(index.frozenRecords())
    // The same records in the table's order, each value parsed.
    const parsed = recordParts([...index.frozenRecords()].map((r): SlotRecord => ({ key: r.key, value: valueOf(r.value), stamp: r.stamp })))
    assert.equal(parsed.flat().length, all.length)
    assert.deepEqual(lazy.map((part) => part.map((r) => r.key)), parsed.map((part) => part.map((r) => r.key)))
    assert.deepEqual(lazy.flat().map((r) => ({ key: r.key, value: valueOf(r.value), stamp: r.stamp })), parsed.flat())
  })
})
