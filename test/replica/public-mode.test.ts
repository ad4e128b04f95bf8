/**
 * Public mode: signed and access-controlled, not encrypted. A peer outside the account
 * reads the values (that is the point: a public profile), and still cannot write.
 */
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { Devices } from '../join/helpers.ts'
import { removeDir, startDevice, waitFor, type TestDevice } from '../helpers/device.ts'
import { ManagedDatabase } from '../../src/orbit/database.ts'
import { Entry } from '../../src/orbit/orbitdb.ts'
import { plainCodec } from '../../src/store/codec.ts'

describe('public mode', function () {
  this.timeout(120_000)
  let d: Devices
  let reader: TestDevice

  beforeEach(async () => {
    d = new Devices()
    reader = await startDevice('reader', { listen: true })
  })
  afterEach(async () => {
    await reader.stop()
    await removeDir(reader.dir)
    await d.cleanup()
  })

  it('a peer outside the account reads the values, and its writes are refused', async () => {
    const laptop = await d.create('laptop', 'public')
    await laptop.put('profile/name', 'Ada Lovelace')
    const epoch = laptop.state().epoch
    assert.ok(epoch !== null)
    await reader.node.libp2p.dial(multiaddr(laptop.addrs()[0] as string))
    // The reader subscribes to the log's topic and fetches its entries as the network serves them.
    await reader.orbitdb.open(epoch.dataLog, { Database: ManagedDatabase })
    await waitFor(async () => (await readablePayloads(reader, (await laptop.heads()).dataHeads)).length > 0, 20_000, 'the reader to fetch an entry')
    const payloads = await readablePayloads(reader, (await laptop.heads()).dataHeads)
    assert.deepEqual(payloads[0], { op: 'put', key: 'profile/name', value: 'Ada Lovelace' })

    // Its write, signed with its own valid key, is refused by the account's devices.
    const forged = await Entry.create(reader.identity, epoch.dataLog, plainCodec.encode({ op: 'put', key: 'profile/name', value: 'Mallory' }), undefined, { id: reader.identity.publicKey, time: 99 }, (await laptop.heads()).dataHeads)
    const { bytes } = await Entry.encode(forged)
    const pubsub = reader.node.libp2p.services.pubsub as { publish: (topic: string, data: Uint8Array) => Promise<unknown> }
    await waitFor(async () => {
      await pubsub.publish(epoch.dataLog, bytes).catch(() => {})
      return laptop.rejected().data >= 1
    }, 20_000, 'the laptop to refuse the reader\'s write')
    assert.equal(laptop.get('profile/name'), 'Ada Lovelace')
  })
})

/** Fetches an entry by hash over the network (bitswap) and decodes it. */
const fetchEntry = async (device: TestDevice, hash: string): Promise<Parameters<typeof Entry.encode>[0] & { hash: string }> => {
  const { IPFSBlockStorage } = await import('../../src/orbit/orbitdb.ts')
  const storage = await IPFSBlockStorage({ ipfs: device.node.helia, pin: false, timeout: 5000 })
  const bytes = await storage.get(hash)
  if (bytes === undefined) throw new Error(`no block ${hash}`)
  return await Entry.decode(bytes)
}

const readablePayloads = async (device: TestDevice, hashes: string[]): Promise<unknown[]> => {
  const out: unknown[] = []
  for (const h of hashes) {
    try {
      out.push(plainCodec.decode((await fetchEntry(device, h)).payload))
    } catch {}
  }
  return out
}
