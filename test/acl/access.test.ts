/**
 * The log layer: entries from outside the account, or with forged signatures or keys,
 * never get into the registry or a data log, and valid data stays as it was.
 * The thief here has real keys and a real node; only its device was never admitted.
 */
import assert from 'node:assert/strict'
import { createAccountCore } from '../../src/account/open.ts'
import type { Account } from '../../src/account/account.ts'
import { Entry, type BaseDatabase, type OrbitIdentity } from '../../src/orbit/orbitdb.ts'
import { createDeviceIdentities } from '../../identity/identities.ts'
import { generateDeviceKeys } from '../../identity/keys.ts'
import { addOp } from '../../acl/ops.ts'
import { base64urlEncode } from '../../src/crypto/bytes.ts'
import { encryptedCodec } from '../../src/store/codec.ts'
import { generateKey } from '../../src/crypto/aead.ts'
import { makeSecrets, removeDir, startDevice, type TestDevice } from '../helpers/device.ts'

describe('access controllers: outsiders and forgeries are rejected', function () {
  this.timeout(60_000)
  let laptop: TestDevice
  let account: Account
  let registry: BaseDatabase
  let data: BaseDatabase
  let thief: OrbitIdentity

  beforeEach(async () => {
    laptop = await startDevice('laptop')
    account = await createAccountCore({ orbitdb: laptop.orbitdb, secrets: laptop.secrets, mode: 'encrypted' })
    await account.put('bank-pin', '1234')
    // OrbitDB hands back the open instances of the account's logs.
    registry = await laptop.orbitdb.open(account.address)
    const epoch = account.state().epoch
    assert.ok(epoch !== null)
    data = await laptop.orbitdb.open(epoch.dataLog)
    // The thief's identity block is stored on the laptop's node, as if fetched from the network.
    const made = await createDeviceIdentities({ ipfs: laptop.node.helia, signing: generateDeviceKeys().signing })
    assert.ok(made.identity !== undefined)
    thief = made.identity
  })

  afterEach(async () => {
    await account.close()
    await laptop.stop()
    await removeDir(laptop.dir)
  })

  const entryFrom = async (identity: OrbitIdentity, db: BaseDatabase, payload: unknown): Promise<Parameters<BaseDatabase['log']['joinEntry']>[0]> => {
    const heads = await db.log.heads()
    const entry = await Entry.create(identity, db.address, payload, undefined, { id: identity.publicKey, time: 1000 }, heads.map((h) => h.hash))
    const { hash } = await Entry.encode(entry)
    return { ...entry, hash }
  }

  it('a device never admitted cannot append to the data log', async () => {
    const payload = encryptedCodec(generateKey(), account.address, 0).encode({ op: 'put', key: 'bank-pin', value: '0000' })
    const forged = await entryFrom(thief, data, payload)
    await assert.rejects(data.log.joinEntry(forged), /not allowed to write/)
    assert.equal(await data.log.has(forged.hash), false)
    assert.equal(account.get('bank-pin'), '1234')
  })

  it('a device never admitted cannot add itself to the registry', async () => {
    const keys = generateDeviceKeys()
    const thiefSecrets = makeSecrets('thief')
    const op = addOp({ device: { device: thiefSecrets.device, name: 'thief', signingKey: base64urlEncode(keys.signing.publicKey), boxKey: base64urlEncode(keys.box.publicKey) }, role: 'admin', epoch: 0 })
    const forged = await entryFrom(thief, registry, op)
    await assert.rejects(registry.log.joinEntry(forged), /not allowed to write/)
    assert.equal(account.devices().length, 1)
  })

  it("an entry naming the laptop's identity but signed with another key is rejected", async () => {
    const laptopIdentity = laptop.identity
    const real = await entryFrom(thief, data, encryptedCodec(generateKey(), account.address, 0).encode({ op: 'del', key: 'bank-pin' }))
    // Claim to be the laptop, keep the thief's key and signature.
    const claimed = { ...real, identity: laptopIdentity.hash }
    await assert.rejects(data.log.joinEntry(claimed), /not allowed to write/)
    // Claim the laptop's key too: the signature no longer verifies.
    const withKey = { ...real, identity: laptopIdentity.hash, key: laptopIdentity.publicKey }
    await assert.rejects(data.log.joinEntry(withKey), /signature/)
    assert.equal(account.get('bank-pin'), '1234')
  })

  it('garbage from an admitted writer is skipped by the index, never thrown, and valid data stays', async () => {
    // The laptop's own node appends payloads that are not valid operations.
    for (const garbage of [new Uint8Array([1, 2, 3]), { op: 'put' }, 'text', new Uint8Array(200)]) {
      await data.addOperation(garbage)
    }
    await account.put('after', true)
    assert.equal(account.get('bank-pin'), '1234')
    assert.equal(account.get('after'), true)
    const kv = data as BaseDatabase & { stats: () => { applied: number, skipped: number } }
    assert.deepEqual(kv.stats(), { applied: 2, skipped: 4 })
  })
})
