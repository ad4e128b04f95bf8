import assert from 'node:assert/strict'
import { KvIndex, valueOf, type SlotRecord, type Stamp } from '../../src/store/kv-index.ts'
import { encodeSlotTable, SlotTable, type SlotTableBytes } from '../../src/store/slot-table.ts'
import { memorySource } from '../../src/store/byte-source.ts'

const tableOf = (bytes: SlotTableBytes): SlotTable => new SlotTable({ ...bytes, values: memorySource(bytes.values) })

type Op = { key: string, value: number | undefined, stamp: Stamp }

/** A small seeded PRNG (mulberry32), so failures reproduce. */
const prng = (seed: number): () => number => () => {
  seed |= 0; seed = seed + 0x6D2B79F5 | 0
  let t = Math.imul(seed ^ seed >>> 15, 1 | seed)
  t = t + Math.imul(t ^ t >>> 7, 61 | t) ^ t
  return ((t ^ t >>> 14) >>> 0) / 4294967296
}

const shuffle = <T>(xs: T[], rnd: () => number): T[] => {
  const out = [...xs]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1))
    const tmp = out[i] as T
    out[i] = out[j] as T
    out[j] = tmp
  }
  return out
}

describe('store: the materialized index', () => {
  it('keeps the last writer by (time, clock id, hash)', () => {
    const index = new KvIndex()
    assert.deepEqual(index.apply('a', 1, { epoch: 0, time: 2, id: 'laptop', hash: 'h2' }), { key: 'a', value: 1, op: 'put' })
    assert.equal(index.apply('a', 0, { epoch: 0, time: 1, id: 'phone', hash: 'h1' }), null, 'an older write loses')
    index.apply('a', 3, { epoch: 0, time: 2, id: 'phone', hash: 'h3' })
    assert.equal(index.get('a'), 3, 'same time: the higher clock id wins')
    index.apply('a', undefined, { epoch: 0, time: 5, id: 'laptop', hash: 'h4' })
    assert.equal(index.get('a'), undefined)
    assert.equal(index.apply('a', 9, { epoch: 0, time: 4, id: 'phone', hash: 'h5' }), null, 'a delete is a write too')
    assert.equal(index.size, 0)
  })

  it('a write carried from an older epoch never overwrites one made after the rotation', () => {
    const index = new KvIndex()
    index.apply('k', 'after rotation', { epoch: 1, time: 1, id: 'laptop', hash: 'a' })
    assert.equal(index.apply('k', 'old but late', { epoch: 0, time: 999, id: 'phone', hash: 'b' }), null)
    assert.equal(index.get('k'), 'after rotation')
    assert.equal(index.wins('k', { epoch: 0, time: 999, id: 'phone', hash: 'b' }), false)
    assert.deepEqual(index.records(), [{ key: 'k', value: 'after rotation', stamp: { epoch: 1, time: 1, id: 'laptop', hash: 'a' } }])
  })

  it('lists live entries sorted, by prefix', () => {
    const index = new KvIndex()
    index.apply('b/1', 1, { epoch: 0, time: 1, id: 'x', hash: '1' })
    index.apply('a/1', 2, { epoch: 0, time: 1, id: 'x', hash: '2' })
    index.apply('a/2', 3, { epoch: 0, time: 1, id: 'x', hash: '3' })
    index.apply('a/2', undefined, { epoch: 0, time: 2, id: 'x', hash: '4' })
    assert.deepEqual(index.entries(), [['a/1', 2], ['b/1', 1]])
    assert.deepEqual(index.entries('a/'), [['a/1', 2]])
    assert.equal(index.size, 2)
  })

  it('reaches the same state for 500 random histories in any order, with duplicates', () => {
    const rnd = prng(42)
    for (let run = 0; run < 500; run++) {
      const ops: Op[] = []
      const n = 1 + Math.floor(rnd() * 30)
      for (let i = 0; i < n; i++) {
        const key = `k${Math.floor(rnd() * 5)}`
        // Epochs too: a write carried from an older epoch keeps its epoch, and loses to newer ones.
        const stamp = { epoch: Math.floor(rnd() * 2), time: Math.floor(rnd() * 6), id: ['laptop', 'phone', 'tablet'][Math.floor(rnd() * 3)] as string, hash: `h${run}-${i}` }
        ops.push({ key, value: rnd() < 0.7 ? i : undefined, stamp })
      }
      const reference = new KvIndex()
      for (const { key, value, stamp } of ops) reference.apply(key, value, stamp)
      for (let k = 0; k < 3; k++) {
        const other = new KvIndex()
        for (const { key, value, stamp } of shuffle([...ops, ...ops.slice(0, 5)], rnd)) other.apply(key, value, stamp)
        assert.deepEqual(other.entries(), reference.entries(), `run ${run} order ${k}`)
        assert.equal(other.size, reference.size)
      }
    }
  })

  it('opened from a checkpoint\'s table, it answers as the index the table was written from, and goes on the same under more writes', () => {
    const rnd = prng(7)
    // Keys whose UTF-8 and UTF-16 orders differ (an astral character against U+FFFD), an empty one, prefixes of each other.
    const keys = ['', 'a', 'ab', 'abc', 'b/1', 'b/2', 'b/10', 'é', '\uFFFD', '\u{1F600}', 'z']
    const stampOf = (i: number): Stamp => ({ epoch: Math.floor(rnd() * 2), time: Math.floor(rnd() * 2 ** 40), id: ['laptop', 'phone'][Math.floor(rnd() * 2)] as string, hash: `h${i}` })
    for (let run = 0; run < 200; run++) {
      const reference = new KvIndex()
      for (let i = 0; i < 20; i++) reference.apply(keys[Math.floor(rnd() * keys.length)] as string, rnd() < 0.7 ? { i, s: 'ü' } : undefined, stampOf(i))
      const opened = new KvIndex()
      opened.restore(tableOf(encodeSlotTable(reference.rawSlots())))
      const later: Array<() => void> = []
      for (let i = 20; i < 35; i++) {
        const key = keys[Math.floor(rnd() * keys.length)] as string
        const value = rnd() < 0.6 ? i : undefined
        const stamp = stampOf(i)
        const replace = rnd() < 0.2
        const held = rnd() < 0.5 ? stamp : undefined
        later.push(() => {
          for (const index of [reference, opened]) {
            if (replace) index.replace(key, value, held)
            else index.apply(key, value, stamp)
          }
        })
      }
      for (let step = 0; step <= later.length; step++) {
        if (step > 0) (later[step - 1] as () => void)()
        assert.deepEqual(opened.entries(), reference.entries(), `run ${run} step ${step}`)
        assert.deepEqual(opened.entries('b/'), reference.entries('b/'))
        assert.equal(opened.size, reference.size)
        const sorted = (xs: SlotRecord[]): SlotRecord[] => [...xs].sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
        assert.deepEqual(sorted(opened.records()), sorted(reference.records()))
        for (const key of [...keys, 'missing']) {
          assert.deepEqual(opened.get(key), reference.get(key), key)
          assert.deepEqual(opened.stampOf(key), reference.stampOf(key), key)
        }
      }
    }
  })

  it('adopting another index gives the index both would make, newest stamp per key, and empties the other', () => {
    const rnd = prng(11)
    const keys = ['a', 'b', 'c', 'd/1', 'd/2', 'é', 'z']
    const stampOf = (i: number): Stamp => ({ epoch: Math.floor(rnd() * 2), time: Math.floor(rnd() * 1000), id: ['laptop', 'tablet'][Math.floor(rnd() * 2)] as string, hash: `h${i}` })
    const sorted = (xs: SlotRecord[]): SlotRecord[] => [...xs].sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
    for (let run = 0; run < 200; run++) {
      const writes: Op[] = Array.from({ length: 24 }, (_, i) => ({ key: keys[Math.floor(rnd() * keys.length)] as string, value: rnd() < 0.7 ? i : undefined, stamp: stampOf(i) }))
      const old = new KvIndex()
      const fresh = new KvIndex()
      const reference = new KvIndex()
      // The old index from a checkpoint's table plus writes since; the new one with a few writes of its own.
      const table = new KvIndex()
      for (const w of writes.slice(0, 10)) table.apply(w.key, w.value, w.stamp)
      old.restore(tableOf(encodeSlotTable(table.rawSlots())))
      for (const w of writes.slice(10, 18)) old.apply(w.key, w.value, w.stamp)
      for (const w of writes.slice(18)) fresh.apply(w.key, w.value, w.stamp)
      for (const w of writes) reference.apply(w.key, w.value, w.stamp)
      fresh.adopt(old)
      assert.deepEqual(fresh.entries(), reference.entries(), `run ${run}`)
      assert.deepEqual(sorted(fresh.records()), sorted(reference.records()))
      assert.equal(fresh.size, reference.size)
      assert.deepEqual(old.records(), [])
      assert.equal(old.size, 0)
      // A write to the other after the hand-over changes nothing here.
      old.apply('a', 'late', { epoch: 9, time: 1, id: 'x', hash: 'late' })
      assert.notEqual(fresh.get('a'), 'late')
    }
  })

  it('frozen records are the slots as they were when asked for, whatever is written after', () => {
    const index = new KvIndex()
    const table = new KvIndex()
    for (let i = 0; i < 5; i++) table.apply(`t/${i}`, i, { epoch: 0, time: i + 1, id: 'laptop', hash: `t${i}` })
    index.restore(tableOf(encodeSlotTable(table.rawSlots())))
    index.apply('w/1', 'one', { epoch: 0, time: 10, id: 'laptop', hash: 'w1' })
    index.apply('t/0', undefined, { epoch: 0, time: 11, id: 'laptop', hash: 'd0' })
    const before = index.records()
    const frozen = index.frozenRecords()
    index.apply('w/1', 'changed', { epoch: 0, time: 12, id: 'laptop', hash: 'w1b' })
    index.apply('t/1', 'changed', { epoch: 0, time: 13, id: 'laptop', hash: 't1b' })
    index.apply('w/new', 'new', { epoch: 0, time: 14, id: 'laptop', hash: 'wn' })
    const sorted = (xs: SlotRecord[]): SlotRecord[] => [...xs].sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
    // A table's values are read when asked for (unread: the text the table holds).
    assert.deepEqual(sorted([...frozen].map((r) => ({ key: r.key, value: valueOf(r.value), stamp: r.stamp }))), sorted(before))
  })

  it('a table finds every key in place (prefixes, non-ASCII, absent ones) and reads each stamp as written, an empty id too', () => {
    const keys = ['a', 'ab', 'abc', 'b', 'é', 'éa', 'z\u{1F600}', 'A', '']
    const slots = keys.filter((k) => k !== '').map((key, i) => ({ key, value: i, stamp: { epoch: 1, time: i, id: i % 2 === 0 ? '' : `id${i % 3}`, hash: i % 2 === 0 ? 'shared-hash' : `h${i}` } }))
    const table = tableOf(encodeSlotTable(slots))
    for (const slot of slots) {
      const i = table.find(slot.key)
      assert.ok(i >= 0, slot.key)
      assert.equal(table.key(i), slot.key)
      assert.deepEqual(table.stamp(i), slot.stamp)
      // Read again (from the table's decoded strings): the same.
      assert.deepEqual(table.stamp(i), slot.stamp)
    }
    for (const absent of ['', 'aa', 'abcd', 'é0', 'zz', 'B']) assert.equal(table.find(absent), -1, absent)
  })

  it('a table with a value past its end does not open', () => {
    const bytes = encodeSlotTable([{ key: 'a', value: { x: 1 }, stamp: { epoch: 0, time: 1, id: 'i', hash: 'h' } }])
    assert.throws(() => tableOf({ ...bytes, values: bytes.values.subarray(0, 3) }), RangeError)
    assert.throws(() => tableOf({ ...bytes, table: bytes.table.subarray(0, 10) }), RangeError)
  })
})
