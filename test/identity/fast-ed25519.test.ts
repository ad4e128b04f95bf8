import assert from 'node:assert/strict'
import { sign, verify } from '../../identity/fast-ed25519.ts'
import { generateDeviceKeys, signBytes, verifyBytes } from '../../identity/keys.ts'
import { randomBytes } from '../../src/crypto/bytes.ts'

describe('identity/fast-ed25519: native Ed25519 agrees with the reference implementation', () => {
  it('signatures made by either verify with the other, 200 random messages', async () => {
    for (let i = 0; i < 200; i++) {
      const { signing } = generateDeviceKeys()
      const msg = randomBytes(i * 7)
      const fast = await sign(signing.secretKey, msg)
      assert.deepEqual(fast, signBytes(signing.secretKey, msg), 'Ed25519 is deterministic: both give the same signature')
      assert.equal(verifyBytes(fast, signing.publicKey, msg), true)
      assert.equal(await verify(signBytes(signing.secretKey, msg), signing.publicKey, msg), true)
    }
  })

  it('rejects a wrong key, a changed message, a changed signature and garbage, without throwing', async () => {
    const a = generateDeviceKeys().signing
    const b = generateDeviceKeys().signing
    const msg = randomBytes(64)
    const sig = await sign(a.secretKey, msg)
    assert.equal(await verify(sig, b.publicKey, msg), false)
    assert.equal(await verify(sig, a.publicKey, randomBytes(64)), false)
    const bent = sig.slice()
    bent[10] = (bent[10] ?? 0) ^ 1
    assert.equal(await verify(bent, a.publicKey, msg), false)
    assert.equal(await verify(new Uint8Array(64), a.publicKey, msg), false)
    assert.equal(await verify(sig.subarray(0, 63), a.publicKey, msg), false)
    assert.equal(await verify(sig, new Uint8Array(32).fill(0xff), msg), false)
  })
})
