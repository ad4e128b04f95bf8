import assert from 'node:assert/strict'
import { x25519 } from '@noble/curves/ed25519.js'
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { AEAD_OVERHEAD, NATIVE_AEAD_FROM, decrypt, encrypt, generateKey, useNativeChaCha } from '../src/crypto/aead.ts'
import { nodeChaCha } from '../src/node/native-aead.ts'
import {
  base32LowerEncode,
  base64urlDecode,
  base64urlEncode,
  concatBytes,
  equalBytes,
  randomBytes,
  utf8Decode,
  utf8Encode,
  utf8Length
} from '../src/crypto/bytes.ts'
import { DEFAULT_KDF_PARAMS, derivePassphraseKey, validateKdfParams } from '../src/crypto/kdf.ts'
import { LOCKBOX_OVERHEAD, lockboxAad, openBox, openBoxFast, sealTo } from '../src/crypto/lockbox.ts'
import { hasNativeX25519, x25519PublicKey, x25519Shared } from '../src/crypto/fast-x25519.ts'
import {
  deviceIdFromSigningKey,
  generateDeviceKeys,
  isDeviceId,
  signBytes,
  verifyBytes
} from '../identity/keys.ts'

const expectCode = (code: string) => (e: unknown): boolean => {
  assert.equal((e as { code?: unknown }).code, code, `expected ${code}, got ${String(e)}`)
  return true
}

const flip = (bytes: Uint8Array, index: number): Uint8Array => {
  const copy = bytes.slice()
  copy[index]! ^= 0x01
  return copy
}

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')

describe('crypto/bytes', () => {
  it('round-trips utf8', () => {
    const s = 'héllo ✓ 🚀'
    assert.equal(utf8Decode(utf8Encode(s)), s)
  })

  it('utf8Length is the length utf8Encode writes: every kind of code unit, lone and paired surrogates, 2,000 random strings', () => {
    for (const s of ['', 'a', '\u007f', '\u0080', '\u07ff', '\u0800', '\uffff', '🚀', '\ud83d', '\ude80', '\ude80\ud83d', 'x\ud83d', '\ud83d\ud83d\ude80']) {
      assert.equal(utf8Length(s), utf8Encode(s).length, JSON.stringify(s))
    }
    const units = [0x41, 0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xe000, 0xffff]
    for (let i = 0; i < 2000; i++) {
      const s = String.fromCharCode(...Array.from({ length: i % 40 }, () => units[Math.floor(Math.random() * units.length)] as number))
      assert.equal(utf8Length(s), utf8Encode(s).length, JSON.stringify(s))
    }
  })

  it('rejects invalid utf8 with a labelled InvalidArgumentError', () => {
    assert.throws(() => utf8Decode(Uint8Array.of(0xff, 0xfe), 'payload'), (e: unknown) => {
      expectCode('INVALID_ARGUMENT')(e)
      assert.match((e as Error).message, /payload/)
      return true
    })
  })

  it('round-trips base64url for every length 0..64 without padding', () => {
    for (let n = 0; n <= 64; n++) {
      const bytes = randomBytes(n)
      const text = base64urlEncode(bytes)
      assert.match(text, /^[A-Za-z0-9_-]*$/)
      assert.deepEqual(base64urlDecode(text), bytes)
    }
  })

  it('matches known base64url vectors', () => {
    assert.equal(base64urlEncode(utf8Encode('')), '')
    assert.equal(base64urlEncode(utf8Encode('f')), 'Zg')
    assert.equal(base64urlEncode(utf8Encode('fo')), 'Zm8')
    assert.equal(base64urlEncode(utf8Encode('foo')), 'Zm9v')
    assert.equal(base64urlEncode(Uint8Array.of(0xfb, 0xff)), '-_8')
  })

  it('decodes base64url strictly and names the field', () => {
    for (const bad of ['Zg==', 'Zm9v=', '+/8', 'Zm 9v', 'Z', 'Zh', 'Zm9', 'Zm9v\n', 'é']) {
      assert.throws(() => base64urlDecode(bad, 'kdf.salt'), (e: unknown) => {
        expectCode('INVALID_ARGUMENT')(e)
        assert.match((e as Error).message, /kdf\.salt/)
        return true
      }, `should reject ${JSON.stringify(bad)}`)
    }
  })

  it('encodes lowercase base32 (RFC 4648 vectors)', () => {
    assert.equal(base32LowerEncode(utf8Encode('foobar')), 'mzxw6ytboi')
    assert.equal(base32LowerEncode(utf8Encode('fooba')), 'mzxw6ytb')
    assert.equal(base32LowerEncode(utf8Encode('f')), 'my')
  })

  it('concatenates and compares bytes', () => {
    const c = concatBytes(Uint8Array.of(1, 2), new Uint8Array(0), Uint8Array.of(3))
    assert.deepEqual(c, Uint8Array.of(1, 2, 3))
    assert.equal(equalBytes(c, Uint8Array.of(1, 2, 3)), true)
    assert.equal(equalBytes(c, Uint8Array.of(1, 2, 4)), false)
    assert.equal(equalBytes(c, Uint8Array.of(1, 2)), false)
  })

  it('randomBytes returns the requested length and rejects bad n', () => {
    assert.equal(randomBytes(24).length, 24)
    assert.throws(() => randomBytes(-1), expectCode('INVALID_ARGUMENT'))
    assert.throws(() => randomBytes(1.5), expectCode('INVALID_ARGUMENT'))
  })
})

describe('crypto/aead', () => {
  const key = generateKey()
  const aad = utf8Encode('context')
  const plaintext = utf8Encode('the quick brown fox')

  it('round-trips, including an empty plaintext', () => {
    const sealed = encrypt(key, plaintext, aad)
    assert.equal(sealed.length, plaintext.length + AEAD_OVERHEAD)
    assert.equal(sealed[0], 0x01)
    assert.deepEqual(decrypt(key, sealed, aad), plaintext)
    assert.deepEqual(decrypt(key, encrypt(key, new Uint8Array(0), aad), aad), new Uint8Array(0))
  })

  it('rejects a flipped bit in the nonce, the ciphertext and the tag with DecryptionError', () => {
    const sealed = encrypt(key, plaintext, aad)
    const nonceIndex = 1 + 5
    const ciphertextIndex = 1 + 24 + 3
    const tagIndex = sealed.length - 1
    for (const i of [nonceIndex, ciphertextIndex, tagIndex]) {
      assert.throws(() => decrypt(key, flip(sealed, i), aad), expectCode('DECRYPTION_FAILED'), `byte ${i}`)
    }
  })

  it('rejects the wrong key and the wrong aad with DecryptionError', () => {
    const sealed = encrypt(key, plaintext, aad)
    assert.throws(() => decrypt(generateKey(), sealed, aad), expectCode('DECRYPTION_FAILED'))
    assert.throws(() => decrypt(key, sealed, utf8Encode('other')), expectCode('DECRYPTION_FAILED'))
    assert.throws(() => decrypt(key, sealed, new Uint8Array(0)), expectCode('DECRYPTION_FAILED'))
  })

  it('rejects truncated, empty and unknown-version input with InvalidCiphertextError', () => {
    const sealed = encrypt(key, plaintext, aad)
    assert.throws(() => decrypt(key, new Uint8Array(0), aad), expectCode('INVALID_CIPHERTEXT'))
    assert.throws(() => decrypt(key, sealed.subarray(0, AEAD_OVERHEAD - 1), aad), expectCode('INVALID_CIPHERTEXT'))
    const v2 = sealed.slice()
    v2[0] = 0x02
    assert.throws(() => decrypt(key, v2, aad), expectCode('INVALID_CIPHERTEXT'))
    // Truncated but still long enough to parse: the tag no longer verifies.
    assert.throws(() => decrypt(key, sealed.subarray(0, sealed.length - 1), aad), expectCode('DECRYPTION_FAILED'))
  })

  it('rejects keys that are not 32 bytes with InvalidArgumentError', () => {
    for (const k of [new Uint8Array(31), new Uint8Array(33), new Uint8Array(0)]) {
      assert.throws(() => encrypt(k, plaintext, aad), (e: unknown) => {
        expectCode('INVALID_ARGUMENT')(e)
        assert.match((e as Error).message, /key must be 32 bytes, got \d+/)
        return true
      })
      assert.throws(() => decrypt(k, encrypt(key, plaintext, aad), aad), expectCode('INVALID_ARGUMENT'))
    }
  })

  it('produces different ciphertexts for the same plaintext', () => {
    const a = encrypt(key, plaintext, aad)
    const b = encrypt(key, plaintext, aad)
    assert.notDeepEqual(a, b)
    assert.notDeepEqual(a.subarray(1, 25), b.subarray(1, 25))
  })

  it('never repeats a nonce across 100,000 encryptions', function () {
    this.timeout(120_000)
    const n = 100_000
    const nonces = new Set<string>()
    const msg = new Uint8Array(0)
    const noAad = new Uint8Array(0)
    for (let i = 0; i < n; i++) {
      nonces.add(hex(encrypt(key, msg, noAad).subarray(1, 25)))
    }
    assert.equal(nonces.size, n)
  })
})

describe('crypto/aead on Node\'s native ChaCha20-Poly1305', () => {
  const key = generateKey()
  const aad = utf8Encode('context')
  const calls = { seal: 0, open: 0 }
  beforeEach(() => {
    calls.seal = 0
    calls.open = 0
    useNativeChaCha({
      seal: (...args) => { calls.seal++; return nodeChaCha.seal(...args) },
      open: (...args) => { calls.open++; return nodeChaCha.open(...args) }
    })
  })
  afterEach(() => { useNativeChaCha(nodeChaCha) })

  const SIZES = [0, 100, NATIVE_AEAD_FROM - 1, NATIVE_AEAD_FROM, NATIVE_AEAD_FROM + 1, 70_001, 256 * 1024]
  /** Random bytes of any length (randomBytes gives 64 KiB at most). */
  const bytesOf = (n: number): Uint8Array => {
    const out = new Uint8Array(n)
    for (let at = 0; at < n; at += 65_536) out.set(randomBytes(Math.min(65_536, n - at)), at)
    return out
  }

  it('gives the bytes the JavaScript XChaCha20-Poly1305 gives, both ways, natively from 4,096 bytes on', () => {
    for (const size of SIZES) {
      const plaintext = bytesOf(size)
      const before = { ...calls }
      const sealed = encrypt(key, plaintext, aad)
      const nonce = sealed.subarray(1, 25)
      // The same nonce in JavaScript: the same ciphertext and tag, byte for byte.
      assert.deepEqual(sealed.subarray(25), xchacha20poly1305(key, nonce, aad).encrypt(plaintext), `size ${size}`)
      assert.deepEqual(decrypt(key, sealed, aad), plaintext, `size ${size}`)
      // And what JavaScript sealed opens natively.
      const theirs = concatBytes(Uint8Array.of(0x01), nonce, xchacha20poly1305(key, nonce, aad).encrypt(plaintext))
      assert.deepEqual(decrypt(key, theirs, aad), plaintext, `size ${size}`)
      const native = size >= NATIVE_AEAD_FROM ? 1 : 0
      assert.deepEqual({ seal: calls.seal - before.seal, open: calls.open - before.open }, { seal: native, open: 2 * native }, `size ${size}`)
    }
  })

  it('rejects, natively, a flipped bit anywhere in the nonce, the ciphertext or the tag, the wrong key and the wrong aad', () => {
    const plaintext = randomBytes(NATIVE_AEAD_FROM + 10)
    const sealed = encrypt(key, plaintext, aad)
    // The nonce's first 16 bytes make the subkey, its last 8 the ChaCha20 nonce.
    for (const i of [1, 1 + 15, 1 + 16, 1 + 23, 25, 25 + 4000, sealed.length - 16, sealed.length - 1]) {
      assert.throws(() => decrypt(key, flip(sealed, i), aad), expectCode('DECRYPTION_FAILED'), `byte ${i}`)
    }
    assert.throws(() => decrypt(generateKey(), sealed, aad), expectCode('DECRYPTION_FAILED'))
    assert.throws(() => decrypt(key, sealed, utf8Encode('other')), expectCode('DECRYPTION_FAILED'))
    assert.throws(() => decrypt(key, sealed.subarray(0, sealed.length - 1), aad), expectCode('DECRYPTION_FAILED'))
    assert.ok(calls.open >= 11, `the native cipher was asked (${calls.open} times)`)
    assert.deepEqual(decrypt(key, sealed, aad), plaintext)
  })
})

describe('crypto/lockbox', () => {
  const recipient = generateDeviceKeys().box
  const groupKey = generateKey()
  const aad = lockboxAad('/orbitdb/zdpuExample', 3, 'dabcdefghijklmnopqrstuvwx')

  it('builds the documented aad', () => {
    assert.equal(utf8Decode(aad), 'orbit-account/lockbox/v1|/orbitdb/zdpuExample|3|dabcdefghijklmnopqrstuvwx')
    assert.throws(() => lockboxAad('a|b', 1, 'd'), expectCode('INVALID_ARGUMENT'))
    assert.throws(() => lockboxAad('a', -1, 'd'), expectCode('INVALID_ARGUMENT'))
    assert.throws(() => lockboxAad('a', 1.5, 'd'), expectCode('INVALID_ARGUMENT'))
  })

  it('round-trips to the recipient', () => {
    const box = sealTo(recipient.publicKey, groupKey, aad)
    assert.equal(box.length, groupKey.length + LOCKBOX_OVERHEAD)
    assert.equal(box[0], 0x01)
    assert.deepEqual(openBox(recipient.secretKey, box, aad), groupKey)
  })

  it('uses a fresh ephemeral key per box', () => {
    const a = sealTo(recipient.publicKey, groupKey, aad)
    const b = sealTo(recipient.publicKey, groupKey, aad)
    assert.notDeepEqual(a.subarray(1, 33), b.subarray(1, 33))
  })

  it('cannot be opened by another device or with another aad', () => {
    const box = sealTo(recipient.publicKey, groupKey, aad)
    assert.throws(() => openBox(generateDeviceKeys().box.secretKey, box, aad), expectCode('DECRYPTION_FAILED'))
    assert.throws(() => openBox(recipient.secretKey, box, lockboxAad('/orbitdb/zdpuExample', 4, 'dabcdefghijklmnopqrstuvwx')), expectCode('DECRYPTION_FAILED'))
  })

  it('rejects a tampered ephemeral key', () => {
    const box = sealTo(recipient.publicKey, groupKey, aad)
    assert.throws(() => openBox(recipient.secretKey, flip(box, 5), aad), expectCode('DECRYPTION_FAILED'))
  })

  it('rejects an all-zero (low-order) ephemeral key without crashing', () => {
    const box = sealTo(recipient.publicKey, groupKey, aad)
    const zeroed = box.slice()
    zeroed.fill(0, 1, 33)
    assert.throws(() => openBox(recipient.secretKey, zeroed, aad), expectCode('DECRYPTION_FAILED'))
    const one = new Uint8Array(32)
    one[0] = 1
    const lowOrder = box.slice()
    lowOrder.set(one, 1)
    assert.throws(() => openBox(recipient.secretKey, lowOrder, aad), expectCode('DECRYPTION_FAILED'))
  })

  it('refuses to seal to a low-order public key', () => {
    assert.throws(() => sealTo(new Uint8Array(32), groupKey, aad), expectCode('INVALID_ARGUMENT'))
  })

  it('rejects malformed boxes and keys', () => {
    const box = sealTo(recipient.publicKey, groupKey, aad)
    assert.throws(() => openBox(recipient.secretKey, box.subarray(0, LOCKBOX_OVERHEAD - 1), aad), expectCode('INVALID_CIPHERTEXT'))
    assert.throws(() => openBox(recipient.secretKey, new Uint8Array(0), aad), expectCode('INVALID_CIPHERTEXT'))
    const v2 = box.slice()
    v2[0] = 2
    assert.throws(() => openBox(recipient.secretKey, v2, aad), expectCode('INVALID_CIPHERTEXT'))
    assert.throws(() => openBox(new Uint8Array(31), box, aad), expectCode('INVALID_ARGUMENT'))
    assert.throws(() => sealTo(new Uint8Array(33), groupKey, aad), expectCode('INVALID_ARGUMENT'))
  })

  it('works with any x25519 key pair', () => {
    const kp = x25519.keygen()
    assert.deepEqual(openBox(kp.secretKey, sealTo(kp.publicKey, groupKey, aad), aad), groupKey)
  })

  it('openBoxFast (native X25519) answers as openBox does: the key, or the same error code', async () => {
    // This Node has WebCrypto X25519 and it passes the known-answer probe: the cases below go through it.
    assert.equal(await hasNativeX25519(), true)
    const box = sealTo(recipient.publicKey, groupKey, aad)
    const zeroed = box.slice()
    zeroed.fill(0, 1, 33)
    const lowOrder = box.slice()
    lowOrder[1] = 1
    lowOrder.fill(0, 2, 33)
    const v2 = box.slice()
    v2[0] = 2
    const cases: Array<[Uint8Array, Uint8Array, Uint8Array]> = [
      [recipient.secretKey, box, aad], [generateDeviceKeys().box.secretKey, box, aad], [recipient.secretKey, flip(box, 5), aad],
      [recipient.secretKey, flip(box, 40), aad], [recipient.secretKey, box, lockboxAad('/orbitdb/zdpuExample', 4, 'dabcdefghijklmnopqrstuvwx')],
      [recipient.secretKey, zeroed, aad], [recipient.secretKey, lowOrder, aad], [recipient.secretKey, v2, aad],
      [recipient.secretKey, box.subarray(0, LOCKBOX_OVERHEAD - 1), aad], [new Uint8Array(31), box, aad]
    ]
    const outcome = async (open: () => Uint8Array | Promise<Uint8Array>): Promise<string> => {
      try {
        return `key ${base64urlEncode(await open())}`
      } catch (err) {
        return `error ${(err as { code?: string }).code ?? String(err)}`
      }
    }
    for (const [i, [sk, b, a]] of cases.entries()) {
      assert.equal(await outcome(async () => await openBoxFast(sk, b, a)), await outcome(() => openBox(sk, b, a)), `case ${i}`)
    }
    assert.equal(await outcome(async () => await openBoxFast(recipient.secretKey, box, aad)), `key ${base64urlEncode(groupKey)}`)
  })

  it('native X25519 gives the reference answers: RFC 7748 section 6.1 (the probe\'s vector) and 50 random pairs', async () => {
    const hex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'))
    const alice = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a')
    const bobPublic = hex('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f')
    assert.deepEqual(x25519.getPublicKey(alice), hex('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a'))
    assert.deepEqual(x25519.getSharedSecret(alice, bobPublic), hex('4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742'))
    for (let i = 0; i < 50; i++) {
      const a = x25519.keygen()
      const b = x25519.keygen()
      assert.deepEqual(await x25519PublicKey(a.secretKey), a.publicKey)
      assert.deepEqual(await x25519Shared(a.secretKey, b.publicKey), x25519.getSharedSecret(a.secretKey, b.publicKey))
    }
    assert.equal(await x25519Shared(alice, new Uint8Array(32)), undefined, 'an all-zero result is no secret')
  })
})

describe('crypto/kdf', () => {
  it('exports the documented defaults', () => {
    assert.deepEqual({ ...DEFAULT_KDF_PARAMS }, { N: 2 ** 17, r: 8, p: 1, dkLen: 32 })
  })

  it('is deterministic for the same passphrase, salt and params', async () => {
    const salt = randomBytes(16)
    const params = { N: 2 ** 10, r: 8, p: 1, dkLen: 32 }
    const a = await derivePassphraseKey('correct horse', salt, params)
    const b = await derivePassphraseKey('correct horse', salt, params)
    const c = await derivePassphraseKey('correct horsf', salt, params)
    assert.equal(a.length, 32)
    assert.deepEqual(a, b)
    assert.notDeepEqual(a, c)
  })

  it('rejects out-of-range params, empty passphrases and short salts', async () => {
    const ok = { N: 2 ** 10, r: 8, p: 1, dkLen: 32 }
    for (const bad of [
      { ...ok, N: 2 ** 9 }, { ...ok, N: 2 ** 23 }, { ...ok, N: 3000 },
      { ...ok, r: 0 }, { ...ok, r: 33 }, { ...ok, p: 0 }, { ...ok, p: 17 }, { ...ok, r: 1.5 },
      { ...ok, N: 2 ** 22, r: 32 }
    ]) {
      assert.throws(() => validateKdfParams(bad), expectCode('INVALID_ARGUMENT'), JSON.stringify(bad))
      await assert.rejects(derivePassphraseKey('pw', randomBytes(16), bad), expectCode('INVALID_ARGUMENT'))
    }
    await assert.rejects(derivePassphraseKey('', randomBytes(16), ok), expectCode('INVALID_ARGUMENT'))
    await assert.rejects(derivePassphraseKey('pw', randomBytes(8), ok), expectCode('INVALID_ARGUMENT'))
  })
})

describe('identity/keys', () => {
  it('derives a 25-character device id starting with d, deterministically', () => {
    const keys = generateDeviceKeys()
    const id = deviceIdFromSigningKey(keys.signing.publicKey)
    assert.match(id, /^d[a-z2-7]{24}$/)
    assert.equal(id.length, 25)
    assert.equal(deviceIdFromSigningKey(keys.signing.publicKey.slice()), id)
    assert.notEqual(deviceIdFromSigningKey(generateDeviceKeys().signing.publicKey), id)
    assert.equal(isDeviceId(id), true)
  })

  it('matches a fixed vector', () => {
    // 'd' + base32(sha256(32 zero bytes)[0..15]), computed independently with Python's hashlib/base64
    assert.equal(deviceIdFromSigningKey(new Uint8Array(32)), 'dmzuhvlpymk6xo3epygfy5h4o')
  })

  it('isDeviceId rejects other shapes', () => {
    for (const s of ['', 'd', 'e' + 'a'.repeat(24), 'd' + 'a'.repeat(23), 'd' + 'a'.repeat(25), 'd' + 'A'.repeat(24), 'd' + '1'.repeat(24)]) {
      assert.equal(isDeviceId(s), false, s)
    }
  })

  it('rejects signing keys of the wrong length', () => {
    assert.throws(() => deviceIdFromSigningKey(new Uint8Array(31)), expectCode('INVALID_ARGUMENT'))
  })

  it('signs and verifies', () => {
    const { signing } = generateDeviceKeys()
    const msg = utf8Encode('hello')
    const sig = signBytes(signing.secretKey, msg)
    assert.equal(sig.length, 64)
    assert.equal(verifyBytes(sig, signing.publicKey, msg), true)
    assert.equal(verifyBytes(sig, signing.publicKey, utf8Encode('hellp')), false)
    assert.equal(verifyBytes(flip(sig, 10), signing.publicKey, msg), false)
    assert.equal(verifyBytes(sig, generateDeviceKeys().signing.publicKey, msg), false)
  })

  it('verifyBytes returns false on garbage instead of throwing', () => {
    const { signing } = generateDeviceKeys()
    const msg = utf8Encode('hello')
    const sig = signBytes(signing.secretKey, msg)
    const cases: Array<[unknown, unknown, unknown]> = [
      [new Uint8Array(63), signing.publicKey, msg],
      [new Uint8Array(64), signing.publicKey, msg],
      [new Uint8Array(64).fill(0xff), signing.publicKey, msg],
      [sig, new Uint8Array(31), msg],
      [sig, new Uint8Array(32).fill(0xff), msg],
      [sig, new Uint8Array(32), msg],
      [sig, signing.publicKey, 'hello'],
      ['sig', 'key', 'msg'],
      [null, undefined, 42]
    ]
    for (const [s, k, m] of cases) {
      assert.equal(verifyBytes(s as Uint8Array, k as Uint8Array, m as Uint8Array), false)
    }
  })
})
