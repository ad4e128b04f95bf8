/**
 * Joining devices through the library, on real nodes over loopback: history before the
 * join, writes both ways, three devices, offline writes, and admissions that reach a
 * peer late (through another device, or after the data that depends on them).
 */
import assert from 'node:assert/strict'
import { Devices } from './helpers.ts'
import { waitFor } from '../helpers/device.ts'

describe('join: devices of one account (laptop, phone, tablet)', function () {
  this.timeout(120_000)
  let d: Devices
  beforeEach(() => { d = new Devices() })
  afterEach(async () => { await d.cleanup() })

  it('a phone that joins reads what the laptop wrote before, and writes flow both ways', async () => {
    const laptop = await d.create('laptop')
    await laptop.put('notes/1', 'written before the join')
    const phone = await d.join('phone', 'laptop')
    assert.equal(phone.get('notes/1'), 'written before the join')
    assert.deepEqual(phone.devices().map((x) => [x.name, x.role, x.addedBy]), [['laptop', 'admin', null], ['phone', 'member', laptop.device]])
    await waitFor(() => laptop.devices().length === 2, 10_000, 'the laptop to see the phone')
    await phone.put('from/phone', 1)
    await laptop.put('from/laptop', 2)
    await waitFor(() => laptop.get('from/phone') === 1, 15_000, 'the phone\'s write on the laptop')
    await waitFor(() => phone.get('from/laptop') === 2, 15_000, 'the laptop\'s write on the phone')
  })

  it('three devices: an admin phone admits a tablet, and all converge', async () => {
    const laptop = await d.create('laptop')
    const phone = await d.join('phone', 'laptop', 'admin')
    const tablet = await d.join('tablet', 'phone')
    await tablet.put('t', 'tablet')
    await phone.put('p', 'phone')
    await laptop.put('l', 'laptop')
    for (const device of [laptop, phone, tablet]) {
      await waitFor(() => device.devices().length === 3, 15_000, `${device.info().name} to list three devices`)
      await waitFor(() => Object.keys(device.all()).length === 3, 15_000, `${device.info().name} to hold three values`)
      assert.deepEqual(device.all(), { l: 'laptop', p: 'phone', t: 'tablet' })
    }
    assert.equal(tablet.devices().find((x) => x.name === 'tablet')?.addedBy, phone.device)
  })

  it('writes made apart merge when the devices meet again, without a new invite', async () => {
    const laptop = await d.create('laptop')
    await d.join('phone', 'laptop')
    await d.stop('phone')
    await laptop.put('shared', 'laptop wrote first')
    await laptop.put('only/laptop', true)
    await d.stop('laptop')
    const phone = await d.start('phone')
    await phone.put('only/phone', true)
    await phone.put('shared', 'phone wrote while apart')
    const laptop2 = await d.start('laptop')
    await d.connect('phone', 'laptop')
    await waitFor(() => Object.keys(laptop2.all()).length === 3 && Object.keys(phone.all()).length === 3, 15_000, 'both to hold all values')
    // Both keep every key, and agree on the one both wrote (last writer by Lamport clock).
    assert.deepEqual(laptop2.all(), phone.all())
    assert.deepEqual(Object.keys(phone.all()).sort(), ['only/laptop', 'only/phone', 'shared'])
    assert.ok(['laptop wrote first', 'phone wrote while apart'].includes(phone.get('shared') as string))
  })

  it('an admission that reaches the laptop through a later device is accepted (a chain back to the founder)', async () => {
    await d.create('laptop')
    await d.join('phone', 'laptop', 'admin')
    await d.stop('laptop')
    // While the laptop is away: the phone admits an admin tablet, which admits a watch.
    await d.join('tablet', 'phone', 'admin')
    const watch = await d.join('watch', 'tablet')
    await watch.put('from/watch', 'tick')
    await d.stop('phone')
    await d.stop('tablet')
    // The laptop meets only the watch: the watch's entries name admissions the laptop never saw.
    const back = await d.start('laptop')
    assert.equal(back.devices().length, 2, 'before meeting the watch, the laptop knows laptop and phone')
    await d.connect('laptop', 'watch')
    await waitFor(() => back.devices().length === 4, 20_000, 'the laptop to learn all four devices')
    await waitFor(() => back.get('from/watch') === 'tick', 20_000, 'the watch\'s write on the laptop')
    assert.deepEqual(back.devices().map((x) => x.name), ['laptop', 'phone', 'tablet', 'watch'])
  })
})
