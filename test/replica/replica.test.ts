/**
 * The blind replica: it carries data between devices that are never online together,
 * and neither its disk nor the bytes on the wire ever hold a plaintext key or value.
 */
import assert from 'node:assert/strict'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { Devices, LOOPBACK } from '../join/helpers.ts'
import { allBytes, removeDir, tempDir, waitFor } from '../helpers/device.ts'
import { serveReplica, type ServedReplica } from '../../src/node/replica-dir.ts'

const MARKER_KEY = 'MARKERKEY-7f3a9'
const MARKER_VALUE = 'MARKERVALUE-c41d2'

/** A TCP relay on loopback that keeps every byte it forwards, both ways. */
const relay = async (target: { host: string, port: number }): Promise<{ port: number, bytes: () => Buffer, close: () => Promise<void> }> => {
  const seen: Buffer[] = []
  const sockets = new Set<Socket>()
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host)
    for (const s of [client, upstream]) { sockets.add(s); s.on('error', () => {}); s.on('close', () => sockets.delete(s)) }
    client.on('data', (b: Buffer) => { seen.push(b); upstream.write(b) })
    upstream.on('data', (b: Buffer) => { seen.push(b); client.write(b) })
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  return {
    port,
    bytes: () => Buffer.concat(seen),
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

describe('blind replica', function () {
  this.timeout(180_000)
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

  it('hands a write from the laptop to the phone when they are never online together, and reads nothing', async () => {
    const laptop = await d.create('laptop')
    replica = await serveReplica({ dir: replicaDir, address: laptop.address, listen: LOOPBACK })
    await d.join('phone', 'laptop')
    await d.stop('phone')
    // The laptop meets the replica, and the replica fetches the account from it.
    await laptop.syncWith(replica.addrs(), 15_000, 'registry')
    const served = await replica.ready
    await laptop.put(MARKER_KEY, MARKER_VALUE)
    await laptop.put('plain/key', { note: MARKER_VALUE })
    const expected = (await laptop.heads()).dataHeads
    await waitFor(async () => (await served.counts()).data >= 2 && served.epoch() === 0, 20_000, 'the replica to hold the writes')
    assert.ok(expected.length > 0)
    await d.stop('laptop')

    // The phone starts later and meets only the replica, through a relay that records the wire.
    const phone = await d.start('phone')
    const target = /\/ip4\/([^/]+)\/tcp\/(\d+)/.exec(replica.addrs()[0] as string)
    assert.ok(target !== null)
    const wire = await relay({ host: target[1] as string, port: Number(target[2]) })
    try {
      await phone.syncWith([`/ip4/127.0.0.1/tcp/${wire.port}/p2p/${replica.peerId()}`], 20_000)
      await waitFor(() => phone.get(MARKER_KEY) === MARKER_VALUE, 20_000, 'the phone to read the laptop\'s write through the replica')
      assert.deepEqual(phone.get('plain/key'), { note: MARKER_VALUE })
      assert.ok(wire.bytes().length > 1000, 'the relay carried the sync')
      for (const marker of [MARKER_KEY, MARKER_VALUE]) assert.equal(wire.bytes().includes(marker), false, `${marker} on the wire`)
    } finally {
      await wire.close()
    }
    await replica.close()
    replica = undefined
    const stored = await allBytes(replicaDir)
    assert.ok(stored.length > 0)
    for (const marker of [MARKER_KEY, MARKER_VALUE]) assert.equal(stored.includes(marker), false, `${marker} in the replica's directory`)
  })

  it('follows a revocation to the new epoch and holds its snapshot', async () => {
    const laptop = await d.create('laptop')
    await d.join('phone', 'laptop')
    replica = await serveReplica({ dir: replicaDir, address: laptop.address, listen: LOOPBACK })
    await laptop.syncWith(replica.addrs(), 15_000, 'registry')
    const served = await replica.ready
    await laptop.put('k', 1)
    await laptop.revoke('phone')
    await waitFor(() => served.epoch() === 1, 30_000, 'the replica to serve epoch 1')
    await waitFor(async () => (await served.counts()).data >= 1, 20_000, 'the replica to hold the new snapshot')
  })
})
