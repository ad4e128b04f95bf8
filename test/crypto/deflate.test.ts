import assert from 'node:assert/strict'
import { deflateRawSync } from 'node:zlib'
import { deflate, inflate, useNativeDeflate } from '../../src/crypto/deflate.ts'
import { nodeDeflate } from '../../src/node/native-deflate.ts'
import { utf8Decode, utf8Encode } from '../../src/crypto/bytes.ts'
import { encrypt, generateKey } from '../../src/crypto/aead.ts'
import { pad } from '../../src/crypto/padding.ts'
import { dataAad, encryptedCodec, type DataOp } from '../../src/store/codec.ts'

/** Runs `f` with fflate's DEFLATE, then with Node's native one lent, and leaves the native one lent as the Node entry points do. */
const both = (f: (name: string) => void): void => {
  try {
    useNativeDeflate(undefined)
    f('fflate')
  } finally {
    useNativeDeflate(nodeDeflate)
  }
  f('native')
}

describe('crypto: raw DEFLATE for snapshot parts and carries', () => {
  const json = utf8Encode(JSON.stringify(Array.from({ length: 2000 }, (_, i) => ({ k: `item/${i}`, v: { title: `Item ${i}`, note: 'lorem ipsum '.repeat(5) } }))))

  it('compresses JSON, and each implementation reads what the other wrote', () => {
    const written: Record<string, Uint8Array> = {}
    both((name) => {
      written[name] = deflate(json)
      assert.ok(written[name].length < json.length / 4, `${name}: ${written[name].length} of ${json.length}`)
    })
    both((name) => {
      for (const [by, bytes] of Object.entries(written)) assert.deepEqual(inflate(bytes, json.length), json, `${name} reads ${by}'s`)
    })
  })

  it('never inflates past its bound: a bomb is refused with a typed error, quickly', () => {
    // 64 MiB of zeros deflate to ~64 KiB.
    const bomb = new Uint8Array(deflateRawSync(new Uint8Array(64 * 1024 * 1024), { level: 9 }))
    assert.ok(bomb.length < 100_000)
    both((name) => {
      const t = Date.now()
      assert.throws(() => inflate(bomb, 600_000), { code: 'INVALID_ARGUMENT' }, name)
      assert.ok(Date.now() - t < 5000, `${name} stopped early`)
      // Exactly at the bound is fine.
      assert.equal(inflate(deflate(new Uint8Array(1000)), 1000).length, 1000)
      assert.throws(() => inflate(deflate(new Uint8Array(1001)), 1000), { code: 'INVALID_ARGUMENT' }, name)
    })
  })

  it('refuses what is not raw DEFLATE, or ends early, with a typed error', () => {
    const good = deflate(json)
    both((name) => {
      assert.throws(() => inflate(Uint8Array.of(0xff, 0xff, 0xff, 0xff), 1000), { code: 'INVALID_ARGUMENT' }, name)
      assert.throws(() => inflate(good.subarray(0, good.length >> 1), json.length), { code: 'INVALID_ARGUMENT' }, name)
    })
  })

  it('the codec deflates snapshot parts and carries, never a put, and refuses a payload that inflates too far', () => {
    const key = generateKey()
    const account = '/orbitdb/zdpuAccount'
    const codec = encryptedCodec(key, account, 1)
    const records = Array.from({ length: 500 }, (_, i) => ({ k: `item/${i}`, v: { note: 'lorem ipsum '.repeat(10) }, s: [1, 5, 'writer', 'entry'] as [number, number, string, string] }))
    const value = 'lorem ipsum '.repeat(2000)
    both((name) => {
      for (const op of [{ op: 'snapshot', part: 0, of: 1, records }, { op: 'carry', records }] satisfies DataOp[]) {
        const payload = codec.encode(op) as Uint8Array
        assert.ok(payload.length < JSON.stringify(op).length / 4, `${name}: a ${op.op} of ${JSON.stringify(op).length} bytes takes ${payload.length}`)
        assert.deepEqual(codec.decode(payload), op)
      }
      // A put's size is its bucket's, however well its value would compress.
      assert.ok((codec.encode({ op: 'put', key: 'k', value }) as Uint8Array).length > value.length)
      // A writer's own bytes: a 0 byte (deflated) then a bomb, padded and encrypted under the epoch key.
      const bomb = new Uint8Array(deflateRawSync(Buffer.alloc(8 * 1024 * 1024, 0x20), { level: 9 }))
      const content = new Uint8Array(bomb.length + 1)
      content.set(bomb, 1)
      assert.throws(() => codec.decode(encrypt(key, pad(content), dataAad(account, 1))), { code: 'INVALID_OPERATION' }, name)
      // Deflated bytes that inflate to something other than an op: refused as well.
      const notOp = utf8Encode('not json')
      const z = deflate(notOp)
      const c2 = new Uint8Array(z.length + 1)
      c2.set(z, 1)
      assert.throws(() => codec.decode(encrypt(key, pad(c2), dataAad(account, 1))), { code: 'INVALID_OPERATION' }, name)
      assert.equal(utf8Decode(inflate(z, 100)), 'not json')
    })
  })
})
