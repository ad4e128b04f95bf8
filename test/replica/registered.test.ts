/**
 * Replica records in the registry: an admin registers a replica by its address (a
 * handshake gives its peer id and X25519 key), and every device dials the registered
 * replicas, so a device that joined later syncs through the replica with no peer given.
 */
import assert from 'node:assert/strict'
import { Devices, LOOPBACK } from '../join/helpers.ts'
import { removeDir, tempDir, waitFor } from '../helpers/device.ts'
import { serveReplica, type ServedReplica } from '../../src/node/replica-dir.ts'

describe('replica records in the registry', function () {
  this.timeout(120_000)
  let d: Devices
  let replica: ServedReplica | undefined
  let replicaDir: string

  beforeEach(async () => {
    d = new Devices()
    replicaDir = await tempDir('replica')
  })
  afterEach(async () => {
    await replica?.close()
    replica = undefined
    await d.cleanup()
    await removeDir(replicaDir)
  })

  it('a phone that joined after the replica was registered syncs through it alone, with no peer given', async () => {
    const laptop = await d.create('laptop')
    replica = await serveReplica({ dir: replicaDir, address: laptop.address, listen: LOOPBACK })
    const addr = replica.addrs().find((a) => a.includes('/tcp/') && !a.includes('/ws'))
    assert.ok(addr !== undefined)
    const peer = await laptop.addReplica(addr)
    assert.equal(peer, replica.peerId())
    const record = laptop.state().replicas[peer]
    assert.ok(record !== undefined && record.boxKey.length === 43 && record.removedIn === undefined)
    // The laptop dials the registered replica by itself; the replica fetches the account from it.
    const served = await replica.ready

    const phone = await d.join('phone', 'laptop')
    await waitFor(() => phone.state().replicas[peer] !== undefined, 15_000, 'the phone to learn the replica from the registry')
    await d.stop('phone')
    await laptop.put('notes/while-phone-off', 'through the replica')
    await waitFor(async () => (await served.counts()).data >= 1, 20_000, 'the replica to hold the write')
    await d.stop('laptop')

    // The phone remembers only the laptop (off now): the registry names the replica.
    const back = await d.start('phone')
    await waitFor(() => back.get('notes/while-phone-off') === 'through the replica', 30_000, 'the phone to read the write through the replica')
  })

  it('only an admin registers a replica; a removed one is not dialed and never comes back', async () => {
    const laptop = await d.create('laptop')
    replica = await serveReplica({ dir: replicaDir, address: laptop.address, listen: LOOPBACK })
    const addr = replica.addrs().find((a) => a.includes('/tcp/') && !a.includes('/ws')) as string
    const phone = await d.join('phone', 'laptop')
    await assert.rejects(phone.addReplica(addr), { code: 'NOT_AUTHORIZED' })
    const peer = await laptop.addReplica(addr)
    await laptop.removeReplica(peer)
    assert.ok(laptop.state().replicas[peer]?.removedIn !== undefined)
    await assert.rejects(laptop.removeReplica(peer), { code: 'UNKNOWN_DEVICE' })
    // Registered again: the reducer ignores it (removal is final).
    await laptop.registerReplica({ peer, addrs: [addr.replace(/\/p2p\/[^/]+$/, '')], boxKey: laptop.state().replicas[peer]?.boxKey as string })
    assert.ok(laptop.state().replicas[peer]?.removedIn !== undefined)
    assert.ok(laptop.state().ignored.some((i) => /was removed/.test(i.reason)))
  })
})
