/**
 * Load: three devices write at the same time (puts, overwrites, deletes, some keys
 * shared), then converge to the same values with nothing lost. `npm run soak` runs the
 * same for longer, with restarts, outside CI.
 */
import assert from 'node:assert/strict'
import { Devices } from '../join/helpers.ts'
import { waitFor } from '../helpers/device.ts'

const PER_DEVICE = 300

describe('reliability: three devices writing at once', function () {
  this.timeout(300_000)
  let d: Devices
  beforeEach(() => { d = new Devices() })
  afterEach(async () => { await d.cleanup() })

  it(`${3 * PER_DEVICE} concurrent operations converge, and every device's own last write survives`, async () => {
    const laptop = await d.create('laptop')
    const phone = await d.join('phone', 'laptop')
    const tablet = await d.join('tablet', 'laptop')
    const devices = [laptop, phone, tablet]
    const expectedOwn = new Map<string, unknown>()
    await Promise.all(devices.map(async (device, j) => {
      for (let i = 0; i < PER_DEVICE; i++) {
        const own = `own/${j}/${i % 200}`
        if (i % 10 === 9) {
          await device.del(own)
          expectedOwn.set(own, undefined)
        } else {
          await device.put(own, { j, i })
          expectedOwn.set(own, { j, i })
        }
        if (i % 25 === 0) await device.put(`shared/${i % 50}`, { j, i })
      }
    }))
    await waitFor(() => {
      const [a, b, c] = devices.map((x) => JSON.stringify(x.all()))
      return a === b && b === c
    }, 240_000, 'the three devices to converge')
    const all = laptop.all()
    for (const [key, value] of expectedOwn) assert.deepEqual(all[key], value, key)
    for (let i = 0; i < 50; i += 25) assert.ok(all[`shared/${i}`] !== undefined)
  })
})
