import assert from 'node:assert/strict'
import { hasNative, publicKeyOf, sign, verify } from '../../identity/fast-ed25519.ts'
import { generateDeviceKeys, signBytes, signingPublicKey, verifyBytes } from '../../identity/keys.ts'
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

  it('derives the same public key as the reference, 100 random keys, and the RFC 8032 test 1 key the probe checks', async () => {
    for (let i = 0; i < 100; i++) {
      const { signing } = generateDeviceKeys()
      assert.deepEqual(await publicKeyOf(signing.secretKey), signing.publicKey)
    }
    // The probe's known answers (fast-ed25519.ts), checked here against the reference implementation.
    const hex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'))
    const seed = hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60')
    assert.deepEqual(signingPublicKey(seed), hex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a'))
    assert.deepEqual(signBytes(seed, new Uint8Array(0)), hex('e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b'))
    assert.deepEqual(await publicKeyOf(seed), signingPublicKey(seed))
    // This Node has WebCrypto Ed25519, and it passes the probe: the tests above went through it.
    assert.equal(await hasNative(), true)
  })
})
