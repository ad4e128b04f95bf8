/**
 * Per-device quotas (src/store/quota.ts, src/store/kv-state.ts): a device's writes count
 * while it stays within its quotas, judged on its own writes in canonical order, so every
 * peer ends with the same index for the same entries whatever their order; a back-dated
 * write that changes what counts is settled again.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import type { DataOp } from '../../src/store/codec.ts'
import { compareStamps, type SlotRecord, type Stamp } from '../../src/store/kv-index.ts'
import { KvState, type EntryMeta } from '../../src/store/kv-state.ts'
import { checkQuotas, quotasOf, DeviceLedger, DEFAULT_QUOTAS, valueCost, writeCost, type Quotas, type Write } from '../../src/store/quota.ts'
import type { JsonValue } from '../../src/store/limits.ts'

interface TestEntry { meta: EntryMeta, op: DataOp }

const EPOCH = 1
let counter = 0
const entry = (signer: string, time: number, op: DataOp, clockId = signer): TestEntry =>
  ({ meta: { hash: `h${String(counter++).padStart(6, '0')}`, signer, clock: { id: clockId, time } }, op })
const put = (signer: string, time: number, key: string, value: JsonValue): TestEntry => entry(signer, time, { op: 'put', key, value })

/** Applies entries in this order, settling what back-dated ones changed, as the database does. */
const run = async (entries: TestEntry[], quotas: Quotas, starter?: string): Promise<KvState> => {
  const state = new KvState({ epoch: EPOCH, quotas, starter })
  const byHash = new Map(entries.map((e) => [e.meta.hash, e.op]))
  const read = async (ref: { hash: string, index: number }): Promise<JsonValue | undefined> => {
    const op = byHash.get(ref.hash)
    if (ref.index < 0) return op?.op === 'put' ? op.value : undefined
    return op?.op === 'carry' || op?.op === 'snapshot' ? op.records[ref.index]?.v : undefined
  }
  for (const e of entries) {
    const applied = state.apply(e.meta, e.op)
    for (const key of applied.settle) await state.settle(key, read)
  }
  return state
}

const sorted = (records: SlotRecord[]): SlotRecord[] => [...records].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))

describe('store: per-device quotas', () => {
  const small: Quotas = { liveBytes: 10_000, keys: 2, writes: 5 }

  it('a device\'s writes past its keys quota are ignored; another device\'s writes never use it up; a del frees a key', async () => {
    const entries = [put('A', 1, 'a', 1), put('B', 2, 'b1', 1), put('B', 3, 'b2', 1), put('B', 4, 'b3', 1), put('A', 5, 'c', 1), put('A', 6, 'd', 1)]
    const state = await run(entries, small)
    assert.deepEqual(state.index.entries().map(([k]) => k), ['a', 'b1', 'b2', 'c'], 'A keeps its 2 keys, B its first 2; d and b3 are over quota')
    assert.deepEqual(state.usage('A'), { writes: 3, keys: 2, bytes: writeCost('a', 1) + writeCost('c', 1) })
    assert.equal(state.ignored, 0, 'over-quota writes are considered (they used the writes quota), just not counted')
    const freed = await run([...entries, entry('A', 7, { op: 'del', key: 'a' }), put('A', 8, 'e', 1)], small)
    assert.deepEqual(freed.index.entries().map(([k]) => k), ['b1', 'b2', 'c', 'e'])
    assert.equal(freed.usage('A').keys, 2)
  })

  it('the writer is told before it writes: QUOTA_EXCEEDED for keys, bytes and writes', async () => {
    const state = await run([put('A', 1, 'a', 1), put('A', 2, 'b', 1)], small)
    assert.throws(() => { state.check('A', 'c', 1) }, { name: 'QuotaExceededError', code: 'QUOTA_EXCEEDED' })
    state.check('A', 'a', 2) // overwriting a key it holds stays within the keys quota
    assert.throws(() => { state.check('A', 'a', 'x'.repeat(6000)) }, { code: 'QUOTA_EXCEEDED' }, 'bytes')
    const busy = await run([1, 2, 3, 4, 5].map((t) => put('A', t, 'a', t)), small)
    assert.throws(() => { busy.check('A', 'a', 6) }, { code: 'QUOTA_EXCEEDED' }, 'writes per epoch log')
    assert.equal(busy.index.get('a'), 5)
  })

  it('a back-dated write that takes a key from later writes settles them again, everywhere alike', async () => {
    const b = put('B', 1, 'k2', 'B\'s older value')
    const a1 = put('A', 5, 'k1', 'a1')
    const a2 = put('A', 6, 'k2', 'a2')
    const late = put('A', 2, 'k0', 'back-dated')
    const inOrder = await run([b, a1, a2], small)
    assert.equal(inOrder.index.get('k2'), 'a2')
    const withLate = await run([b, a1, a2, late], small)
    // In A's order (k0, k1, k2) its third key is over quota: k2 falls back to B's write.
    assert.equal(withLate.index.get('k2'), 'B\'s older value')
    assert.equal(withLate.index.get('k0'), 'back-dated')
    assert.deepEqual(sorted(withLate.index.records()), sorted((await run([late, a2, b, a1], small)).index.records()))
  })

  it('a put or del whose clock names another device counts for nothing', async () => {
    const state = await run([entry('A', 1, { op: 'put', key: 'k', value: 'forged' }, 'B')], small)
    assert.equal(state.index.get('k'), undefined)
    assert.equal(state.ignored, 1)
    assert.deepEqual(state.usage('B'), { writes: 0, keys: 0, bytes: 0 })
  })

  it('only the epoch\'s starter\'s snapshot counts; its records stay in their writers\' quotas, so a new epoch gives no fresh room', async () => {
    const held = 'x'.repeat(4000)
    const records = [{ k: 'a1', v: held, s: [0, 8, 'A', 'ha1'] as [number, number, string, string] }, { k: 'a2', v: 1, s: [0, 9, 'A', 'ha2'] as [number, number, string, string] }]
    const state = await run([
      put('A', 1, 'a3', 'new key'),
      put('A', 2, 'a1', 'x'.repeat(5000)),
      put('A', 3, 'a1', 'smaller'),
      entry('R', 1, { op: 'snapshot', part: 0, of: 1, records }),
      entry('M', 1, { op: 'snapshot', part: 0, of: 1, records: [{ k: 'forged', v: 1, s: [0, 99, 'M', 'hm'] }] })
    ], small, 'R')
    // A held 2 keys (its quota) when the epoch began: a third does not count, growing a1
    // past its bytes does not either, shrinking it does.
    assert.equal(state.index.get('a3'), undefined)
    assert.equal(state.index.get('a1'), 'smaller')
    assert.equal(state.index.get('a2'), 1)
    assert.equal(state.index.get('forged'), undefined)
    assert.equal(state.ignored, 1)
    assert.deepEqual(state.usage('R'), { writes: 0, keys: 0, bytes: 0 })
    assert.equal(state.usage('A').keys, 2)
  })

  it('a carry is charged to its signer, and a record claiming a later epoch is left out', async () => {
    const state = await run([entry('A', 1, {
      op: 'carry',
      records: [{ k: 'old', v: 1, s: [0, 3, 'B', 'hb'] }, { k: 'future', v: 1, s: [EPOCH + 1, 1, 'B', 'hf'] }]
    })], small)
    assert.equal(state.index.get('old'), 1)
    assert.equal(state.index.get('future'), undefined)
    assert.equal(state.usage('A').keys, 1)
    // Empty carries still use the writes quota: a device cannot send endless ones.
    const empty = await run([1, 2, 3, 4, 5, 6, 7].map((t) => entry('A', t, { op: 'carry', records: [] })), small)
    assert.equal(empty.usage('A').writes, small.writes)
    assert.equal(empty.ignored, 2)
  })

  it('a value\'s cost counts its structure, not only its JSON text', () => {
    const objects: JsonValue = Array.from({ length: 1000 }, () => ({}))
    assert.ok(valueCost(objects) > 10 * JSON.stringify(objects).length, String(valueCost(objects)))
    assert.ok(valueCost('x'.repeat(1000)) >= 2000)
  })

  it('a snapshot\'s records kept once while they are all a device holds; a later write or record leaves them as they were', () => {
    const stamp = (time: number): Stamp => ({ epoch: EPOCH, time, id: 'w', hash: `h${time}` })
    const write = (key: string, time: number, live = true): Write => ({ key, stamp: stamp(time), cost: writeCost(key, live ? time : undefined), ref: { hash: `h${time}`, index: 0 }, live })
    const ledger = new DeviceLedger(DEFAULT_QUOTAS)
    const [a1, b1, a0] = [write('a', 10), write('b', 11), write('a', 5)]
    assert.deepEqual(ledger.addBase([a1, b1, a0]), { kind: 'appended', counted: [a1, b1] })
    assert.deepEqual(ledger.usage(), { writes: 0, keys: 2, bytes: a1.cost + b1.cost })
    assert.deepEqual(ledger.dump().best, [[-1, 0], [-1, 1]])
    assert.equal(DeviceLedger.restore(DEFAULT_QUOTAS, ledger.dump()).best('a'), a1)
    // A later write of a holds it; the snapshot's record of a is still the snapshot's.
    const a2 = write('a', 20)
    assert.deepEqual(ledger.add({ time: 20, hash: 'h20', writes: [a2] }), { kind: 'appended', counted: [a2] })
    assert.equal(ledger.best('a'), a2)
    const dump = ledger.dump()
    assert.deepEqual(dump.base, [a1, b1])
    assert.deepEqual(dump.best.map(([i, j]) => (i < 0 ? dump.base[j] : dump.ops[i]?.writes[j])?.key).sort(), ['a', 'b'])
    // A record arriving later (replayed over the op): the base gains it, the op still holds a.
    const c1 = write('c', 12, false)
    assert.deepEqual(ledger.addBase([c1]), { kind: 'replayed', changed: new Set(['c']) })
    assert.deepEqual(ledger.dump().base, [a1, b1, c1])
    assert.equal(ledger.best('a'), a2)
    assert.deepEqual(ledger.usage(), { writes: 1, keys: 2, bytes: a2.cost + b1.cost + c1.cost })
    // Restored, it holds the same and judges alike.
    const restored = DeviceLedger.restore(DEFAULT_QUOTAS, ledger.dump())
    assert.equal(restored.best('a'), a2)
    assert.equal(restored.best('c'), c1)
    const b2 = write('b', 30)
    restored.add({ time: 30, hash: 'h30', writes: [b2] })
    assert.deepEqual(restored.dump().base, [a1, b1, c1])
  })

  it('quota parameters are checked; accounts without them get the defaults', () => {
    assert.deepEqual(checkQuotas({ liveBytes: 1, keys: 2, writes: 3 }), { liveBytes: 1, keys: 2, writes: 3 })
    for (const bad of [null, [], { liveBytes: 0, keys: 1, writes: 1 }, { liveBytes: 1.5, keys: 1, writes: 1 }, { liveBytes: 1, keys: 1 }]) {
      assert.throws(() => checkQuotas(bad), { code: 'INVALID_ARGUMENT' }, JSON.stringify(bad))
    }
    assert.deepEqual(quotasOf({}), DEFAULT_QUOTAS)
  })
})

/**
 * The same verdicts computed from the whole set at once, the plain way: per device, its
 * entries sorted by (time, hash), those before the first that does not fit in the writes
 * quota, each write counted if the device stays within its quotas; then per key the
 * newest counted write.
 */
const reference = (entries: TestEntry[], quotas: Quotas, starter: string): Map<string, { value: JsonValue | undefined, stamp: Stamp }> => {
  const slots = new Map<string, { value: JsonValue | undefined, stamp: Stamp }>()
  const unique = [...new Map(entries.map((e) => [e.meta.hash, e])).values()]
  type Held = { value: JsonValue | undefined, stamp: Stamp, cost: number }
  // The starter's snapshot records, held by their writers whatever the quotas.
  const base = new Map<string, Map<string, Held>>()
  for (const e of unique) {
    if (e.op.op !== 'snapshot' || e.meta.signer !== starter) continue
    for (const r of e.op.records) {
      const stamp = { epoch: r.s[0], time: r.s[1], id: r.s[2], hash: r.s[3] }
      if (stamp.epoch > EPOCH) continue
      const mine = base.get(stamp.id) ?? new Map<string, Held>()
      base.set(stamp.id, mine)
      const held = mine.get(r.k)
      if (held === undefined || compareStamps(held.stamp, stamp) < 0) mine.set(r.k, { value: r.v, stamp, cost: writeCost(r.k, r.v) })
    }
  }
  for (const signer of new Set([...unique.map((e) => e.meta.signer), ...base.keys()])) {
    const mine = unique.filter((e) => e.meta.signer === signer && e.op.op !== 'snapshot' && (e.op.op === 'carry' || e.meta.clock.id === signer))
      .sort((a, b) => a.meta.clock.time - b.meta.clock.time || (a.meta.hash < b.meta.hash ? -1 : 1))
    const best = new Map<string, Held>(base.get(signer) ?? [])
    let writes = 0
    let bytes = [...best.values()].reduce((n, h) => n + h.cost, 0)
    for (const e of mine) {
      const stamp: Stamp = { epoch: EPOCH, time: e.meta.clock.time, id: e.meta.clock.id, hash: e.meta.hash }
      const records = e.op.op === 'put' ? [{ key: e.op.key, value: e.op.value as JsonValue | undefined, stamp }]
        : e.op.op === 'del' ? [{ key: e.op.key, value: undefined, stamp }]
          : e.op.op === 'carry' ? e.op.records.filter((r) => r.s[0] <= EPOCH).map((r) => ({ key: r.k, value: r.v, stamp: { epoch: r.s[0], time: r.s[1], id: r.s[2], hash: r.s[3] } })) : []
      if (writes + Math.max(1, records.length) > quotas.writes) break
      writes += Math.max(1, records.length)
      for (const r of records) {
        const held = best.get(r.key)
        if (held !== undefined && compareStamps(held.stamp, r.stamp) >= 0) continue
        const cost = writeCost(r.key, r.value)
        const next = bytes - (held?.cost ?? 0) + cost
        const live = [...best.values()].filter((h) => h.value !== undefined).length
        const addsKey = r.value !== undefined && held?.value === undefined
        if ((next > quotas.liveBytes && next > bytes) || (addsKey && live >= quotas.keys)) continue
        best.set(r.key, { ...r, cost })
        bytes += cost - (held?.cost ?? 0)
      }
    }
    for (const [key, w] of best) {
      const slot = slots.get(key)
      if (slot === undefined || compareStamps(slot.stamp, w.stamp) < 0) slots.set(key, { value: w.value, stamp: w.stamp })
    }
  }
  return slots
}

describe('store: quotas converge (property)', () => {
  const KEYS = ['a', 'b', 'c', 'd', 'e']
  const SIGNERS = ['A', 'B', 'C']
  const value = fc.oneof(fc.integer({ min: 0, max: 9 }), fc.string({ maxLength: 40 }), fc.constant(null))
  const op: fc.Arbitrary<DataOp> = fc.oneof(
    { weight: 5, arbitrary: fc.record({ key: fc.constantFrom(...KEYS), value }).map(({ key, value }): DataOp => ({ op: 'put', key, value })) },
    { weight: 2, arbitrary: fc.constantFrom(...KEYS).map((key): DataOp => ({ op: 'del', key })) },
    {
      weight: 1,
      arbitrary: fc.array(fc.record({ k: fc.constantFrom(...KEYS), v: value, t: fc.integer({ min: 0, max: 12 }), e: fc.integer({ min: 0, max: EPOCH + 1 }) }), { minLength: 1, maxLength: 3 })
        .map((rs): DataOp => ({ op: 'carry', records: rs.map((r, i) => ({ k: r.k, v: r.v, s: [r.e, r.t, 'Z', `carried${r.t}-${i}`] as [number, number, string, string] })) }))
    }
  )
  const snapshot: fc.Arbitrary<DataOp> = fc.array(fc.record({ k: fc.constantFrom(...KEYS), v: value, t: fc.integer({ min: 0, max: 12 }), id: fc.constantFrom(...SIGNERS) }), { minLength: 1, maxLength: 4 })
    .map((rs): DataOp => ({ op: 'snapshot', part: 0, of: 1, records: rs.map((r, i) => ({ k: r.k, v: r.v, s: [0, r.t, r.id, `snap${r.t}-${i}`] as [number, number, string, string] })) }))
  const history = fc.array(fc.record({
    signer: fc.constantFrom(...SIGNERS),
    // Times repeat and go back: devices back-date writes, and concurrent writes share times.
    time: fc.integer({ min: 0, max: 12 }),
    forged: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
    op
  }), { minLength: 1, maxLength: 30 })
  // The starter S writes snapshot parts; so may others (theirs count for nothing).
  const snapshots = fc.array(fc.record({ signer: fc.constantFrom('S', 'A'), time: fc.integer({ min: 0, max: 3 }), op: snapshot }), { maxLength: 3 })
  const quotas = fc.record({ liveBytes: fc.integer({ min: 300, max: 1500 }), keys: fc.integer({ min: 1, max: 4 }), writes: fc.integer({ min: 1, max: 12 }) })

  it('every order of the same entries (with duplicates) gives the same index, the one the whole set gives', async () => {
    await fc.assert(fc.asyncProperty(history, snapshots, quotas, fc.array(fc.nat(), { minLength: 3, maxLength: 3 }), async (h, snaps, q, seeds) => {
      const entries = [...h.map((x) => entry(x.signer, x.time, x.op, x.forged ? 'A' : x.signer)), ...snaps.map((x) => entry(x.signer, x.time, x.op))]
      const expected = reference(entries, q, 'S')
      for (const seed of seeds) {
        // A shuffle with some entries twice.
        const order = [...entries, ...entries.filter((_, i) => (i + seed) % 3 === 0)]
          .map((e, i) => ({ e, r: Math.sin(seed + i * 7919) })).sort((x, y) => x.r - y.r).map((x) => x.e)
        const state = await run(order, q, 'S')
        const got = new Map(state.index.records().map((r) => [r.key, { value: r.value, stamp: r.stamp }]))
        assert.deepEqual(got, expected, `order seed ${seed}`)
      }
    }), { numRuns: 1000, seed: 0x9007a })
  })
})
