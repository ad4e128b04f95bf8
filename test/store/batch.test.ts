/**
 * Batch writes (issue #16): the `batch` op's codec, the writer's plan (checked, cut into
 * parts), and the state's verdicts (src/store/batches.ts, kv-state.ts, quota.ts): a
 * batch counts only once all its parts are stored, all of it or none, the same on every
 * device whatever order its parts come in; contradicting parts make it never count.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { encryptedCodec, MAX_BATCH_PARTS, parseDataOp, plainCodec, type BatchRecord, type DataOp } from '../../src/store/codec.ts'
import { BATCH_PART_BYTES, planBatch } from '../../src/store/batch-write.ts'
import { Batches } from '../../src/store/batches.ts'
import { batchWrites, KvState, type EntryMeta } from '../../src/store/kv-state.ts'
import type { SlotRecord } from '../../src/store/kv-index.ts'
import { MAX_VALUE_BYTES, type JsonValue } from '../../src/store/limits.ts'
import { DEFAULT_QUOTAS, type Quotas } from '../../src/store/quota.ts'
import { randomBytes } from '../../src/crypto/bytes.ts'
import { batchToCarry } from '../../src/account/carry-batch.ts'
import type { KvDatabase } from '../../src/store/kv-database.ts'
import { compareStamps } from '../../src/store/kv-index.ts'
import { encodedSize, type LogEntry } from '../../src/orbit/orbitdb.ts'
import { DATA_ENTRY_MAX_BYTES } from '../../src/orbit/caps.ts'

interface TestEntry { meta: EntryMeta, op: DataOp }

const EPOCH = 1
const ID = 'AAAAAAAAAAAAAAAAAAAAAA'
const ID2 = 'BBBBBBBBBBBBBBBBBBBBBB'
let counter = 0
const entry = (signer: string, time: number, op: DataOp, clockId = signer): TestEntry =>
  ({ meta: { hash: `h${String(counter++).padStart(6, '0')}`, signer, clock: { id: clockId, time } }, op })
const put = (signer: string, time: number, key: string, value: JsonValue): TestEntry => entry(signer, time, { op: 'put', key, value })
const part = (signer: string, time: number, id: string, n: number, of: number, records: BatchRecord[]): TestEntry =>
  entry(signer, time, { op: 'batch', id, part: n, of, records })
const recs = (prefix: string, n: number, value: JsonValue = 1): BatchRecord[] => Array.from({ length: n }, (_, i) => ({ k: `${prefix}${i}`, v: value }))

/** Applies entries in this order as the database does: whole batches read back and counted, back-dated keys settled. */
const run = async (entries: TestEntry[], quotas: Quotas = DEFAULT_QUOTAS): Promise<KvState> => {
  const state = new KvState({ epoch: EPOCH, quotas, starter: undefined })
  const byHash = new Map(entries.map((e) => [e.meta.hash, e]))
  const read = async (ref: { hash: string, index: number }): Promise<JsonValue | undefined> => {
    const op = byHash.get(ref.hash)?.op
    if (ref.index < 0) return op?.op === 'put' ? op.value : undefined
    return op?.op === 'batch' ? op.records[ref.index]?.v : undefined
  }
  for (const e of entries) {
    const applied = state.apply(e.meta, e.op)
    const settle = [...applied.settle]
    for (const whole of state.batches.ready()) {
      // As the database does: a batch past its writer's writes quota is not read back.
      const parts = !state.considers(whole) ? [] : whole.parts.map((p) => {
        const op = byHash.get(p.hash)?.op
        assert.ok(op?.op === 'batch')
        return { ...p, writes: batchWrites(op.records) }
      })
      settle.push(...state.countBatch(whole, parts).settle)
    }
    const { failed } = await state.settleMany(settle, read)
    assert.equal(failed.size, 0)
  }
  return state
}

const sorted = (records: SlotRecord[]): SlotRecord[] => [...records].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
const keys = (state: KvState): string[] => state.index.entries().map(([k]) => k)

describe('store: batch writes', () => {
  describe('codec', () => {
    const good: DataOp = { op: 'batch', id: ID, part: 1, of: 3, records: [{ k: 'a', v: { x: 1 } }, { k: 'b' }] }

    it('a batch part round-trips through both codecs', () => {
      assert.deepEqual(plainCodec.decode(plainCodec.encode(good)), good)
      const codec = encryptedCodec(randomBytes(32), 'acct', 1)
      assert.deepEqual(codec.decode(codec.encode(good)), good)
    })

    it('refuses malformed batch parts', () => {
      const bad: Array<[string, unknown]> = [
        ['an extra field', { ...good, extra: 1 }],
        ['no records', { op: 'batch', id: ID, part: 0, of: 1 }],
        ['empty records', { ...good, records: [] }],
        ['a short id', { ...good, id: 'abc' }],
        ['an id with other characters', { ...good, id: 'AAAAAAAAAAAAAAAAAAAA+/' }],
        ['part = of', { ...good, part: 3 }],
        ['a negative part', { ...good, part: -1 }],
        ['a fractional of', { ...good, of: 2.5 }],
        ['of past the bound', { ...good, part: 0, of: MAX_BATCH_PARTS + 1 }],
        ['a record with a stamp', { ...good, records: [{ k: 'a', v: 1, s: [1, 1, 'x', 'y'] }] }],
        ['a record without a key', { ...good, records: [{ v: 1 }] }],
        ['a key twice in a part', { ...good, records: [{ k: 'a', v: 1 }, { k: 'a', v: 2 }] }],
        ['an empty key', { ...good, records: [{ k: '', v: 1 }] }],
        ['a record that is not an object', { ...good, records: ['a'] }]
      ]
      for (const [what, op] of bad) assert.throws(() => parseDataOp(op), { code: /^INVALID_(OPERATION|ARGUMENT)$/ }, what)
    })
  })

  describe('the writer\'s plan', () => {
    it('checks every op first, cuts parts under the size bound, names them with one random id', () => {
      const value = 'x'.repeat(10_000)
      const plan = planBatch(Array.from({ length: 100 }, (_, i) => ({ op: 'put' as const, key: `k${i}`, value })))
      assert.ok(plan.ops.length >= 4, `${plan.ops.length} parts for ~1 MB`)
      const ids = new Set(plan.ops.map((op) => op.op === 'batch' ? op.id : ''))
      assert.equal(ids.size, 1)
      plan.ops.forEach((op, i) => {
        assert.ok(op.op === 'batch' && op.part === i && op.of === plan.ops.length)
        assert.ok(JSON.stringify(op.records).length <= BATCH_PART_BYTES + 100)
        assert.deepEqual(parseDataOp(JSON.parse(JSON.stringify(op))), op, 'a reader takes every part')
      })
      assert.equal(plan.ops.flatMap((op) => op.op === 'batch' ? op.records : []).length, 100)
      assert.notEqual((planBatch([{ op: 'del', key: 'a' }]).ops[0] as { id: string }).id, [...ids][0])
    })

    it('every part fits a data entry\'s cap, in public mode (CBOR floats) and encrypted, with a value at the limit among small ones', () => {
      const hash = 'zdpuAr49f2Ey94PuZCuLxy73shWEhaKoae6ZgF3Cy8FSAASxv'
      const signer = 'a'.repeat(66)
      // As large as an honest entry gets around its payload: 128 concurrent heads, 16 refs (test/orbit/bounds.test.ts).
      const entryOf = (payload: unknown): LogEntry => ({
        hash, id: `/orbitdb/${hash}`, payload, next: Array.from({ length: 128 }, () => hash), refs: Array.from({ length: 16 }, () => hash),
        clock: { id: signer, time: Number.MAX_SAFE_INTEGER }, v: 2, key: signer, identity: hash, sig: 'f'.repeat(128)
      })
      const floats: JsonValue = Array.from({ length: Math.floor((MAX_VALUE_BYTES - 2) / 4) }, () => 0.5)
      const ops = [
        ...Array.from({ length: 3000 }, (_, i) => ({ op: 'put' as const, key: `f${i}`, value: [0.5, 0.5, 0.5, 0.5, 0.5, 0.5] })),
        { op: 'put' as const, key: '"'.repeat(1024), value: floats },
        ...Array.from({ length: 3000 }, (_, i) => ({ op: 'put' as const, key: `g${i}`, value: [0.5, 0.5] }))
      ]
      const plan = planBatch(ops)
      const codec = encryptedCodec(randomBytes(32), 'acct', 1)
      for (const op of plan.ops) {
        for (const c of [plainCodec, codec]) {
          const size = encodedSize(entryOf(c.encode(op)))
          assert.ok(size <= DATA_ENTRY_MAX_BYTES, `a part of ${size} bytes`)
        }
      }
    })

    it('refuses a key twice, a bad key and a value over the limit; an empty batch plans nothing', () => {
      assert.throws(() => planBatch([{ op: 'put', key: 'a', value: 1 }, { op: 'del', key: 'a' }]), { code: 'INVALID_ARGUMENT' })
      assert.throws(() => planBatch([{ op: 'put', key: '', value: 1 }]), { code: 'INVALID_ARGUMENT' })
      assert.throws(() => planBatch([{ op: 'put', key: 'a', value: 1 }, { op: 'put', key: 'b', value: 'x'.repeat(MAX_VALUE_BYTES) }]), { code: 'VALUE_TOO_LARGE' })
      assert.deepEqual(planBatch([]).ops, [])
    })
  })

  describe('state', () => {
    it('an incomplete batch shows nothing; its last part shows all of it at once', async () => {
      const parts = [part('A', 1, ID, 0, 3, recs('a', 4)), part('A', 2, ID, 1, 3, recs('b', 4)), part('A', 3, ID, 2, 3, recs('c', 4))]
      const two = await run(parts.slice(0, 2))
      assert.deepEqual(keys(two), [])
      assert.equal(two.batches.held, 2)
      const state = new KvState({ epoch: EPOCH, quotas: DEFAULT_QUOTAS, starter: undefined })
      for (const p of parts) state.apply(p.meta, p.op)
      const [whole] = state.batches.ready()
      assert.ok(whole !== undefined)
      const applied = state.countBatch(whole, parts.map((p) => ({ hash: p.meta.hash, time: p.meta.clock.time, writes: batchWrites((p.op as { records: BatchRecord[] }).records) })))
      assert.equal(applied.settle.length, 12, 'every key of the batch, to settle (their values read again)')
      const read = async (ref: { hash: string, index: number }): Promise<JsonValue | undefined> =>
        (parts.find((p) => p.meta.hash === ref.hash)?.op as { records: BatchRecord[] }).records[ref.index]?.v
      for (const key of applied.settle) assert.notEqual(await state.settle(key, read), null)
      assert.equal(state.index.size, 12)
      assert.equal(state.index.get('c3'), 1)
      assert.deepEqual(state.usage('A'), { ...state.usage('A'), writes: 12, keys: 12 })
      assert.equal(state.batches.held, 0)
    })

    it('the same entries give the same state in any order (batches, puts, an incomplete and a void batch)', async () => {
      const entries = [
        put('A', 1, 'a0', 'old'), part('A', 2, ID, 0, 3, recs('a', 3, 'batch')), part('A', 5, ID, 1, 3, recs('b', 3)), part('A', 3, ID, 2, 3, [{ k: 'x' }]),
        put('A', 4, 'b1', 'between'), put('A', 6, 'b2', 'after'), put('B', 4, 'x', 'B'),
        part('B', 3, ID, 0, 2, recs('c', 2)), // B's batch of the same id, never whole
        part('A', 7, ID2, 0, 2, recs('d', 2)), part('A', 8, ID2, 1, 2, recs('e', 2)), part('A', 9, ID2, 1, 2, recs('f', 2)) // void
      ]
      const quotas: Quotas = { liveBytes: 1_000_000, keys: 6, writes: 100 }
      const reference = await run(entries, quotas)
      assert.deepEqual(keys(reference), ['a0', 'a1', 'a2', 'b0', 'b1', 'b2', 'x'])
      assert.equal(reference.index.get('a0'), 'batch')
      assert.equal(reference.index.get('b2'), 'after')
      await fc.assert(fc.asyncProperty(fc.shuffledSubarray(entries, { minLength: entries.length, maxLength: entries.length }), async (order) => {
        const state = await run(order, quotas)
        assert.deepEqual(sorted(state.index.records()), sorted(reference.index.records()))
        assert.deepEqual(state.usage('A'), reference.usage('A'))
      }), { numRuns: 150 })
    })

    it('contradicting parts make a batch never count, before or after it was whole; another signer cannot spoil it', async () => {
      const p0 = part('A', 1, ID, 0, 2, recs('a', 2))
      const p1 = part('A', 2, ID, 1, 2, recs('b', 2))
      const dup = part('A', 3, ID, 1, 2, recs('z', 2))
      const otherOf = part('A', 3, ID, 2, 3, recs('z', 2))
      for (const extra of [dup, otherOf]) {
        assert.deepEqual(keys(await run([p0, extra, p1])), [], 'contradicted before it was whole')
        assert.deepEqual(keys(await run([p0, p1, extra])), [], 'contradicted after it counted: it stops counting')
      }
      // A hostile device copies the id (it can read it) and sends its own parts of it.
      const thief = [part('T', 1, ID, 1, 2, recs('t', 1)), part('T', 2, ID, 1, 2, recs('u', 1)), part('T', 3, ID, 0, 3, recs('v', 1))]
      assert.deepEqual(keys(await run([p0, ...thief, p1])), ['a0', 'a1', 'b0', 'b1'])
    })

    it('a part whose clock names another device than its signer counts for nothing', async () => {
      const state = await run([entry('A', 1, { op: 'batch', id: ID, part: 0, of: 1, records: recs('a', 1) }, 'B')])
      assert.equal(state.ignored, 1)
      assert.deepEqual(keys(state), [])
    })

    it('quotas: a batch counts all or nothing, and the writer is told before it writes any of it', async () => {
      const quotas: Quotas = { liveBytes: 1_000_000, keys: 5, writes: 10 }
      const three = [put('A', 1, 'k0', 1), put('A', 2, 'k1', 1), put('A', 3, 'k2', 1)]
      // Three more keys: one past the keys quota, so none of the batch counts (puts would count two).
      const over = await run([...three, part('A', 4, ID, 0, 2, recs('n', 2)), part('A', 5, ID, 1, 2, recs('m', 1))], quotas)
      assert.deepEqual(keys(over), ['k0', 'k1', 'k2'])
      const puts = await run([...three, put('A', 4, 'n0', 1), put('A', 5, 'n1', 1), put('A', 6, 'm0', 1)], quotas)
      assert.equal(puts.index.size, 5, 'the same writes as puts: two count')
      assert.throws(() => { over.checkMany('A', [{ key: 'n0', value: 1 }, { key: 'n1', value: 1 }, { key: 'm0', value: 1 }]) }, { code: 'QUOTA_EXCEEDED' })
      over.checkMany('A', [{ key: 'n0', value: 1 }, { key: 'k0', value: undefined }, { key: 'n1', value: 1 }])
      // Past the writes quota: a part beyond it means the whole batch is past it.
      const writes = await run([...three, part('A', 4, ID, 0, 2, recs('n', 1)), part('A', 5, ID, 1, 2, recs('w', 7))], quotas)
      assert.deepEqual(keys(writes), ['k0', 'k1', 'k2'])
      assert.throws(() => { writes.checkMany('A', [{ key: 'k0', value: 2 }]) }, { code: 'QUOTA_EXCEEDED' })
      // Its incomplete parts took their room in the writes quota all the same.
      const held = await run([...three, part('A', 4, ID, 0, 2, recs('n', 6))], quotas)
      assert.equal(held.usage('A').writes, 9)
      assert.throws(() => { held.checkMany('A', [{ key: 'a', value: 1 }, { key: 'b', value: 1 }]) }, { code: 'QUOTA_EXCEEDED' })
    })

    it('a move to a new epoch carries a counted batch whole, from any of its parts; an unfinished one not at all', async () => {
      const parts = [part('A', 1, ID, 0, 2, recs('a', 3)), part('A', 2, ID, 1, 2, recs('b', 3)), part('A', 3, ID2, 0, 2, recs('c', 3))]
      const state = await run(parts)
      const byHash = new Map(parts.map((p) => [p.meta.hash, p]))
      // The old log as a carry sees it: its entries (plain payloads), what it counted and holds.
      const from = {
        codec: plainCodec,
        log: { get: async (hash: string) => { const e = byHash.get(hash); return e === undefined ? undefined : { hash, clock: e.meta.clock, payload: plainCodec.encode(e.op) } } },
        batchPartsOf: (hash: string) => state.batches.partsOf(hash),
        holds: (r: SlotRecord) => { const held = state.index.stampOf(r.key); return held !== undefined && compareStamps(held, r.stamp) === 0 }
      } as unknown as KvDatabase
      const done = new Set<string>()
      const [p0, p1, other] = parts.map((p) => p.meta.hash) as [string, string, string]
      const carried = await batchToCarry(from, EPOCH, p1, done)
      assert.deepEqual(carried.map((r) => r.key).sort(), ['a0', 'a1', 'a2', 'b0', 'b1', 'b2'], 'the part the cut covered goes too')
      assert.deepEqual(carried.find((r) => r.key === 'a0')?.stamp, { epoch: EPOCH, time: 1, id: 'A', hash: p0 })
      assert.deepEqual(await batchToCarry(from, EPOCH, p0, done), [], 'once')
      assert.deepEqual(await batchToCarry(from, EPOCH, other, new Set()), [], 'an unfinished batch')
    })

    it('the held parts survive toJSON/fromJSON', async () => {
      const batches = new Batches()
      batches.add('A', ID, { hash: 'h1', time: 1 }, 0, 3)
      batches.add('A', ID2, { hash: 'h2', time: 2 }, 0, 1)
      const w = batches.ready()[0]
      assert.ok(w !== undefined)
      batches.counted(w)
      batches.add('B', ID, { hash: 'h3', time: 1 }, 0, 2)
      batches.add('B', ID, { hash: 'h4', time: 1 }, 0, 2)
      const back = Batches.fromJSON(JSON.parse(JSON.stringify(batches.toJSON())))
      assert.deepEqual(back.toJSON(), batches.toJSON())
      assert.deepEqual(back.add('A', ID, { hash: 'h5', time: 5 }, 2, 3), { kind: 'held' })
      assert.equal(back.add('A', ID, { hash: 'h6', time: 6 }, 1, 3).kind, 'whole')
      assert.deepEqual(back.add('A', ID2, { hash: 'h7', time: 7 }, 0, 1), { kind: 'void', last: { hash: 'h2', time: 2 } })
      assert.deepEqual(back.add('B', ID, { hash: 'h8', time: 8 }, 1, 2), { kind: 'ignored' })
      assert.throws(() => Batches.fromJSON([['A x', 'open', 1, 'nope']]), { code: 'INVALID_OPERATION' })
    })
  })
})
