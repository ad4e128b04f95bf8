/**
 * A move on a device's own state (src/account/epochs.ts): a device whose old log holds
 * exactly a rotation's cut moves at once, before any snapshot part, on the index it
 * has; one that holds anything more waits for the parts, and a revoked device's write
 * outside the cut never comes with it. A rotation stopped between its op and its parts
 * is done again by its starter when it opens (src/rotation/rotate.ts).
 */
import assert from 'node:assert/strict'
import { Devices } from '../join/helpers.ts'
import { startDevice, waitFor } from '../helpers/device.ts'
import { createAccountCore } from '../../src/account/open.ts'
import type { KvDatabase } from '../../src/store/kv-database.ts'
import { valueOf, type RawSlot } from '../../src/store/kv-index.ts'

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

  it('a rotation done again after a crash starts from the state at the first one\'s cut, not from what the old log applied since', async () => {
    // What rotate.ts takes when it runs again from the log before the unfinished epoch.
    const laptop = await startDevice('laptop')
    const account = await createAccountCore({ orbitdb: laptop.orbitdb, secrets: laptop.secrets, mode: 'encrypted' })
    try {
      await account.put('a', 1)
      await account.put('b', 'kept')
      await account.del('b')
      await account.put('c', 3)
      const cut = (await account.heads()).dataHeads
      // Past the cut: an overwrite, a new key, a delete (as a revoked device's writes could be).
      await account.put('a', 'PAST THE CUT')
      await account.put('d', 'PAST THE CUT')
      await account.del('c')
      const db = await laptop.orbitdb.open(account.state().epoch?.dataLog as string) as KvDatabase
      const byKey = (records: Iterable<RawSlot>): Record<string, unknown> =>
        Object.fromEntries([...records].map((r) => [r.key, r.value === undefined ? '(deleted)' : valueOf(r.value)]))
      assert.deepEqual(byKey(await db.recordsAt(cut)), { a: 1, b: '(deleted)', c: 3 })
      assert.deepEqual(byKey(db.frozenRecords()), { a: 'PAST THE CUT', b: '(deleted)', c: '(deleted)', d: 'PAST THE CUT' })
      // The current state is untouched by the rebuild.
      assert.deepEqual(account.all(), { a: 'PAST THE CUT', d: 'PAST THE CUT' })
      // An entry of another log (the registry's), though its block is here.
      await assert.rejects(db.recordsAt((await account.heads()).registryHeads), /not in this log/)
    } finally {
      await account.close()
      await laptop.stop()
    }
  })
})
