/**
 * A partition: the laptop on one side, the phone and the tablet on the other. While
 * apart, each side writes, one side admits a device and the other revokes one (with
 * its rotation). When they meet again, every device converges to the same registry and
 * the same values, and no write of a device still in the account is lost.
 */
import assert from 'node:assert/strict'
import { accountView, Devices } from '../join/helpers.ts'
import { waitFor } from '../helpers/device.ts'


describe('reliability: a partition heals', function () {
  this.timeout(240_000)
  let d: Devices
  beforeEach(() => { d = new Devices() })
  afterEach(async () => { await d.cleanup() })

  it('writes, an admission and a revocation made apart converge, and nothing live is lost', async () => {
    await d.create('laptop')
    await d.join('phone', 'laptop', 'admin')
    const tablet0 = await d.join('tablet', 'laptop')
    await tablet0.put('t/1', 'tablet before the split')
    await waitFor(() => d.get('phone').get('t/1') !== undefined && d.get('laptop').get('t/1') !== undefined, 20_000, 'the tablet\'s write everywhere')

    // Split: restart everyone so no connection survives, then connect only within each side.
    for (const n of ['laptop', 'phone', 'tablet']) await d.stop(n)
    const laptop = await d.start('laptop')
    const phone = await d.start('phone')
    await d.start('tablet')
    await d.connect('tablet', 'phone', 'registry')

    // Side A: the laptop writes and admits a watch, which writes.
    await laptop.put('a/1', 'laptop while apart')
    const watch = await d.join('watch', 'laptop')
    await watch.put('w/1', 'watch while apart')
    // Side B: the phone revokes the tablet (and rotates), then writes.
    await phone.revoke('tablet')
    await phone.put('p/1', 'phone while apart')

    // Heal.
    await d.connect('laptop', 'phone', 'registry')
    await d.connect('watch', 'phone', 'registry')
    const live = [laptop, phone, watch]
    await waitFor(() => {
      const views = live.map((a) => JSON.stringify(accountView(a)))
      return views.every((v) => v === views[0]) && Object.keys(laptop.all()).length === 4
    }, 120_000, `convergence: ${JSON.stringify(live.map(accountView))}`)
    assert.deepEqual(laptop.all(), { 'a/1': 'laptop while apart', 'p/1': 'phone while apart', 't/1': 'tablet before the split', 'w/1': 'watch while apart' })
    assert.deepEqual(laptop.devices().map((x) => [x.name, x.status]), [['laptop', 'active'], ['phone', 'active'], ['tablet', 'revoked'], ['watch', 'active']])
    // The current epoch gives a key to every active device and to no revoked one.
    const epoch = laptop.state().epoch
    assert.ok(epoch !== null && laptop.state().needsRotation === false)
    assert.equal(epoch.lockboxes[tablet0.device], undefined)
    // The watch was admitted concurrently with the phone's rotation, so it had no key of
    // epoch 1: an admin started epoch 2, which gives it one.
    assert.equal(epoch.epoch, 2)
    assert.ok(epoch.lockboxes[watch.device] !== undefined)
  })
})
