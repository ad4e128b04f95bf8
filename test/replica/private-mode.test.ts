/**
 * Private mode: the devices form a libp2p private network whose swarm key travels in
 * the invite. A node without the key cannot connect; a revocation rotates the key with
 * the group key, so the revoked device (the thief, with its keys and its running node)
 * cannot connect anymore; a compaction keeps the swarm; a replica given the key carries
 * writes between devices that are never online together.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { Devices, LOOPBACK } from '../join/helpers.ts'
import { removeDir, startDevice, tempDir, waitFor, type TestDevice } from '../helpers/device.ts'
import { startNode, type StartedNode } from '../../src/network/node.ts'
import { parseInvite } from '../../src/invite/invite.ts'
import { serveReplica, type ServedReplica } from '../../src/node/replica-dir.ts'
import { readSwarmFile } from '../../src/node/swarm-file.ts'
import { randomBytes } from '../../src/crypto/bytes.ts'
import type { NodeAccount } from '../../src/node/account-dir.ts'

const GRACE_MS = 1500

const swarmKeyOf = (a: NodeAccount): Uint8Array => {
  const key = a.node.swarm?.key()
  assert.ok(key !== undefined, 'a private account runs a swarm guard')
  return key
}

const cannotDial = async (from: { dial: (addr: unknown, o?: { signal?: AbortSignal }) => Promise<unknown> }, to: NodeAccount | ServedReplica, what: string): Promise<void> => {
  await assert.rejects(from.dial(multiaddr(to.addrs()[0] as string), { signal: AbortSignal.timeout(5000) }), `${what} must not connect`)
}

describe('private mode', function () {
  this.timeout(180_000)
  let d: Devices
  const others: Array<{ stop: () => Promise<void>, dir?: string }> = []

  beforeEach(() => { d = new Devices({ swarmGraceMs: GRACE_MS }) })
  afterEach(async () => {
    for (const o of others.splice(0)) {
      await o.stop().catch(() => {})
      if (o.dir !== undefined) await removeDir(o.dir)
    }
    await d.cleanup()
  })

  it('devices sync inside the private network; a node without the swarm key cannot connect either way', async () => {
    const laptop = await d.create('laptop', 'private')
    assert.equal(laptop.info().mode, 'private')
    const invite = await laptop.invite({ ttlMs: 60_000, role: 'member' })
    assert.deepEqual(parseInvite(invite.text, { now: Date.now() }).swarmKey, swarmKeyOf(laptop), 'the invite carries the swarm key')
    const { joinAccount } = await import('../../src/node/account-dir.ts')
    const phone = await joinAccount({ dir: await d.dir('phone'), invite: invite.text, name: 'phone', listen: LOOPBACK, swarmGraceMs: GRACE_MS })
    d.open.set('phone', phone)
    await invite.admitted
    assert.deepEqual(swarmKeyOf(phone), swarmKeyOf(laptop))
    await laptop.put('note', 'inside')
    await waitFor(() => phone.get('note') === 'inside', 20_000, 'the phone to read the laptop\'s write')

    const outsider: TestDevice = await startDevice('outsider', { listen: true })
    others.push(outsider)
    await cannotDial(outsider.node.libp2p, laptop, 'a node with no swarm key')
    await assert.rejects(laptop.node.libp2p.dial(multiaddr(outsider.node.libp2p.getMultiaddrs()[0]?.toString() as string), { signal: AbortSignal.timeout(5000) }))
    const wrongDir = await tempDir('wrong-key')
    const wrong: StartedNode = await startNode({ directory: join(wrongDir, 'node'), listen: LOOPBACK, swarmKey: randomBytes(32) })
    others.push({ stop: wrong.stop, dir: wrongDir })
    await cannotDial(wrong.libp2p, laptop, 'a node with another swarm key')
    assert.equal(laptop.peers().includes(outsider.node.libp2p.peerId.toString()), false)
    assert.equal(laptop.peers().includes(wrong.libp2p.peerId.toString()), false)
  })

  it('a revocation rotates the swarm key: the revoked device cannot connect, the others move; a compaction keeps it', async () => {
    const laptop = await d.create('laptop', 'private')
    const phone = await d.join('phone', 'laptop')
    const tablet = await d.join('tablet', 'laptop')
    await d.connect('tablet', 'phone')
    const first = swarmKeyOf(laptop)
    await laptop.rotate()
    await waitFor(() => tablet.info().epoch === 1 && phone.info().epoch === 1, 30_000, 'both devices to follow the compaction')
    assert.deepEqual(swarmKeyOf(laptop), first, 'a compaction keeps the swarm key')
    assert.deepEqual(swarmKeyOf(tablet), first)

    await laptop.revoke('phone')
    await waitFor(() => tablet.info().epoch === 2, 30_000, 'the tablet to follow the revocation')
    const second = swarmKeyOf(laptop)
    assert.notDeepEqual(second, first, 'the revocation rotated the swarm key')
    await waitFor(() => swarmKeyOf(tablet).every((b, i) => b === second[i]), 10_000, 'the tablet to take the new swarm key')
    assert.deepEqual(swarmKeyOf(phone), first, 'the revoked phone cannot know the new key')

    // After the grace period the old connections close; the thief's node (still running, with the phone's keys) is out.
    const phoneId = phone.peerId()
    await waitFor(() => !laptop.peers().includes(phoneId) && !tablet.peers().includes(phoneId), 20_000, 'the others to drop the phone')
    await cannotDial(phone.node.libp2p, laptop, 'the revoked phone')
    await cannotDial(phone.node.libp2p, tablet, 'the revoked phone')

    // The devices that moved still sync, over connections made with the new key.
    await laptop.put('after', 'revocation')
    await waitFor(() => tablet.get('after') === 'revocation', 30_000, 'the tablet to read a write made after the revocation')
    assert.equal(phone.get('after'), undefined)

    // Restarted from its stolen directory, the phone still cannot reach anybody.
    await d.stop('phone')
    const restarted = await d.start('phone')
    assert.deepEqual(await restarted.syncWith([...laptop.addrs(), ...tablet.addrs()], 3000, 'registry'), [])
  })

  it('a device that was away during a revocation is let back in with the new swarm key given by hand', async () => {
    const laptop = await d.create('laptop', 'private')
    await d.join('phone', 'laptop')
    await d.join('tablet', 'laptop')
    await d.stop('tablet')
    await laptop.revoke('phone')
    const tablet = await d.start('tablet')
    assert.deepEqual(await tablet.syncWith(laptop.addrs(), 3000, 'registry'), [], 'on the old key the tablet is locked out like the phone')
    await d.stop('tablet')
    const back = await d.start('tablet', { swarmKey: swarmKeyOf(laptop) })
    await back.syncWith(laptop.addrs(), 15_000, 'registry')
    await waitFor(() => back.info().epoch === 1, 30_000, 'the tablet to move to the new epoch')
    assert.deepEqual(swarmKeyOf(back), swarmKeyOf(laptop))
    // Restarted without help, it now uses the key it stored.
    await d.stop('tablet')
    const again = await d.start('tablet')
    await laptop.put('k', 'v')
    await again.syncWith(laptop.addrs(), 15_000)
    await waitFor(() => again.get('k') === 'v', 20_000, 'the tablet to sync on the stored key')
  })

  it('a replica given the swarm key carries a write between devices never online together; without it, it cannot connect', async () => {
    const laptop = await d.create('laptop', 'private')
    await d.join('phone', 'laptop')
    await d.stop('phone')
    const blindDir = await tempDir('replica-nokey')
    const blind = await serveReplica({ dir: blindDir, address: laptop.address, listen: LOOPBACK })
    others.push({ stop: blind.close, dir: blindDir })
    await cannotDial(blind.started.node.libp2p, laptop, 'a replica without the swarm key')

    const replicaDir = await tempDir('replica')
    const replica = await serveReplica({ dir: replicaDir, address: laptop.address, listen: LOOPBACK, swarmKey: swarmKeyOf(laptop) })
    others.push({ stop: replica.close, dir: replicaDir })
    await laptop.syncWith(replica.addrs(), 15_000, 'registry')
    const served = await replica.ready
    await laptop.put('handoff', 'via replica')
    await waitFor(async () => (await served.counts()).data >= 1, 20_000, 'the replica to hold the write')
    await d.stop('laptop')
    const phone = await d.start('phone')
    await phone.syncWith(replica.addrs(), 20_000)
    await waitFor(() => phone.get('handoff') === 'via replica', 20_000, 'the phone to read the write through the replica')
  })

  it('a replica is told when a revocation moves the swarm key, and follows the new epoch once given the new key', async () => {
    const laptop = await d.create('laptop', 'private')
    const phone = await d.join('phone', 'laptop')
    const replicaDir = await tempDir('replica')
    const notes: string[] = []
    const replica = await serveReplica({ dir: replicaDir, address: laptop.address, listen: LOOPBACK, swarmKey: swarmKeyOf(laptop), onNote: (n) => notes.push(n) })
    others.push({ stop: replica.close, dir: replicaDir })
    await laptop.syncWith(replica.addrs(), 15_000, 'registry')
    await replica.ready
    // The key given by hand is recorded as the swarm of epoch 0 once a device has synced the registry here.
    await waitFor(async () => (await readSwarmFile(join(replicaDir, 'swarm.json')))?.epoch === 0, 15_000, 'the replica to record its key\'s epoch')

    await laptop.revoke('phone')
    await waitFor(() => notes.some((n) => n.includes('moved to a new swarm key (epoch 1)')), 20_000, `the replica to say it needs the new key (notes: ${notes.join(' | ')})`)
    assert.equal(notes.filter((n) => n.includes('new swarm key')).length, 1, 'said once')
    await replica.close()
    others.pop()

    // Given the new key, the same directory serves the new epoch; the revoked phone cannot reach it.
    const again = await serveReplica({ dir: replicaDir, address: laptop.address, listen: LOOPBACK, swarmKey: swarmKeyOf(laptop), onNote: (n) => notes.push(n) })
    others.push({ stop: again.close, dir: replicaDir })
    await laptop.put('after', 'revocation')
    assert.notDeepEqual(await laptop.syncWith(again.addrs(), 15_000), [], 'the laptop reaches the replica on the new key')
    const served = await again.ready
    await waitFor(() => served.epoch() === 1 && served.swarmEpoch() === 1, 20_000, 'the replica to follow the new epoch')
    await waitFor(async () => (await served.counts()).data >= 1, 20_000, 'the replica to hold the write made after the revocation')
    await cannotDial(phone.node.libp2p, again, 'the revoked phone')
    assert.equal(notes.filter((n) => n.includes('new swarm key')).length, 1, 'no second note with the right key')
  })
})
