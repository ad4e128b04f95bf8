/**
 * Ciphertexts padded to size buckets: a replica holding a data entry learns only a
 * coarse size, not the length of a key name or a value, nor a put from a del.
 */
import assert from 'node:assert/strict'
import { AEAD_OVERHEAD, decrypt, encrypt, generateKey } from '../../src/crypto/aead.ts'
import { deflate } from '../../src/crypto/deflate.ts'
import { utf8Encode } from '../../src/crypto/bytes.ts'
import { bucketSize, MIN_BUCKET, pad, padme, PADDED_FORMAT, unpad } from '../../src/crypto/padding.ts'
import { dataAad, encryptedCodec, type DataOp } from '../../src/store/codec.ts'

const account = '/orbitdb/zdpuPaddingAccount'
const sizeOf = (op: DataOp, codec = encryptedCodec(generateKey(), account, 0)): number => (codec.encode(op) as Uint8Array).length
const isTyped = (codes: string[]) => (e: Error & { code?: string }): boolean => codes.includes(e.code ?? '')

describe('store: padding ciphertexts to size buckets', () => {
  const key = generateKey()
  const codec = encryptedCodec(key, account, 0)
  const aad = dataAad(account, 0)
  /** A payload sealed the way the codec seals it, around any plaintext (a writer holding the key). */
  const sealed = (plaintext: Uint8Array): Uint8Array => encrypt(key, plaintext, aad)

  it('values of 1 and 100 bytes, and a del of the same key, give ciphertexts of exactly the same size', () => {
    const one = sizeOf({ op: 'put', key: 'notes/today', value: 1 }, codec)
    const hundred = sizeOf({ op: 'put', key: 'notes/today', value: 'x'.repeat(98) }, codec)
    const del = sizeOf({ op: 'del', key: 'notes/today' }, codec)
    assert.equal(utf8Encode(JSON.stringify('x'.repeat(98))).length, 100)
    assert.equal(one, MIN_BUCKET + AEAD_OVERHEAD)
    assert.equal(hundred, one)
    assert.equal(del, one)
    // Key names of 1 and 100 bytes too.
    assert.equal(sizeOf({ op: 'put', key: 'k', value: 1 }, codec), sizeOf({ op: 'put', key: 'k'.repeat(100), value: 1 }, codec))
  })

  it('follows Padmé above the minimum bucket: few distinct sizes, at most 1/16 overhead', () => {
    // Known answers, worked out by hand from the definition.
    assert.deepEqual([1, 2, 3, 7, 9, 300, 1000, 1025, 9999, 65_537].map(padme), [1, 2, 3, 7, 10, 304, 1024, 1088, 10_240, 67_584])
    let buckets = 0
    let previous = 0
    for (let n = 1; n <= 300_000; n++) {
      const b = bucketSize(n)
      assert.ok(b >= n && b >= MIN_BUCKET, `bucket of ${n}`)
      if (n > MIN_BUCKET) assert.ok(b - n <= n / 16, `overhead of ${n}: ${b - n}`)
      assert.equal(bucketSize(b), b, `a bucket is its own bucket (${b})`)
      if (b !== previous) { buckets++; previous = b }
    }
    // 300,000 possible lengths fall into a few hundred sizes (each seen as a run: monotone).
    assert.ok(buckets < 400, `${buckets} buckets`)
  })

  it('round-trips a value of every length from 0 to 5,000 bytes, each ciphertext the size of its bucket', () => {
    for (let n = 0; n <= 5000; n++) {
      const op: DataOp = { op: 'put', key: 'k', value: 'v'.repeat(n) }
      const payload = codec.encode(op) as Uint8Array
      assert.deepEqual(codec.decode(payload), op)
      const content = utf8Encode(JSON.stringify(op)).length
      assert.equal(payload.length, bucketSize(5 + content) + AEAD_OVERHEAD, `length ${n}`)
    }
    // A snapshot and a carry are padded too: their records packed (stamps' ids and hashes in tables), then deflated after a 0 byte.
    const records = [{ k: 'a', v: 'x'.repeat(700), s: [0, 1, 'id', 'h'] as [number, number, string, string] }]
    const packed = { op: 'snapshot', part: 0, of: 1, ids: ['id'], hashes: ['h'], records: [{ k: 'a', v: 'x'.repeat(700), s: [0, 1, 0, 0] }] }
    for (const [op, written] of [[{ op: 'snapshot', part: 0, of: 1, records }, packed], [{ op: 'carry', records }, { op: 'carry', ids: packed.ids, hashes: packed.hashes, records: packed.records }]] satisfies Array<[DataOp, unknown]>) {
      const payload = codec.encode(op) as Uint8Array
      assert.equal(payload.length, bucketSize(5 + 1 + deflate(utf8Encode(JSON.stringify(written))).length) + AEAD_OVERHEAD)
      assert.deepEqual(codec.decode(payload), op)
    }
  })

  it('rejects tampered, stripped, extended and non-zero padding with a typed error', () => {
    const op: DataOp = { op: 'put', key: 'k', value: 'secret' }
    const padded = pad(utf8Encode(JSON.stringify(op)))
    const content = 5 + utf8Encode(JSON.stringify(op)).length
    assert.equal(padded.length, MIN_BUCKET)
    assert.deepEqual(codec.decode(sealed(padded)), op, 'the hand-made form is the codec\'s own')

    // A flipped bit anywhere in the ciphertext (padding included) fails authentication.
    const good = codec.encode(op) as Uint8Array
    for (const i of [good.length - 17, good.length - 100, 30]) {
      const bad = good.slice()
      bad[i] = (bad[i] as number) ^ 1
      assert.throws(() => codec.decode(bad), { code: 'DECRYPTION_FAILED' }, `bit at ${i}`)
    }
    assert.throws(() => codec.decode(good.subarray(0, good.length - 1)), { code: 'DECRYPTION_FAILED' }, 'a truncated ciphertext')

    // Authentic ciphertexts (a writer with the key) around non-canonical padding.
    const hostile: Array<[string, Uint8Array]> = [
      ['stripped to the content', padded.subarray(0, content)],
      ['stripped by one byte', padded.subarray(0, padded.length - 1)],
      ['extended by one zero', Uint8Array.of(...padded, 0)],
      ['extended to the next bucket', Uint8Array.from({ length: padme(MIN_BUCKET + 1) }, (_x, i) => padded[i] ?? 0)],
      ['a non-zero padding byte', padded.map((b, i) => i === padded.length - 1 ? 1 : b)],
      ['a length past the end', padded.map((b, i) => i === 1 ? 0x7f : b)],
      ['a length shorter than the content', padded.map((b, i) => i === 4 ? (b - 1) : b)],
      ['an unknown format byte', padded.map((b, i) => i === 0 ? PADDED_FORMAT + 1 : b)],
      ['no header at all', new Uint8Array(0)]
    ]
    for (const [what, plaintext] of hostile) {
      assert.throws(() => codec.decode(sealed(plaintext)), isTyped(['INVALID_OPERATION', 'INVALID_ARGUMENT']), what)
      assert.throws(() => unpad(plaintext), { code: 'INVALID_ARGUMENT' }, what)
    }
  })

  it('still decodes a payload written before padding (bare JSON, its exact size)', () => {
    const op: DataOp = { op: 'del', key: 'old/key' }
    const legacy = sealed(utf8Encode(JSON.stringify(op)))
    assert.equal(legacy.length, utf8Encode(JSON.stringify(op)).length + AEAD_OVERHEAD, 'the old format: plaintext + 41')
    assert.deepEqual(codec.decode(legacy), op)
    // And a new payload is the padded form under the same key.
    assert.equal(decrypt(key, codec.encode(op) as Uint8Array, aad)[0], PADDED_FORMAT)
  })
})
