/**
 * A rotation with 10,000 live keys: it completes, and a remaining device that was away
 * reads every value back from the new epoch's snapshot (a few large entries), without
 * replicating the old epoch's 10,000 entries.
 */
import assert from 'node:assert/strict'
import { Devices } from '../join/helpers.ts'
import { waitFor } from '../helpers/device.ts'

const KEYS = 10_000

describe('rotation with 10,000 live keys', function () {
  this.timeout(300_000)
  let d: Devices
  beforeEach(() => { d = new Devices() })
  afterEach(async () => { await d.cleanup() })

  it('revoking the tablet re-encrypts every live value; the phone, away meanwhile, reads them all', async () => {
    const laptop = await d.create('laptop')
    await d.join('phone', 'laptop')
    await d.join('tablet', 'laptop')
    await d.stop('phone')
    await d.stop('tablet')
    for (let i = 0; i < KEYS; i++) await laptop.put(`item/${String(i).padStart(5, '0')}`, { i, note: `value ${i}` })
    const parts: number[] = []
    const result = await laptop.revoke('tablet', { onProgress: (p) => { if (p.phase === 'snapshot') parts.push(p.done) } })
    assert.equal(result.epoch, 1)
    assert.ok(parts.length >= 2 && parts.length <= 10, `a snapshot in a few large entries, got ${parts.length}`)
    assert.equal(Object.keys(laptop.all()).length, KEYS)

    const phone = await d.start('phone')
    await d.connect('phone', 'laptop', 'registry')
    await waitFor(() => phone.info().epoch === 1, 120_000, 'the phone to move to epoch 1')
    const all = phone.all()
    assert.equal(Object.keys(all).length, KEYS)
    for (let i = 0; i < KEYS; i += 997) assert.deepEqual(all[`item/${String(i).padStart(5, '0')}`], { i, note: `value ${i}` })
    assert.deepEqual(all, laptop.all())
  })
})
