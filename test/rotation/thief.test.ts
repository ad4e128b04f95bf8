/**
 * The thief: someone holding the lost phone's real keys (read from its keystore) on a
 * node of their own, after the laptop revoked the phone. Every attack must fail on
 * every remaining peer (laptop and tablet).
 */
import assert from 'node:assert/strict'
import { Devices } from '../join/helpers.ts'
import { makeSecrets, removeDir, waitFor, type TestDevice } from '../helpers/device.ts'
import { addOp, renameOp } from '../../acl/ops.ts'
import { ManagedDatabase } from '../../src/orbit/database.ts'
import { encryptedCodec } from '../../src/store/codec.ts'
import { generateKey } from '../../src/crypto/aead.ts'
import { base64urlDecode, base64urlEncode } from '../../src/crypto/bytes.ts'
import { lockboxAad, openBox } from '../../src/crypto/lockbox.ts'
import type { NodeAccount } from '../../src/node/account-dir.ts'
import { announce, stealDevice } from './thief-helpers.ts'

describe('revocation under attack: the thief with the stolen phone\'s keys', function () {
  this.timeout(180_000)
  let d: Devices
  let laptop: NodeAccount
  let tablet: NodeAccount
  let thief: TestDevice
  let invite: string
  let registryHeadsBefore: string[]

  beforeEach(async () => {
    d = new Devices()
    laptop = await d.create('laptop')
    await laptop.put('bank/pin', '1234')
    const open = await laptop.invite({ ttlMs: 120_000, role: 'admin' })
    invite = open.text
    const { joinAccount } = await import('../../src/node/account-dir.ts')
    const phone = await joinAccount({ dir: await d.dir('phone'), invite, name: 'phone', listen: [] })
    await open.admitted
    await phone.close()
    tablet = await d.join('tablet', 'laptop')
    await waitFor(() => tablet.devices().length === 3, 20_000, 'the tablet to know the phone')
    registryHeadsBefore = (await laptop.heads()).registryHeads
    await laptop.revoke('phone')
    await waitFor(() => tablet.info().epoch === 1, 30_000, 'the tablet to move to epoch 1')
    // The thief reads the phone's keystore and runs a node with its keys.
    thief = await stealDevice(d, 'phone', [laptop, tablet])
  })
  afterEach(async () => {
    await thief.stop()
    await removeDir(thief.dir)
    await d.cleanup()
  })

  // Its back-dated revocations of others count (denial of service only): backdating.test.ts.
  it('a back-dated admission of its own, and a back-dated rename, are void on every peer', async () => {
    const accomplice = makeSecrets('accomplice')
    const add = addOp({ device: { device: accomplice.device, name: 'accomplice', signingKey: base64urlEncode(accomplice.signing.publicKey), boxKey: base64urlEncode(accomplice.box.publicKey) }, role: 'admin', epoch: 0, lockbox: 'QUFBQQ' })
    const addEntry = await announce(thief, laptop.address, add, registryHeadsBefore)
    const revokeEntry = await announce(thief, laptop.address, renameOp({ device: thief.secrets.device, name: 'still mine' }), registryHeadsBefore)
    for (const device of [laptop, tablet]) {
      await waitFor(() => device.state().ignored.some((i) => i.hash === revokeEntry.hash) && device.state().ignored.some((i) => i.hash === addEntry.hash), 20_000, `${device.info().name} to receive and void the thief's ops`)
      const state = device.state()
      assert.equal(state.devices[laptop.device]?.status, 'active')
      assert.equal(state.devices[thief.secrets.device]?.status, 'revoked')
      assert.equal(state.devices[thief.secrets.device]?.name, 'phone')
      assert.equal(state.devices[accomplice.device], undefined)
      assert.match(state.ignored.find((i) => i.hash === revokeEntry.hash)?.reason ?? '', /void|revo/, JSON.stringify(state.ignored))
    }
  })

  it('writes to the old and to the new data log are refused or ignored on every peer', async () => {
    const epochs = laptop.state().epochs
    const [old, current] = [epochs[0], epochs[1]]
    assert.ok(old !== undefined && current !== undefined)
    // New log: the phone holds no lockbox of epoch 1, so its entries are refused by the log itself.
    // The thief subscribes to the new log's topic (it knows the address from the registry).
    await thief.orbitdb.open(current.dataLog, { Database: ManagedDatabase })
    const forged = encryptedCodec(generateKey(), laptop.address, 1).encode({ op: 'put', key: 'bank/pin', value: '0000' })
    await announce(thief, current.dataLog, forged, (await laptop.heads()).dataHeads)
    for (const device of [laptop, tablet]) {
      await waitFor(() => device.rejected().data >= 1, 20_000, `${device.info().name} to refuse the forged entry`)
      assert.equal(device.get('bank/pin'), '1234')
    }
    // Old log: a write validly encrypted with the old epoch's key (the phone had it) is never carried forward.
    const box = old.lockboxes[thief.secrets.device] ?? laptop.state().addedLockboxes['0']?.[thief.secrets.device]
    assert.ok(box !== undefined)
    const oldKey = openBox(thief.secrets.box.secretKey, base64urlDecode(box), lockboxAad(laptop.address, 0, thief.secrets.device))
    await announce(thief, old.dataLog, encryptedCodec(oldKey, laptop.address, 0).encode({ op: 'put', key: 'thief/old', value: 'x' }), [])
    await laptop.put('marker', 1)
    await waitFor(() => tablet.get('marker') === 1, 20_000, 'a later write to reach the tablet')
    assert.equal(laptop.get('thief/old'), undefined)
    assert.equal(tablet.get('thief/old'), undefined)
  })

  it('an invite seen before cannot be replayed', async () => {
    const { joinAccount } = await import('../../src/node/account-dir.ts')
    await assert.rejects(joinAccount({ dir: await d.dir('thief2'), invite, name: 'thief', listen: [] }), { code: 'INVITE_USED' })
    assert.equal(laptop.devices().length, 3)
  })
})
