/**
 * Private mode: removing a registered replica ends its access like a revocation. The
 * admin's removal calls for a rotation that moves the swarm key; the new key is sealed to
 * the remaining replicas only, so after the grace period the removed replica (its own
 * node, holding the old key) reaches no device, while the other replica follows the new
 * key by itself and still carries the account's writes.
 */
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { equalBytes } from '../../src/crypto/bytes.ts'
import { Devices, LOOPBACK } from '../join/helpers.ts'
import { removeDir, tempDir, waitFor } from '../helpers/device.ts'
import { serveReplica, type ServedReplica } from '../../src/node/replica-dir.ts'
import type { NodeAccount } from '../../src/node/account-dir.ts'

const GRACE_MS = 1500

const swarmKeyOf = (a: NodeAccount): Uint8Array => {
  const key = a.node.swarm?.key()
  assert.ok(key !== undefined, 'a private account runs a swarm guard')
  return key
}

const tcpAddr = (r: ServedReplica): string => r.addrs().find((a) => a.includes('/tcp/') && !a.includes('/ws')) as string

const connectedTo = (r: ServedReplica, peer: string): boolean =>
  r.started.node.libp2p.getConnections().some((c) => c.remotePeer.toString() === peer && c.status === 'open')

describe('private mode: a removed replica is cut off like a revoked device', function () {
  this.timeout(150_000)
  let d: Devices
  const replicas: ServedReplica[] = []
  const dirs: string[] = []

  beforeEach(async () => {
    d = new Devices({ swarmGraceMs: GRACE_MS })
    dirs.push(await tempDir('replica1'), await tempDir('replica2'))
  })
  afterEach(async () => {
    for (const r of replicas.splice(0)) await r.close()
    await d.cleanup()
    for (const dir of dirs.splice(0)) await removeDir(dir)
  })

  it('R1 removed: after the grace it cannot connect to the laptop or the phone; R2 follows the new key and carries a write', async () => {
    const laptop = await d.create('laptop', 'private')
    const phone = await d.join('phone', 'laptop')
    const oldKey = swarmKeyOf(laptop)
    const notes1: string[] = []
    const serve = async (dir: string, onNote?: (n: string) => void): Promise<ServedReplica> => {
      const r = await serveReplica({ dir, address: laptop.address, listen: LOOPBACK, swarmKey: oldKey, swarmGraceMs: GRACE_MS, ...(onNote !== undefined ? { onNote } : {}) })
      replicas.push(r)
      return r
    }
    const r1 = await serve(dirs[0] as string, (n) => notes1.push(n))
    const r2 = await serve(dirs[1] as string)
    const peer1 = await laptop.addReplica(tcpAddr(r1))
    const peer2 = await laptop.addReplica(tcpAddr(r2))
    await Promise.all([r1.ready, r2.ready])
    const served2 = await r2.ready
    const laptopPeer = laptop.node.libp2p.peerId.toString()
    const phonePeer = phone.node.libp2p.peerId.toString()
    await waitFor(() => connectedTo(r1, laptopPeer) && connectedTo(r1, phonePeer), 20_000, 'R1 to be connected to both devices')

    await laptop.removeReplica(peer1)
    const newKey = swarmKeyOf(laptop)
    assert.ok(!equalBytes(newKey, oldKey), 'removing a replica in private mode must move the swarm key')
    const epoch = laptop.state().epoch?.epoch ?? 0
    assert.ok((laptop.state().replicas[peer1]?.swarm?.epoch ?? -1) < epoch, 'no box of the new key for the removed replica')
    await waitFor(() => equalBytes(swarmKeyOf(phone), newKey), 20_000, 'the phone to move to the new swarm key')
    const guard2 = r2.started.node.swarm
    assert.ok(guard2 !== undefined)
    await waitFor(() => equalBytes(guard2.key(), newKey), 20_000, 'R2 to move to the new swarm key sealed to it')
    assert.equal(laptop.state().replicas[peer2]?.swarm?.epoch, served2.swarmEpoch())

    // After the grace, R1's old-key connections are closed and it cannot make new ones.
    await waitFor(() => !connectedTo(r1, laptopPeer) && !connectedTo(r1, phonePeer), 20_000, 'R1\'s connections to the devices to close')
    assert.ok(notes1.some((n) => n.startsWith('this replica was removed')), notes1.join(' | '))
    const r1Node = r1.started.node.libp2p
    for (const device of [laptop, phone]) {
      const target = device.node.libp2p.getMultiaddrs().find((a) => a.toString().includes('/tcp/') && !a.toString().includes('/ws'))
      assert.ok(target !== undefined)
      await assert.rejects(r1Node.dial(multiaddr(target.toString()), { signal: AbortSignal.timeout(5000) }), 'the removed replica must not connect')
    }

    // R2 carries a write from the laptop to the phone, the two never online together.
    await waitFor(() => served2.epoch() === laptop.state().epoch?.epoch, 20_000, 'R2 to follow the new epoch')
    const before = (await served2.counts()).data
    await d.stop('phone')
    await laptop.put('after', 'removal')
    await waitFor(async () => (await served2.counts()).data > before, 20_000, 'R2 to hold the write made after the removal')
    await d.stop('laptop')
    const back = await d.start('phone')
    await waitFor(() => back.get('after') === 'removal', 30_000, 'the phone to read the write through R2')
  })
})
