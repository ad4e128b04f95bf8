/**
 * `account.watch` goes on telling changes after the device moves to a new epoch, by
 * either way of moving: on its own state (its old log held exactly the rotation's cut:
 * the usual case for a device online during a rotation) or from the snapshot. A move on
 * own state used to end the watch of the new log along with the listeners it had as a
 * candidate, so a watcher (the web app's view, `orbit-account watch`) went silent after
 * every compaction.
 */
import assert from 'node:assert/strict'
import type { Change } from '../../src/store/kv-index.ts'
import { Devices } from '../join/helpers.ts'
import { waitFor } from '../helpers/device.ts'

describe('watching across a move to a new epoch', function () {
  this.timeout(120_000)
  let d: Devices
  beforeEach(() => { d = new Devices() })
  afterEach(async () => { await d.cleanup() })

  it('a device online during two rotations (moves on its own state) is told of each later write', async () => {
    const laptop = await d.create('laptop')
    await laptop.put('a', 1)
    const phone = await d.join('phone', 'laptop')
    const seen: Change[] = []
    phone.watch((c) => { seen.push(c) })
    for (const r of [1, 2]) {
      await laptop.rotate()
      await laptop.put(`after/${r}`, r)
      await waitFor(() => phone.get(`after/${r}`) === r, 30_000, `the phone to read after/${r}`)
      await waitFor(() => seen.some((c) => c.key === `after/${r}`), 5000, `the phone's watcher to be told of after/${r}`)
      assert.equal(phone.info().epoch, r)
    }
    assert.deepEqual(seen.find((c) => c.key === 'after/2'), { key: 'after/2', value: 2, op: 'put' })
  })

  it('a device that moves from the snapshot (it missed a write before the rotation) is told of later writes', async () => {
    const laptop = await d.create('laptop')
    const phone = await d.join('phone', 'laptop')
    await d.stop('phone')
    // The phone misses this write: its log holds less than the cut, so it waits for the snapshot.
    await laptop.put('missed', true)
    await laptop.rotate()
    const again = await d.start('phone')
    const seen: Change[] = []
    again.watch((c) => { seen.push(c) })
    await d.connect('phone', 'laptop', 'registry')
    await waitFor(() => again.info().epoch === 1 && again.get('missed') === true, 30_000, 'the phone to move to epoch 1')
    await laptop.put('later', 1)
    await waitFor(() => seen.some((c) => c.key === 'later'), 30_000, 'the phone\'s watcher to be told of a write after its move')
    assert.ok(phone !== again)
  })
})
