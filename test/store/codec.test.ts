import assert from 'node:assert/strict'
import { encryptedCodec, plainCodec, parseDataOp } from '../../src/store/codec.ts'
import { generateKey } from '../../src/crypto/aead.ts'
import { utf8Encode } from '../../src/crypto/bytes.ts'
import { checkValue, parseJsonValue, MAX_VALUE_BYTES } from '../../src/store/limits.ts'

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
})
