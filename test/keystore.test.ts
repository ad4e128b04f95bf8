import assert from 'node:assert/strict'
import { chmod, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { base64urlDecode, base64urlEncode } from '../src/crypto/bytes.ts'
import { deviceIdFromSigningKey, generateDeviceKeys } from '../identity/keys.ts'
import { decodeKeystore, encodeKeystore } from '../identity/keystore.ts'
import type { DeviceSecrets } from '../identity/keystore.ts'
import { readKeystoreFile, readPassphrase, writeKeystoreFile } from '../identity/keystore-fs.ts'

const FAST = { N: 2 ** 12, r: 8, p: 1, dkLen: 32 }

const expectCode = (code: string, match?: RegExp) => (e: unknown): boolean => {
  assert.equal((e as { code?: unknown }).code, code, `expected ${code}, got ${String(e)}`)
  if (match !== undefined) assert.match((e as Error).message, match)
  return true
}

const newSecrets = (name = 'laptop'): DeviceSecrets => {
  const keys = generateDeviceKeys()
  return { version: 1, device: deviceIdFromSigningKey(keys.signing.publicKey), name, ...keys }
}

type Doc = Record<string, unknown> & { secrets: Record<string, unknown> & { signing: Record<string, string>, box: Record<string, string> } }

const edit = (text: string, change: (doc: Doc) => void): string => {
  const doc = JSON.parse(text) as Doc
  change(doc)
  return JSON.stringify(doc)
}

describe('identity/keystore', () => {
  const secrets = newSecrets()

  it('round-trips unsealed', async () => {
    const text = await encodeKeystore(secrets)
    const doc = JSON.parse(text) as Doc
    assert.equal(doc.format, 'orbit-account-keystore')
    assert.equal(doc.version, 1)
    assert.equal(doc.sealed, false)
    assert.equal(doc.secrets.device, secrets.device)
    assert.equal(doc.secrets.signing.publicKey, base64urlEncode(secrets.signing.publicKey))
    assert.deepEqual(await decodeKeystore(text), secrets)
  })

  it('round-trips sealed with the default scrypt params', async function () {
    this.timeout(60_000)
    const text = await encodeKeystore(secrets, { passphrase: 'correct horse battery staple' })
    const doc = JSON.parse(text) as Record<string, unknown>
    assert.equal(doc.sealed, true)
    assert.equal(doc.cipher, 'xchacha20poly1305')
    assert.equal('secrets' in doc, false)
    assert.equal(text.includes(base64urlEncode(secrets.signing.secretKey)), false)
    const kdf = doc.kdf as Record<string, unknown>
    assert.deepEqual({ name: kdf.name, N: kdf.N, r: kdf.r, p: kdf.p }, { name: 'scrypt', N: 2 ** 17, r: 8, p: 1 })
    assert.equal(base64urlDecode(kdf.salt as string).length, 16)
    assert.deepEqual(await decodeKeystore(text, 'correct horse battery staple'), secrets)
  })

  describe('sealed (fast params)', () => {
    let sealed = ''
    before(async () => {
      sealed = await encodeKeystore(secrets, { passphrase: 'pw-1', kdfParams: FAST })
    })

    it('round-trips', async () => {
      assert.deepEqual(await decodeKeystore(sealed, 'pw-1'), secrets)
    })

    it('uses a fresh salt and nonce every time', async () => {
      const again = await encodeKeystore(secrets, { passphrase: 'pw-1', kdfParams: FAST })
      assert.notEqual(again, sealed)
    })

    it('wrong passphrase -> WrongPassphraseError', async () => {
      await assert.rejects(decodeKeystore(sealed, 'pw-2'), expectCode('WRONG_PASSPHRASE'))
    })

    it('no passphrase -> PassphraseRequiredError', async () => {
      await assert.rejects(decodeKeystore(sealed), expectCode('PASSPHRASE_REQUIRED'))
    })

    it('empty passphrase -> InvalidArgumentError', async () => {
      await assert.rejects(decodeKeystore(sealed, ''), expectCode('INVALID_ARGUMENT'))
      await assert.rejects(encodeKeystore(secrets, { passphrase: '' }), expectCode('INVALID_ARGUMENT'))
    })

    it('tampered kdf parameters or salt fail authentication', async () => {
      const otherN = edit(sealed, (d) => { (d.kdf as Record<string, unknown>).N = 2 ** 13 })
      await assert.rejects(decodeKeystore(otherN, 'pw-1'), expectCode('WRONG_PASSPHRASE'))
      const otherSalt = edit(sealed, (d) => { (d.kdf as Record<string, unknown>).salt = base64urlEncode(new Uint8Array(16)) })
      await assert.rejects(decodeKeystore(otherSalt, 'pw-1'), expectCode('WRONG_PASSPHRASE'))
    })

    it('malformed sealed fields -> KeystoreCorruptError naming the field', async () => {
      const cases: Array<[string, (d: Doc) => void]> = [
        ['kdf', (d) => { delete d.kdf }],
        ['kdf.name', (d) => { (d.kdf as Record<string, unknown>).name = 'argon2id' }],
        ['kdf.N', (d) => { (d.kdf as Record<string, unknown>).N = '4096' }],
        ['kdf', (d) => { (d.kdf as Record<string, unknown>).N = 2 ** 30 }],
        ['kdf.salt', (d) => { (d.kdf as Record<string, unknown>).salt = 'not base64!' }],
        ['kdf.salt', (d) => { (d.kdf as Record<string, unknown>).salt = 'AAAA' }],
        ['cipher', (d) => { d.cipher = 'aes-256-gcm' }],
        ['box', (d) => { d.box = 42 }],
        ['box', (d) => { d.box = 'AAAA' }],
        ['sealed', (d) => { d.sealed = 'yes' }]
      ]
      for (const [field, change] of cases) {
        await assert.rejects(decodeKeystore(edit(sealed, change), 'pw-1'), expectCode('KEYSTORE_CORRUPT', new RegExp(`'${field.replace('.', '\\.')}'`)), field)
      }
    })

    it('rejects out-of-range kdf params when encoding', async () => {
      await assert.rejects(encodeKeystore(secrets, { passphrase: 'pw', kdfParams: { ...FAST, N: 1000 } }), expectCode('INVALID_ARGUMENT'))
      await assert.rejects(encodeKeystore(secrets, { passphrase: 'pw', kdfParams: { ...FAST, dkLen: 64 } }), expectCode('INVALID_ARGUMENT'))
    })
  })

  describe('corruption (unsealed)', () => {
    let text = ''
    before(async () => { text = await encodeKeystore(secrets) })

    it('invalid JSON or wrong document shape -> KeystoreCorruptError', async () => {
      for (const bad of ['', '{', 'null', '[]', '"x"', text.slice(0, -10)]) {
        await assert.rejects(decodeKeystore(bad), expectCode('KEYSTORE_CORRUPT'), JSON.stringify(bad))
      }
      await assert.rejects(decodeKeystore(edit(text, (d) => { d.format = 'other' })), expectCode('KEYSTORE_CORRUPT', /'format'/))
      await assert.rejects(decodeKeystore(edit(text, (d) => { d.version = 2 })), expectCode('KEYSTORE_CORRUPT', /'version'/))
    })

    it('missing or malformed secret fields -> KeystoreCorruptError naming the field', async () => {
      const cases: Array<[RegExp, (d: Doc) => void]> = [
        [/'secrets'/, (d) => { delete (d as Record<string, unknown>).secrets }],
        [/'secrets\.device'/, (d) => { d.secrets.device = 'not-an-id' }],
        [/'secrets\.name'/, (d) => { d.secrets.name = 7 }],
        [/'secrets\.signing'/, (d) => { d.secrets.signing = 'x' as unknown as Record<string, string> }],
        [/'secrets\.signing\.secretKey'/, (d) => { d.secrets.signing.secretKey = 'AAAA' }],
        [/'secrets\.box\.publicKey'/, (d) => { d.secrets.box.publicKey = 'A+A/' }],
        [/'secrets\.version'/, (d) => { d.secrets.version = 2 }]
      ]
      for (const [re, change] of cases) {
        await assert.rejects(decodeKeystore(edit(text, change)), expectCode('KEYSTORE_CORRUPT', re), re.source)
      }
    })

    it('mismatched keys or device id -> KeystoreCorruptError', async () => {
      const other = newSecrets()
      const swapSigningPub = edit(text, (d) => { d.secrets.signing.publicKey = base64urlEncode(other.signing.publicKey) })
      await assert.rejects(decodeKeystore(swapSigningPub), expectCode('KEYSTORE_CORRUPT', /signing\.publicKey/))
      const swapBoxSecret = edit(text, (d) => { d.secrets.box.secretKey = base64urlEncode(other.box.secretKey) })
      await assert.rejects(decodeKeystore(swapBoxSecret), expectCode('KEYSTORE_CORRUPT', /box\.publicKey/))
      const swapDevice = edit(text, (d) => { d.secrets.device = other.device })
      await assert.rejects(decodeKeystore(swapDevice), expectCode('KEYSTORE_CORRUPT', /device id/))
      // Asked not to check the pairs (a read with no daemon, whose state key then fails to open), it gives the keys as stored.
      const unchecked = await decodeKeystore(swapBoxSecret, undefined, { checkPairs: false })
      assert.deepEqual(unchecked.box.secretKey, other.box.secretKey)
      await assert.rejects(decodeKeystore(swapBoxSecret, undefined, { checkPairs: true }), expectCode('KEYSTORE_CORRUPT', /box\.publicKey/))
    })

    it('encodeKeystore refuses inconsistent secrets', async () => {
      const other = newSecrets()
      await assert.rejects(encodeKeystore({ ...secrets, device: other.device }), expectCode('INVALID_ARGUMENT'))
      await assert.rejects(encodeKeystore({ ...secrets, box: { ...secrets.box, publicKey: other.box.publicKey } }), expectCode('INVALID_ARGUMENT'))
    })
  })
})

describe('identity/keystore-fs', () => {
  let root = ''
  before(async () => { root = await mkdtemp(join(tmpdir(), 'orbit-account-keystore-')) })
  after(async () => { await rm(root, { recursive: true, force: true }) })

  const modeOf = async (p: string): Promise<number> => (await stat(p)).mode & 0o777

  it('writes atomically with mode 0600 inside a new 0700 directory', async () => {
    const dir = join(root, 'new', 'nested')
    const file = join(dir, 'keystore.json')
    await writeKeystoreFile(file, 'first\n')
    assert.equal(await modeOf(file), 0o600)
    assert.equal(await modeOf(dir), 0o700)
    assert.equal(await modeOf(join(root, 'new')), 0o700)
    assert.equal(await readKeystoreFile(file), 'first\n')

    await writeKeystoreFile(file, 'second\n')
    assert.equal(await readKeystoreFile(file), 'second\n')
    assert.equal(await modeOf(file), 0o600)
    assert.deepEqual(await readdir(dir), ['keystore.json'], 'no temp files left behind')
  })

  it('round-trips a real keystore through the file', async () => {
    const secrets = newSecrets('phone')
    const file = join(root, 'rt', 'keystore.json')
    await writeKeystoreFile(file, await encodeKeystore(secrets, { passphrase: 'pw', kdfParams: FAST }))
    assert.deepEqual(await decodeKeystore(await readKeystoreFile(file), 'pw'), secrets)
  })

  it('refuses a 0644 keystore with KeystorePermissionsError naming the fix', async () => {
    const file = join(root, 'loose.json')
    await writeFile(file, '{}')
    await chmod(file, 0o644)
    await assert.rejects(readKeystoreFile(file), (e: unknown) => {
      expectCode('KEYSTORE_PERMISSIONS')(e)
      assert.equal((e as Error).name, 'KeystorePermissionsError')
      assert.ok((e as Error).message.includes(`chmod 600 ${file}`), (e as Error).message)
      return true
    })
    await chmod(file, 0o640)
    await assert.rejects(readKeystoreFile(file), expectCode('KEYSTORE_PERMISSIONS'))
    await chmod(file, 0o600)
    assert.equal(await readKeystoreFile(file), '{}')
  })

  it('a missing keystore -> KeystoreMissingError', async () => {
    await assert.rejects(readKeystoreFile(join(root, 'nope', 'keystore.json')), (e: unknown) => {
      expectCode('KEYSTORE_MISSING')(e)
      assert.equal((e as Error).name, 'KeystoreMissingError')
      return true
    })
  })

  describe('readPassphrase', () => {
    it('reads the first line of the passphrase file', async () => {
      const file = join(root, 'pass-lf.txt')
      await writeFile(file, 'hunter2 with spaces\nsecond line\n')
      assert.equal(await readPassphrase({ passphraseFile: file, env: {} }), 'hunter2 with spaces')
      const crlf = join(root, 'pass-crlf.txt')
      await writeFile(crlf, 'hunter3\r\n')
      assert.equal(await readPassphrase({ passphraseFile: crlf, env: {} }), 'hunter3')
      const noNewline = join(root, 'pass-bare.txt')
      await writeFile(noNewline, 'hunter4')
      assert.equal(await readPassphrase({ passphraseFile: noNewline, env: {} }), 'hunter4')
    })

    it('prefers the file over the environment', async () => {
      const file = join(root, 'pass-pref.txt')
      await writeFile(file, 'from-file\n')
      assert.equal(await readPassphrase({ passphraseFile: file, env: { ORBIT_ACCOUNT_PASSPHRASE: 'from-env' } }), 'from-file')
    })

    it('rejects an empty or missing passphrase file with InvalidArgumentError', async () => {
      const empty = join(root, 'pass-empty.txt')
      await writeFile(empty, '')
      await assert.rejects(readPassphrase({ passphraseFile: empty, env: {} }), expectCode('INVALID_ARGUMENT'))
      const blank = join(root, 'pass-blank.txt')
      await writeFile(blank, '\nsecond\n')
      await assert.rejects(readPassphrase({ passphraseFile: blank, env: {} }), expectCode('INVALID_ARGUMENT'))
      await assert.rejects(readPassphrase({ passphraseFile: join(root, 'absent.txt'), env: {} }), expectCode('INVALID_ARGUMENT'))
    })

    it('falls back to ORBIT_ACCOUNT_PASSPHRASE, else undefined', async () => {
      assert.equal(await readPassphrase({ env: { ORBIT_ACCOUNT_PASSPHRASE: 'from-env' } }), 'from-env')
      assert.equal(await readPassphrase({ env: {} }), undefined)
      await assert.rejects(readPassphrase({ env: { ORBIT_ACCOUNT_PASSPHRASE: '' } }), expectCode('INVALID_ARGUMENT'))
    })
  })
})
