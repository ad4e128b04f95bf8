/**
 * Revoking a lost phone, through the library on real nodes: the remaining devices move
 * to a new epoch with every live value, the phone can read nothing written afterwards,
 * and nothing it writes afterwards shows up anywhere.
 */
import assert from 'node:assert/strict'
import { Devices } from '../join/helpers.ts'
import { allBytes, waitFor } from '../helpers/device.ts'
import type { NodeAccount } from '../../src/node/account-dir.ts'

describe('revocation: the laptop revokes the lost phone', function () {
  this.timeout(180_000)
  let d: Devices
  let laptop: NodeAccount
  let phone: NodeAccount
  let tablet: NodeAccount

  beforeEach(async () => {
    d = new Devices()
    laptop = await d.create('laptop')
    await laptop.put('old/1', 'written before the loss')
    phone = await d.join('phone', 'laptop')
    tablet = await d.join('tablet', 'laptop')
    await phone.put('from/phone', 'before the loss')
    await waitFor(() => laptop.get('from/phone') !== undefined && tablet.get('from/phone') !== undefined && laptop.devices().length === 3, 30_000, 'everyone in sync')
  })
  afterEach(async () => { await d.cleanup() })

  it('the remaining devices move to a new epoch with every live value; the phone is revoked', async () => {
    const result = await laptop.revoke('phone')
    assert.deepEqual(result, { revoked: phone.device, epoch: 1 })
    assert.equal(laptop.info().epoch, 1)
    assert.deepEqual(laptop.all(), { 'from/phone': 'before the loss', 'old/1': 'written before the loss' })
    await waitFor(() => tablet.info().epoch === 1, 20_000, 'the tablet to move to epoch 1')
    assert.deepEqual(tablet.all(), laptop.all())
    assert.equal(tablet.devices().find((x) => x.name === 'phone')?.status, 'revoked')
    await laptop.put('after', 'secret after the loss')
    await waitFor(() => tablet.get('after') === 'secret after the loss', 20_000, 'the tablet to read a write of the new epoch')
    await tablet.put('from/tablet', 'also after')
    await waitFor(() => laptop.get('from/tablet') === 'also after', 20_000, 'writes to flow in the new epoch')
  })

  it('the phone can read nothing written after its revocation, and no plaintext of it reaches its disk', async () => {
    await laptop.revoke('phone')
    await laptop.put('after', 'MARKER-written-after-revocation')
    await waitFor(() => tablet.get('after') !== undefined, 20_000, 'the tablet to get the new value')
    // Give the phone every chance to sync.
    await d.connect('phone', 'laptop', 'registry')
    await new Promise((resolve) => setTimeout(resolve, 1500))
    assert.equal(phone.get('after'), undefined)
    assert.equal(phone.info().epoch, 0)
    const phoneDir = await d.dir('phone')
    await d.stop('phone')
    assert.equal((await allBytes(phoneDir)).includes('MARKER-written-after-revocation'), false)
  })

  it('nothing the phone writes after its revocation shows up on the other devices', async () => {
    await laptop.revoke('phone')
    await waitFor(() => tablet.info().epoch === 1, 20_000, 'the tablet to move')
    // The thief keeps writing with the phone's keys, to the only epoch it knows.
    await phone.put('from/phone', 'THIEF overwrite')
    await phone.put('thief/new', 'THIEF new key')
    await d.connect('phone', 'laptop', 'registry')
    await laptop.put('sync/marker', 1)
    await waitFor(() => tablet.get('sync/marker') === 1, 20_000, 'a later write to reach the tablet')
    await new Promise((resolve) => setTimeout(resolve, 1500))
    for (const device of [laptop, tablet]) {
      assert.equal(device.get('from/phone'), 'before the loss')
      assert.equal(device.get('thief/new'), undefined)
    }
  })

  it('a member cannot revoke others; unknown or already revoked devices are clear errors', async () => {
    await assert.rejects(tablet.revoke('laptop'), { code: 'NOT_AUTHORIZED' })
    await assert.rejects(laptop.revoke('nobody'), { code: 'UNKNOWN_DEVICE' })
    await laptop.revoke('phone')
    await assert.rejects(laptop.revoke('phone'), { code: 'ALREADY_REVOKED' })
    assert.equal(laptop.devices().filter((x) => x.status === 'revoked').length, 1)
  })

  it('a write the tablet made to the old epoch without seeing the rotation is carried, and never overwrites a newer one', async () => {
    await d.stop('tablet')
    await laptop.revoke('phone')
    await laptop.put('both', 'laptop after the rotation')
    // The tablet, offline, writes to epoch 0.
    tablet = await d.start('tablet')
    assert.equal(tablet.info().epoch, 0)
    await tablet.put('tablet/offline', 'made while apart')
    await tablet.put('both', 'tablet, older epoch')
    await d.connect('tablet', 'laptop', 'registry')
    await waitFor(() => tablet.info().epoch === 1, 20_000, 'the tablet to move to epoch 1')
    await waitFor(() => laptop.get('tablet/offline') === 'made while apart', 20_000, 'the carried write on the laptop')
    assert.equal(tablet.get('tablet/offline'), 'made while apart')
    assert.equal(laptop.get('both'), 'laptop after the rotation')
    assert.equal(tablet.get('both'), 'laptop after the rotation')
  })
})
