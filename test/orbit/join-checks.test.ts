/**
 * An entry that arrives is checked once. OrbitDB's `joinEntry` checked it again, and every
 * parent and ref it names (up to 17), though those were in the log already: after a
 * rotation, each put re-checked the 256 KiB snapshot parts among its refs, and took ~30 ms
 * instead of ~12 to show on another device. The database now joins a checked entry itself
 * (src/orbit/database.ts); this counts the signature checks one arriving entry costs.
 */
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { bindAccessContext } from '../../acl/access.ts'
import { ManagedDatabase } from '../../src/orbit/database.ts'
import type { BaseDatabase } from '../../src/orbit/orbitdb.ts'
import { Devices } from '../join/helpers.ts'
import { removeDir, startDevice, waitFor, type TestDevice } from '../helpers/device.ts'

describe('joining an entry from a peer', function () {
  this.timeout(120_000)
  const d = new Devices()
  const nodes: TestDevice[] = []
  const dbs: BaseDatabase[] = []

  after(async () => {
    for (const db of dbs) await db.close().catch(() => {})
    for (const node of nodes) {
      await node.stop()
      await removeDir(node.dir)
    }
    await d.cleanup()
  })

  /** A peer whose own checks let any writer in, with the account's data log open. */
  const peer = async (name: string, dial: string, address: string): Promise<{ node: TestDevice, db: BaseDatabase }> => {
    const node = await startDevice(name, { listen: true })
    nodes.push(node)
    bindAccessContext(node.identity, { isAdmitted: () => true, canWriteData: () => true })
    await node.node.libp2p.dial(multiaddr(dial))
    const db = await node.orbitdb.open(address, { Database: ManagedDatabase })
    dbs.push(db)
    return { node, db }
  }

  it('checks its signature once, not again with each of the 16 entries it names', async () => {
    const laptop = await d.create('laptop')
    const address = laptop.state().epoch?.dataLog
    assert.ok(address !== undefined)
    const a = await peer('a', laptop.addrs()[0] as string, address)
    const b = await peer('b', a.node.node.libp2p.getMultiaddrs()[0]?.toString() as string, address)
    let last = ''
    for (let i = 0; i < 20; i++) last = await a.db.addOperation({ n: i })
    await waitFor(async () => await b.db.log.has(last), 30_000, 'b to hold the 20 entries')
    const named = await a.db.log.get(last)
    assert.ok(named !== undefined && named.next.length + named.refs.length >= 16, 'the next entry names 16 or more in the log')

    let checks = 0
    const verify = b.node.identity.verify.bind(b.node.identity)
    b.node.identity.verify = async (...args: Parameters<typeof verify>) => {
      checks++
      return await verify(...args)
    }
    try {
      const next = await a.db.addOperation({ n: 20 })
      await waitFor(async () => await b.db.log.has(next), 30_000, 'b to hold the new entry')
      const joined = await b.db.log.get(next)
      assert.deepEqual(joined?.payload, { n: 20 })
      // Its own signature, in `admit`; OrbitDB's join would have checked it and its 17 again.
      assert.equal(checks, 1, `signature checks for one entry: ${checks}`)
    } finally {
      b.node.identity.verify = verify
    }
  })
})
