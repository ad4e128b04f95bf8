import assert from 'node:assert/strict'
import { encryptedCodec, plainCodec, parseDataOp, type DataOp, type WireRecord } from '../../src/store/codec.ts'
import { generateKey } from '../../src/crypto/aead.ts'
import { utf8Encode } from '../../src/crypto/bytes.ts'
import { checkValue, jsonCost, parseJsonValue, MAX_VALUE_BYTES, MAX_VALUE_DEPTH, type JsonValue } from '../../src/store/limits.ts'
import { valueCost } from '../../src/store/quota.ts'
import { prng } from '../helpers/random.ts'

describe('store: payload codecs', () => {
  const account = '/orbitdb/zdpuAccount'

  it('encrypts the key and the value, and decodes them back', () => {
    const codec = encryptedCodec(generateKey(), account, 0)
    const payload = codec.encode({ op: 'put', key: 'secret-key-name', value: { note: 'secret value' } })
    assert.ok(payload instanceof Uint8Array)
    const text = new TextDecoder('utf-8', { fatal: false }).decode(payload)
    assert.ok(!text.includes('secret'), 'no plaintext in the payload')
    assert.deepEqual(codec.decode(payload), { op: 'put', key: 'secret-key-name', value: { note: 'secret value' } })
  })

  it('binds the account and the epoch: a payload moved to another log does not decode', () => {
    const key = generateKey()
    const payload = encryptedCodec(key, account, 0).encode({ op: 'del', key: 'k' })
    assert.throws(() => encryptedCodec(key, account, 1).decode(payload), { code: 'DECRYPTION_FAILED' })
    assert.throws(() => encryptedCodec(key, '/orbitdb/zdpuOther', 0).decode(payload), { code: 'DECRYPTION_FAILED' })
    assert.throws(() => encryptedCodec(generateKey(), account, 0).decode(payload), { code: 'DECRYPTION_FAILED' })
  })

  it('rejects payloads that are not operations, with typed errors', () => {
    const key = generateKey()
    const codec = encryptedCodec(key, account, 0)
    assert.throws(() => codec.decode('not bytes'), { code: 'DECRYPTION_FAILED' })
    assert.throws(() => codec.decode(new Uint8Array(3)), { code: 'INVALID_CIPHERTEXT' })
    for (const bad of [null, [], 'x', { op: 'put', key: 'k' }, { op: 'zap', key: 'k' }, { op: 'del', key: '' }, { op: 'del', key: 1 }, { op: 'del', key: 'k', extra: 1 }]) {
      assert.throws(() => parseDataOp(bad), (e: Error & { code?: string }) => e.code === 'INVALID_OPERATION' || e.code === 'INVALID_ARGUMENT', JSON.stringify(bad))
      assert.throws(() => plainCodec.decode(bad))
    }
  })

  it('public mode keeps the operation in clear', () => {
    const payload = plainCodec.encode({ op: 'put', key: 'k', value: [1, 2] })
    assert.deepEqual(payload, { op: 'put', key: 'k', value: [1, 2] })
    assert.deepEqual(plainCodec.decode(payload), { op: 'put', key: 'k', value: [1, 2] })
  })

  it('checks value size and JSON', () => {
    assert.throws(() => checkValue('x'.repeat(MAX_VALUE_BYTES)), { code: 'VALUE_TOO_LARGE' })
    assert.throws(() => parseJsonValue('{bad'), { code: 'INVALID_JSON' })
    assert.equal(utf8Encode(checkValue({ a: 1 })).length, 7)
  })

  it('checks a decoded value as a written one: its size as JSON text, not as it came, and plain JSON only', () => {
    const decode = (value: JsonValue): DataOp => parseDataOp(JSON.parse(JSON.stringify({ op: 'put', key: 'k', value })))
    const text = (chars: number): string => 'x'.repeat(chars - 2) // a string's JSON has two quotes more
    assert.doesNotThrow(() => decode(text(MAX_VALUE_BYTES)))
    assert.throws(() => decode(text(MAX_VALUE_BYTES + 1)), { code: 'VALUE_TOO_LARGE' })
    // Three bytes of UTF-8 each: just over the limit, though fewer characters than it.
    assert.throws(() => decode('€'.repeat(Math.ceil(MAX_VALUE_BYTES / 3))), { code: 'VALUE_TOO_LARGE' })
    // `1e20` comes as 4 characters but is written as 21: counted as written.
    const n = Math.floor(MAX_VALUE_BYTES / 20)
    const expands = `{"op":"put","key":"k","value":[${Array.from({ length: n }, () => '1e20').join(',')}]}`
    assert.ok(expands.length < MAX_VALUE_BYTES / 3)
    assert.throws(() => parseDataOp(JSON.parse(expands)), { code: 'VALUE_TOO_LARGE' })
    // Too large a number, too deep, not JSON: each refused with a typed error.
    assert.throws(() => parseDataOp(JSON.parse('{"op":"put","key":"k","value":[1e999]}')), { code: 'INVALID_JSON' })
    const deep = (d: number): string => '['.repeat(d) + ']'.repeat(d)
    assert.doesNotThrow(() => parseDataOp(JSON.parse(`{"op":"put","key":"k","value":${deep(MAX_VALUE_DEPTH + 1)}}`)))
    assert.throws(() => parseDataOp(JSON.parse(`{"op":"put","key":"k","value":${deep(MAX_VALUE_DEPTH + 2)}}`)), { code: 'INVALID_JSON' })
    assert.throws(() => parseDataOp({ op: 'put', key: 'k', value: new Uint8Array(2) }), { code: 'INVALID_JSON' })
    assert.throws(() => parseDataOp({ op: 'put', key: 'k', value: { a: 1n } }), { code: 'INVALID_JSON' })
    // In a snapshot part's record as in a put.
    assert.throws(() => parseDataOp({ op: 'snapshot', part: 0, of: 1, ids: ['w'], hashes: ['h'], records: [{ k: 'a', v: text(MAX_VALUE_BYTES + 1), s: [0, 1, 0, 0] }] }), { code: 'VALUE_TOO_LARGE' })
  })

  it('measures what a value costs the quotas as before: two bytes a character and 32 a node', () => {
    // The measure the quotas used before it was merged into the value check's walk.
    const reference = (value: JsonValue): number => {
      let cost = 0
      const stack: JsonValue[] = [value]
      while (stack.length > 0) {
        const v = stack.pop() as JsonValue
        cost += 32
        if (typeof v === 'string') cost += 2 * v.length
        else if (Array.isArray(v)) stack.push(...v)
        else if (v !== null && typeof v === 'object') {
          for (const [k, x] of Object.entries(v)) {
            cost += 32 + 2 * k.length
            stack.push(x)
          }
        }
      }
      return cost
    }
    const next = prng(7)
    const value = (depth: number): JsonValue => {
      const r = next()
      if (depth > 4 || r < 0.3) return [null, true, 1.5, -2, 'tëxt', ''][Math.floor(next() * 6)] as JsonValue
      if (r < 0.65) return Array.from({ length: Math.floor(next() * 5) }, () => value(depth + 1))
      return Object.fromEntries(Array.from({ length: Math.floor(next() * 5) }, (_, i) => [`k${i}${'é'.repeat(i)}`, value(depth + 1)]))
    }
    for (let i = 0; i < 300; i++) {
      const v = value(0)
      assert.equal(valueCost(v), reference(v), JSON.stringify(v))
    }
  })

  describe('snapshot parts and carries: stamps packed in tables', () => {
    const stamp = (time: number, id: string, hash: string): WireRecord['s'] => [2, time, id, hash]
    const records: WireRecord[] = [
      { k: 'a', v: { n: 1 }, s: stamp(5, 'writer-1', 'entry-1') },
      { k: 'b', s: stamp(5, 'writer-1', 'entry-1') },
      { k: 'c', v: 'x', s: stamp(9, 'writer-2', 'entry-2') },
      { k: 'd', v: [1, 2], s: stamp(6, 'writer-1', 'entry-3') }
    ]

    it('writes each writer id and entry hash once, and reads back the same records', () => {
      const written = plainCodec.encode({ op: 'snapshot', part: 1, of: 3, records })
      assert.deepEqual(written, {
        op: 'snapshot',
        part: 1,
        of: 3,
        ids: ['writer-1', 'writer-2'],
        hashes: ['entry-1', 'entry-2', 'entry-3'],
        records: [{ k: 'a', v: { n: 1 }, s: [2, 5, 0, 0] }, { k: 'b', s: [2, 5, 0, 0] }, { k: 'c', v: 'x', s: [2, 9, 1, 1] }, { k: 'd', v: [1, 2], s: [2, 6, 0, 2] }]
      })
      for (const op of [{ op: 'snapshot', part: 1, of: 3, records }, { op: 'carry', records }] satisfies DataOp[]) {
        assert.deepEqual(plainCodec.decode(plainCodec.encode(op)), op)
        const codec = encryptedCodec(generateKey(), account, 2)
        const decoded = codec.decode(codec.encode(op))
        assert.deepEqual(decoded as unknown, op)
        if (decoded.op !== 'snapshot' && decoded.op !== 'carry') assert.fail('not decoded as records')
        // One string per table entry, shared by the records that name it.
        assert.equal(decoded.records[0]?.s[2], decoded.records[1]?.s[2])
        // Each value's cost, measured as it was checked (-1: no value), never written out.
        assert.deepEqual([...decoded.costs ?? []], decoded.records.map((r) => r.v === undefined ? -1 : jsonCost(r.v)))
        assert.ok(!JSON.stringify(decoded).includes('costs'))
      }
    })

    it('still reads ops written with whole stamps', () => {
      assert.deepEqual(parseDataOp({ op: 'snapshot', part: 0, of: 1, records }), { op: 'snapshot', part: 0, of: 1, records })
      assert.deepEqual(parseDataOp({ op: 'carry', records }), { op: 'carry', records })
    })

    it('reuses the records of a payload it owns, leaves a caller\'s object as it was, and drops fields besides k, v and s', () => {
      const text = JSON.stringify({ op: 'snapshot', part: 0, of: 1, ids: ['w'], hashes: ['h'], records: [{ k: 'a', v: { x: 1 }, s: [0, 1, 0, 0] }, { k: 'b', s: [0, 2, 0, 0], extra: 'x' }] })
      const expected = { op: 'snapshot', part: 0, of: 1, records: [{ k: 'a', v: { x: 1 }, s: [0, 1, 'w', 'h'] }, { k: 'b', s: [0, 2, 'w', 'h'] }] }
      const mine = JSON.parse(text) as { records: unknown[] }
      assert.deepEqual(parseDataOp(mine), expected)
      assert.deepEqual(mine, JSON.parse(text), 'a caller\'s object is not changed')
      assert.deepEqual(parseDataOp(mine), expected, 'and parses again alike')
      const owned = JSON.parse(text) as { records: unknown[] }
      const op = parseDataOp(owned, true)
      assert.deepEqual(op, expected)
      assert.equal((op as { records: unknown[] }).records[0], owned.records[0], 'an owned record is reused')
      assert.notEqual((op as { records: unknown[] }).records[1], owned.records[1], 'one with another field is copied without it')
      const key = new Uint8Array(32).fill(3)
      const codec = encryptedCodec(key, 'acct', 0)
      const records: WireRecord[] = [{ k: 'a', v: { x: 1 }, s: [0, 1, 'w', 'h'] }, { k: 'b', s: [0, 2, 'w', 'h'] }]
      assert.deepEqual(codec.decode(codec.encode({ op: 'carry', records })), { op: 'carry', records })
    })

    it('refuses a packed op whose stamps or tables are malformed, with a typed error', () => {
      const good = { op: 'snapshot', part: 0, of: 1, ids: ['w'], hashes: ['h'], records: [{ k: 'a', v: 1, s: [0, 1, 0, 0] }] }
      assert.deepEqual(parseDataOp(good), { op: 'snapshot', part: 0, of: 1, records: [{ k: 'a', v: 1, s: [0, 1, 'w', 'h'] }] })
      const bad: unknown[] = [
        { ...good, records: [{ k: 'a', v: 1, s: [0, 1, 1, 0] }] }, // no id 1
        { ...good, records: [{ k: 'a', v: 1, s: [0, 1, 0, -1] }] },
        { ...good, records: [{ k: 'a', v: 1, s: [0, 1, 0.5, 0] }] },
        { ...good, records: [{ k: 'a', v: 1, s: [0, 1, 'w', 'h'] }] }, // whole stamps in a packed op
        { op: 'snapshot', part: 0, of: 1, records: [{ k: 'a', v: 1, s: [0, 1, 0, 0] }] }, // indexes with no tables
        { ...good, ids: ['w', 7] },
        { ...good, hashes: ['h'.repeat(201)] },
        { ...good, ids: 'w' },
        { op: 'snapshot', part: 0, of: 1, ids: ['w'], records: good.records }, // no hashes
        { ...good, extra: 1 },
        { op: 'carry', ids: ['w'], hashes: ['h'], records: good.records, part: 0 },
        { op: 'put', key: 'k', value: 1, ids: [] }
      ]
      for (const op of bad) assert.throws(() => parseDataOp(op), { code: 'INVALID_OPERATION' }, JSON.stringify(op))
      assert.deepEqual(parseDataOp({ op: 'carry', ids: ['w'], hashes: ['h'], records: good.records }), { op: 'carry', records: [{ k: 'a', v: 1, s: [0, 1, 'w', 'h'] }] })
    })
  })
})
