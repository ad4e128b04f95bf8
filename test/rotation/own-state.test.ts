/**
 * A move on a device's own state (src/account/epochs.ts): a device whose old log holds
 * exactly a rotation's cut moves at once, before any snapshot part, on the index it
 * has; one that holds anything more waits for the parts, and a revoked device's write
 * outside the cut never comes with it. A rotation stopped between its op and its parts
 * is done again by its starter when it opens (src/rotation/rotate.ts).
 */
import assert from 'node:assert/strict'
import { Devices } from '../join/helpers.ts'
import { waitFor } from '../helpers/device.ts'

const VALUES = 300

describe('rotation: a move on the device\'s own state', function () {
  this.timeout(180_000)
  let d: Devices
  afterEach(async () => { await d.cleanup() })

  it('with no snapshot part written, the tablet at the cut moves with every value; the laptop rotates again when it reopens, and a new device reads it all', async () => {
    d = new Devices()
    const laptop = await d.create('laptop')
    await laptop.putMany(Object.fromEntries(Array.from({ length: VALUES }, (_, i) => [`k/${i}`, { i, text: `value ${i}` }])))
    await d.join('phone', 'laptop')
    const tablet = await d.join('tablet', 'laptop')
    await tablet.put('from/tablet', 'before')
    await waitFor(() => laptop.get('from/tablet') === 'before' && tablet.get(`k/${VALUES - 1}`) !== undefined, 30_000, 'laptop and tablet in sync')
    await d.stop('phone')
    const before = laptop.all()

    // The laptop stops right after its rotate op: not one snapshot part is written.
    let parts = 0
    await assert.rejects(laptop.revoke('phone', {
      onProgress: (p) => {
        if (p.phase === 'snapshot') parts++
        if (p.phase === 'registry') throw new Error('stopped after the rotate op')
      }
    }), /stopped after the rotate op/)
    assert.equal(parts, 0)
    await waitFor(() => tablet.info().epoch === 1 && laptop.info().epoch === 1, 30_000, 'both devices to move to epoch 1 on their own state')
    assert.deepEqual(tablet.all(), before)
    assert.deepEqual(laptop.all(), before)
    // Both write in the new epoch, and read each other's writes.
    await tablet.put('after/tablet', 1)
    await laptop.put('after/laptop', 2)
    await waitFor(() => laptop.get('after/tablet') === 1 && tablet.get('after/laptop') === 2, 30_000, 'writes to flow in epoch 1')

    // The laptop opens again: its epoch's snapshot is not whole, so it rotates again (epoch 2, with its parts).
    await d.stop('laptop')
    const reopened = await d.start('laptop')
    await d.connect('tablet', 'laptop', 'registry')
    await waitFor(() => reopened.info().epoch === 2 && tablet.info().epoch === 2, 60_000, 'both devices in epoch 2')
    const expected = { ...before, 'after/tablet': 1, 'after/laptop': 2 }
    assert.deepEqual(reopened.all(), expected)
    assert.deepEqual(tablet.all(), expected)
    // A new device holds nothing of its own: it reads the whole state from the snapshot.
    const desk = await d.join('desk', 'laptop')
    await waitFor(() => desk.info().epoch === 2 && Object.keys(desk.all()).length === Object.keys(expected).length, 60_000, 'the new device to read every value')
    assert.deepEqual(desk.all(), expected)
  })

  it('the thief\'s write that reached the tablet outside the cut does not move with it', async () => {
    d = new Devices()
    const laptop = await d.create('laptop')
    await laptop.putMany(Object.fromEntries(Array.from({ length: VALUES }, (_, i) => [`k/${i}`, i])))
    const phone = await d.join('phone', 'laptop')
    const tablet = await d.join('tablet', 'laptop')
    await waitFor(() => phone.get(`k/${VALUES - 1}`) === VALUES - 1 && tablet.get(`k/${VALUES - 1}`) === VALUES - 1, 30_000, 'everyone in sync')
    const before = laptop.all()
    // The phone is lost; the tablet is away while the laptop revokes it.
    await d.stop('phone')
    await d.stop('tablet')
    await laptop.revoke('phone')
    await d.stop('laptop')
    // The thief, with the phone as it was (it never saw the revocation), writes to the old
    // epoch; the tablet, back first, syncs with it only, and takes the write: it knows of no
    // revocation yet.
    const thief = await d.start('phone')
    await thief.put('k/0', 'THIEF overwrite')
    await thief.put('thief/new', 'THIEF new key')
    const back = await d.start('tablet')
    await d.connect('tablet', 'phone')
    await waitFor(() => back.get('thief/new') === 'THIEF new key', 30_000, 'the thief\'s writes to reach the tablet in epoch 0')
    // The laptop comes back: the tablet learns of the revocation. Its old log holds more
    // than the cut (the thief's writes): it must wait for the snapshot, and carry nothing of the thief.
    const admin = await d.start('laptop')
    await d.connect('tablet', 'laptop', 'registry')
    await d.connect('tablet', 'laptop')
    await waitFor(() => back.info().epoch === 1, 60_000, 'the tablet to move to epoch 1')
    assert.equal(back.get('thief/new'), undefined)
    assert.equal(back.get('k/0'), 0)
    assert.deepEqual(back.all(), before)
    assert.deepEqual(admin.all(), before)
  })
})
