/**
 * Private mode, a replica after a revocation: it holds no group key, so it cannot derive
 * the new swarm key, and until it is given it, it holds the key the revoked device holds
 * too. Like the devices, it keeps the old key's connections for the grace period only,
 * then closes them and refuses new ones: the revoked phone, with its real node (running
 * through the revocation, or switched off then and started later from its directory),
 * cannot connect to it and fetches nothing from it.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { Devices, LOOPBACK } from '../join/helpers.ts'
import { removeDir, tempDir, waitFor } from '../helpers/device.ts'
import { startNode } from '../../src/network/node.ts'
import { serveReplica, type ServedReplica } from '../../src/node/replica-dir.ts'
import { readSwarmFile } from '../../src/node/swarm-file.ts'
import type { NodeAccount } from '../../src/node/account-dir.ts'

/** The devices' grace: long enough for the laptop to hand the rotation to the replica over the old key. */
const DEVICE_GRACE_MS = 4000
const REPLICA_GRACE_MS = 1500

const swarmKeyOf = (a: NodeAccount): Uint8Array => {
  const key = a.node.swarm?.key()
  assert.ok(key !== undefined, 'a private account runs a swarm guard')
  return key
}

const replicaAddr = (r: ServedReplica): ReturnType<typeof multiaddr> => multiaddr(r.addrs()[0] as string)

/** True when a fresh dial from `from` to the replica fails (a connection that opens is closed again). */
const refused = async (from: { dial: (addr: unknown, o?: { signal?: AbortSignal }) => Promise<unknown> }, r: ServedReplica): Promise<boolean> => {
  try {
    const conn = await from.dial(replicaAddr(r), { signal: AbortSignal.timeout(5000) }) as { close: () => Promise<void> }
    await conn.close().catch(() => {})
    await new Promise((resolve) => setTimeout(resolve, 500))
    return false
  } catch {
    return true
  }
}

describe('private mode: a replica after a revocation', function () {
  this.timeout(180_000)
  let d: Devices
  const others: Array<{ stop: () => Promise<void>, dir: string }> = []

  beforeEach(() => { d = new Devices({ swarmGraceMs: DEVICE_GRACE_MS }) })
  afterEach(async () => {
    for (const o of others.splice(0)) {
      await o.stop().catch(() => {})
      await removeDir(o.dir)
    }
    await d.cleanup()
  })

  /** Laptop + phone + a replica given the swarm key, which has recorded that key as epoch 0's. */
  const setUp = async (notes: string[]): Promise<{ laptop: NodeAccount, phone: NodeAccount, replica: ServedReplica, replicaDir: string }> => {
    const laptop = await d.create('laptop', 'private')
    const phone = await d.join('phone', 'laptop')
    const replicaDir = await tempDir('replica')
    const replica = await serveReplica({
      dir: replicaDir, address: laptop.address, listen: LOOPBACK, swarmKey: swarmKeyOf(laptop), swarmGraceMs: REPLICA_GRACE_MS, onNote: (n) => notes.push(n)
    })
    others.push({ stop: replica.close, dir: replicaDir })
    await laptop.syncWith(replica.addrs(), 15_000, 'registry')
    await replica.ready
    await waitFor(async () => (await readSwarmFile(join(replicaDir, 'swarm.json')))?.epoch === 0, 15_000, 'the replica to record its key\'s epoch')
    // Before the revocation the phone is let in: what follows is the revocation's doing.
    assert.ok((await phone.syncWith(replica.addrs(), 15_000, 'registry')).includes(replica.peerId()), 'the phone reaches the replica before its revocation')
    return { laptop, phone, replica, replicaDir }
  }

  it('drops the revoked phone\'s running node after the grace period and refuses it from then on', async () => {
    const notes: string[] = []
    const { laptop, phone, replica, replicaDir } = await setUp(notes)
    const served = await replica.ready
    const phoneId = phone.peerId()
    assert.ok(replica.started.node.libp2p.getPeers().some((p) => p.toString() === phoneId), 'the phone is connected to the replica')

    await laptop.revoke('phone')
    await waitFor(() => served.swarmEpoch() === 1, 20_000, 'the replica to see the revocation move the swarm')
    assert.deepEqual(swarmKeyOf(phone), replica.started.node.swarm?.key(), 'the phone holds the replica\'s (old) key')
    // Both ends see the connection closed (a dial while the phone's end is still open would reuse it).
    await waitFor(() => !replica.started.node.libp2p.getPeers().some((p) => p.toString() === phoneId) && !phone.peers().includes(replica.peerId()), 30_000,
      'the replica to close the revoked phone\'s connection')
    assert.equal(await refused(phone.node.libp2p, replica), true, 'the revoked phone cannot connect to the replica again')
    assert.ok(notes.some((n) => n.includes('moved to a new swarm key (epoch 1)') && n.includes('unreachable until given the new key')), `the replica says why (notes: ${notes.join(' | ')})`)

    // Restarted without the new key (its default grace is 15 s), it refuses the phone at once.
    await replica.close()
    others.pop()
    const again = await serveReplica({ dir: replicaDir, address: laptop.address, listen: LOOPBACK })
    others.push({ stop: again.close, dir: replicaDir })
    await again.ready
    assert.equal(await refused(phone.node.libp2p, again), true, 'the restarted replica refuses the revoked phone at once')
  })

  it('a revoked phone switched off at the revocation, started after the grace period, fetches nothing from the replica', async () => {
    const notes: string[] = []
    const { laptop, replica } = await setUp(notes)
    const served = await replica.ready
    const oldKey = swarmKeyOf(laptop)
    await d.stop('phone')

    await laptop.revoke('phone')
    await waitFor(() => served.swarmEpoch() === 1, 20_000, 'the replica to get the revocation from the laptop')

    // A bare node with the old key probes the replica until it stops letting that key in.
    const probeDir = await tempDir('probe')
    const probe = await startNode({ directory: join(probeDir, 'node'), listen: LOOPBACK, swarmKey: oldKey })
    others.push({ stop: probe.stop, dir: probeDir })
    const deadline = Date.now() + 30_000
    while (!(await refused(probe.libp2p, replica))) {
      assert.ok(Date.now() < deadline, 'the replica still lets the old swarm key in 30 s after the revocation')
    }

    // The thief starts the phone from its directory: the replica holds the phone's revocation, the phone gets none of it.
    const phone = await d.start('phone')
    assert.deepEqual(await phone.syncWith(replica.addrs(), 5000, 'registry'), [], 'the revoked phone cannot connect to the replica')
    assert.deepEqual(phone.devices().map((x) => [x.name, x.status]), [['laptop', 'active'], ['phone', 'active']], 'the phone fetched nothing new from the replica, not even its own revocation')
  })
})
