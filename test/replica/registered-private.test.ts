/**
 * Private mode with a registered replica: after a revocation, the devices seal the new
 * swarm key to the replica in the registry (a box for its X25519 key, never a group
 * key), and the replica moves to it by itself; the revoked phone, which holds only the
 * old key, is cut off from it.
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

describe('private mode: a registered replica follows a revocation by itself', function () {
  this.timeout(120_000)
  let d: Devices
  let replica: ServedReplica | undefined
  let replicaDir: string

  beforeEach(async () => {
    d = new Devices({ swarmGraceMs: GRACE_MS })
    replicaDir = await tempDir('replica')
  })
  afterEach(async () => {
    await replica?.close()
    replica = undefined
    await d.cleanup()
    await removeDir(replicaDir)
  })

  it('the replica moves to the new swarm key sealed to it; the revoked phone cannot connect to it', async () => {
    const laptop = await d.create('laptop', 'private')
    const phone = await d.join('phone', 'laptop')
    const notes: string[] = []
    replica = await serveReplica({ dir: replicaDir, address: laptop.address, listen: LOOPBACK, swarmKey: swarmKeyOf(laptop), swarmGraceMs: GRACE_MS, onNote: (n) => notes.push(n) })
    const addr = replica.addrs().find((a) => a.includes('/tcp/') && !a.includes('/ws')) as string
    const peer = await laptop.addReplica(addr)
    const served = await replica.ready
    const guard = replica.started.node.swarm
    assert.ok(guard !== undefined)
    // The phone dials the registered replica too (it learned it from the registry).
    await waitFor(() => phone.node.libp2p.getConnections().some((c) => c.remotePeer.toString() === peer), 20_000, 'the phone to dial the replica')

    await laptop.revoke('phone')
    const newKey = swarmKeyOf(laptop)
    await waitFor(() => equalBytes(guard.key(), newKey), 20_000, `the replica to move to the new swarm key (notes: ${notes.join(' | ')})`)
    assert.equal(laptop.state().replicas[peer]?.swarm?.epoch, served.swarmEpoch())
    assert.ok(notes.some((n) => n.includes('moved to the new swarm key')), notes.join(' | '))

    // After the grace, the phone's old-key connection is gone and it cannot make a new one.
    await waitFor(() => !phone.node.libp2p.getConnections().some((c) => c.remotePeer.toString() === peer && c.status === 'open'), 20_000, 'the phone\'s connection to the replica to close')
    await assert.rejects(phone.node.libp2p.dial(multiaddr(addr), { signal: AbortSignal.timeout(5000) }), 'the revoked phone must not connect')

    // The laptop reaches the replica on the new key and hands it a write of the new epoch.
    await laptop.put('after', 'revocation')
    await waitFor(() => served.epoch() === 1, 20_000, 'the replica to follow the new epoch')
    await waitFor(async () => (await served.counts()).data >= 1, 20_000, 'the replica to hold the write made after the revocation')
  })
})
