/**
 * An account on one device, through the library, on real Helia/OrbitDB nodes and
 * real files: put/get/del/list/watch, restart, and the index against a full replay.
 */
import assert from 'node:assert/strict'
import { createAccount, openAccount, type NodeAccount } from '../../src/node/account-dir.ts'
import { KvIndex } from '../../src/store/kv-index.ts'
import { encryptedCodec } from '../../src/store/codec.ts'
import { createOrbitDB, Database } from '../../src/orbit/orbitdb.ts'
import { startNode } from '../../src/network/node.ts'
import { openBox, lockboxAad } from '../../src/crypto/lockbox.ts'
import { base64urlDecode } from '../../src/crypto/bytes.ts'
import { decodeKeystore } from '../../identity/keystore.ts'
import type { Change } from '../../src/store/kv-index.ts'
import { removeDir, tempDir } from '../helpers/device.ts'
import { readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

describe('account on one device (laptop)', function () {
  this.timeout(60_000)
  let dir: string
  let laptop: NodeAccount | undefined

  beforeEach(async () => { dir = await tempDir('acct') })
  afterEach(async () => {
    await laptop?.close()
    laptop = undefined
    await removeDir(dir)
  })

  it('creates an encrypted account whose founder is an active admin', async () => {
    laptop = await createAccount({ dir, name: 'laptop' })
    const info = laptop.info()
    assert.match(info.account, /^\/orbitdb\/zdpu/)
    assert.equal(info.mode, 'encrypted')
    assert.equal(info.epoch, 0)
    assert.deepEqual(laptop.devices(), [{ device: info.device, name: 'laptop', role: 'admin', status: 'active', addedBy: null }])
    assert.equal((await stat(join(dir, 'keys.json'))).mode & 0o777, 0o600)
    assert.equal((await stat(dir)).mode & 0o777, 0o700)
  })

  it('puts, gets, deletes, lists and watches values', async () => {
    laptop = await createAccount({ dir, name: 'laptop' })
    const changes: Change[] = []
    const unwatch = laptop.watch((c) => changes.push(c))
    await laptop.put('theme', 'dark')
    await laptop.put('prefs/font', { size: 14 })
    await laptop.put('prefs/lang', 'en')
    await laptop.put('theme', 'light')
    assert.equal(await laptop.del('prefs/lang'), true)
    assert.equal(await laptop.del('never-set'), false)
    assert.equal(laptop.get('theme'), 'light')
    assert.equal(laptop.get('prefs/lang'), undefined)
    assert.deepEqual(laptop.all(), { 'prefs/font': { size: 14 }, theme: 'light' })
    assert.deepEqual(laptop.all({ prefix: 'prefs/' }), { 'prefs/font': { size: 14 } })
    unwatch()
    await laptop.put('after-unwatch', 1)
    assert.deepEqual(changes.map((c) => [c.op, c.key, c.value]), [
      ['put', 'theme', 'dark'], ['put', 'prefs/font', { size: 14 }], ['put', 'prefs/lang', 'en'],
      ['put', 'theme', 'light'], ['del', 'prefs/lang', null], ['del', 'never-set', null]
    ])
  })

  it('refuses bad keys and values with typed errors, and keeps what it had', async () => {
    laptop = await createAccount({ dir, name: 'laptop' })
    await laptop.put('k', 1)
    await assert.rejects(laptop.put('', 1), { code: 'INVALID_ARGUMENT' })
    await assert.rejects(laptop.put('bad\nkey', 1), { code: 'INVALID_ARGUMENT' })
    await assert.rejects(laptop.put('k'.repeat(2000), 1), { code: 'VALUE_TOO_LARGE' })
    await assert.rejects(laptop.put('big', 'x'.repeat(300 * 1024)), { code: 'VALUE_TOO_LARGE' })
    assert.deepEqual(laptop.all(), { k: 1 })
  })

  it('keeps every value across a restart', async () => {
    laptop = await createAccount({ dir, name: 'laptop' })
    const address = laptop.address
    for (let i = 0; i < 50; i++) await laptop.put(`key-${i}`, { i })
    await laptop.del('key-7')
    await laptop.close()
    laptop = await openAccount({ dir })
    assert.equal(laptop.address, address)
    assert.equal(Object.keys(laptop.all()).length, 49)
    assert.deepEqual(laptop.get('key-49'), { i: 49 })
    assert.equal(laptop.get('key-7'), undefined)
  })

  it('a second open of the same store is refused, and the first keeps working', async () => {
    laptop = await createAccount({ dir, name: 'laptop' })
    await laptop.put('k', 'v')
    await assert.rejects(openAccount({ dir }), { code: 'STORE_LOCKED' })
    await laptop.put('k2', 'v2')
    assert.deepEqual(laptop.all(), { k: 'v', k2: 'v2' })
  })

  it('opening a directory with no account says how to make one', async () => {
    await assert.rejects(openAccount({ dir }), (e: Error & { code?: string }) => e.code === 'NO_ACCOUNT' && /orbit-account create/.test(e.message))
  })

  it('creating where an account exists is refused and changes nothing', async () => {
    laptop = await createAccount({ dir, name: 'laptop' })
    await laptop.put('k', 1)
    const before = await readFile(join(dir, 'keys.json'), 'utf8')
    await laptop.close()
    laptop = undefined
    await assert.rejects(createAccount({ dir, name: 'again' }), { code: 'ACCOUNT_EXISTS' })
    assert.equal(await readFile(join(dir, 'keys.json'), 'utf8'), before)
    laptop = await openAccount({ dir })
    assert.deepEqual(laptop.all(), { k: 1 })
  })

  it('a sealed keystore needs its passphrase', async () => {
    laptop = await createAccount({ dir, name: 'laptop', passphrase: 'correct horse' })
    await laptop.put('k', 1)
    await laptop.close()
    laptop = undefined
    await assert.rejects(openAccount({ dir }), { code: 'PASSPHRASE_REQUIRED' })
    await assert.rejects(openAccount({ dir, passphrase: 'wrong horse' }), { code: 'WRONG_PASSPHRASE' })
    laptop = await openAccount({ dir, passphrase: 'correct horse' })
    assert.equal(laptop.get('k'), 1)
  })

  it('public mode stores values in clear', async () => {
    laptop = await createAccount({ dir, name: 'laptop', mode: 'public' })
    await laptop.put('profile', { name: 'Ada' })
    assert.equal(laptop.info().mode, 'public')
    assert.equal(laptop.swarm(), undefined)
    assert.equal(laptop.node.swarm, undefined)
  })

  it('private mode keeps its swarm key owner-only, reopens with it, and says what is missing without it', async () => {
    laptop = await createAccount({ dir, name: 'laptop', mode: 'private' })
    await laptop.put('k', 1)
    const swarm = laptop.swarm()
    assert.ok(swarm !== undefined && swarm.epoch === 0)
    assert.deepEqual(laptop.node.swarm?.key(), swarm.key, 'the node uses the account\'s swarm key')
    await laptop.close()
    const file = join(dir, 'swarm.json')
    assert.equal((await stat(file)).mode & 0o777, 0o600)
    laptop = await openAccount({ dir })
    assert.deepEqual(laptop.node.swarm?.key(), swarm.key)
    assert.equal(laptop.get('k'), 1)
    await laptop.close()
    laptop = undefined
    await rm(file)
    await assert.rejects(openAccount({ dir }), (err: Error & { code?: string }) => err.code === 'NO_ACCOUNT' && /swarm-key/.test(err.message))
    await writeFile(file, '{"epoch":0,"key":"nothex"}')
    await assert.rejects(openAccount({ dir }), { code: 'INVALID_ARGUMENT' })
  })

  it('the index agrees with a full replay of the log', async () => {
    laptop = await createAccount({ dir, name: 'laptop' })
    for (let i = 0; i < 200; i++) {
      const k = `k${i % 37}`
      if (i % 5 === 4) await laptop.del(k)
      else await laptop.put(k, i)
    }
    const expected = laptop.all()
    const state = laptop.state()
    const address = laptop.address
    const epoch = state.epoch
    assert.ok(epoch !== null)
    await laptop.close()
    laptop = undefined
    // Replay the data log from disk: a fresh node, a plain OrbitDB, a fresh index.
    const node = await startNode({ directory: join(dir, 'node') })
    const orbitdb = await createOrbitDB({ ipfs: node.helia, directory: join(dir, 'orbitdb') })
    try {
      const raw = await orbitdb.open(epoch.dataLog, { Database, sync: false })
      const entries = await raw.log.values()
      assert.equal(entries.length, 200)
      // The replay needs the epoch key: only the device's own lockbox opens it.
      const secrets = await decodeKeystore(await readFile(join(dir, 'keys.json'), 'utf8'))
      const box = epoch.lockboxes[secrets.device] as string
      const key = openBox(secrets.box.secretKey, base64urlDecode(box), lockboxAad(address, 0, secrets.device))
      const codec = encryptedCodec(key, address, 0)
      const index = new KvIndex()
      for (const e of entries) {
        const op = codec.decode(e.payload)
        assert.ok(op.op === 'put' || op.op === 'del')
        index.apply(op.key, op.op === 'put' ? op.value : undefined, { epoch: 0, time: e.clock.time, id: e.clock.id, hash: e.hash })
      }
      assert.deepEqual(Object.fromEntries(index.entries()), expected)
      await raw.close()
    } finally {
      await orbitdb.stop()
      await node.stop()
    }
  })
})
