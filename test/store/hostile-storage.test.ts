/**
 * The last bound of DESIGN property 11 (issue #18): a member's entries past its `writes`
 * quota can never count, so no peer stores them. A hostile member (an admitted phone
 * whose owner runs a node of its own with the phone's real keys) writes five times its
 * quota: the laptop and the tablet store about a quota's worth of its entries, read
 * exactly the writes that count, and their own later writes still converge.
 */
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import { base58btc } from 'multiformats/bases/base58'
import { createAccount, type NodeAccount } from '../../src/node/account-dir.ts'
import { encryptedCodec } from '../../src/store/codec.ts'
import type { Quotas } from '../../src/store/quota.ts'
import type { BaseDatabase } from '../../src/orbit/orbitdb.ts'
import { removeDir, waitFor, type TestDevice } from '../helpers/device.ts'
import { Devices, LOOPBACK } from '../join/helpers.ts'
import { spyOn, stealDevice, stolenKeys } from '../rotation/thief-helpers.ts'

const QUOTAS: Quotas = { liveBytes: 2 * 2 ** 20, keys: 10_000, writes: 200 }
const SENT = 1000
/** Entries a victim may store past the quota: none expected with an increasing clock; a few for the phone's own. */
const MARGIN = 10

/** How many of `hashes` are blocks in `account`'s blockstore (stored on its disk). */
const storedOf = async (account: NodeAccount, hashes: string[]): Promise<number> => {
  let n = 0
  for (const hash of hashes) if (await account.node.helia.blockstore.has(CID.parse(hash, base58btc))) n++
  return n
}

/** Resolves once `count` has stopped moving for `quietMs` (at most `ms`); returns its last value. */
const settled = async (count: () => Promise<number>, quietMs: number, ms: number): Promise<number> => {
  let last = -1
  let since = Date.now()
  const deadline = Date.now() + ms
  for (;;) {
    const n = await count()
    if (n !== last) {
      last = n
      since = Date.now()
    } else if (Date.now() - since >= quietMs) return n
    if (Date.now() > deadline) return n
    await new Promise((resolve) => setTimeout(resolve, 1000))
  }
}

describe('quotas: a hostile member\'s entries past its writes quota are not stored', function () {
  this.timeout(240_000)
  let d: Devices
  let laptop: NodeAccount
  let hostile: TestDevice | undefined
  let spy: BaseDatabase | undefined
  const measured: Record<string, number> = {}

  before(async () => {
    d = new Devices()
    laptop = await createAccount({ dir: await d.dir('laptop'), name: 'laptop', listen: LOOPBACK, quotas: QUOTAS })
    d.open.set('laptop', laptop)
    await d.join('tablet', 'laptop')
    await d.join('phone', 'laptop')
  })
  after(async () => {
    await spy?.close().catch(() => {})
    if (hostile !== undefined) {
      await hostile.stop()
      await removeDir(hostile.dir)
    }
    await d.cleanup()
    console.log(`      measured: ${JSON.stringify(measured)}`)
  })

  it(`its own node writes ${SENT} entries (${SENT / QUOTAS.writes} x its quota): the others store about a quota of them, and still converge`, async () => {
    const tablet = d.get('tablet')
    await d.stop('phone')
    hostile = await stealDevice(d, 'phone', [laptop, tablet])
    const epoch = laptop.state().epoch
    assert.ok(epoch !== null)
    const key = stolenKeys(hostile, laptop.address, [laptop.state()]).get(epoch.epoch)
    assert.ok(key !== undefined, 'the phone\'s keys open its lockbox')
    spy = await spyOn(hostile, epoch.dataLog)
    const log = spy
    const heads = (await laptop.heads()).dataHeads
    await waitFor(async () => (await Promise.all(heads.map(async (h) => await log.log.has(h)))).every(Boolean), 20_000, 'the hostile node to fetch the data log')
    const codec = encryptedCodec(key, laptop.address, epoch.epoch)

    // An honest clock (each entry after the one before): the first of them count.
    const start = performance.now()
    const sent: string[] = []
    for (let i = 0; i < SENT; i++) sent.push(await log.addOperation(codec.encode({ op: 'put', key: `h/${i}`, value: i })))
    measured.writeMs = Math.round(performance.now() - start)

    for (const [name, victim] of [['laptop', laptop], ['tablet', tablet]] as const) {
      await waitFor(() => victim.get('h/0') !== undefined, 60_000, `the ${name} to receive the hostile writes`)
      const stored = await settled(async () => await storedOf(victim, sent), 5000, 120_000)
      measured[`${name}Stored`] = stored
      // Without the bound every one of them is stored (1,000 blocks).
      assert.ok(stored <= QUOTAS.writes + MARGIN, `the ${name} stored ${stored} of the ${SENT} entries`)
      // What it reads is exactly a prefix of them: the writes that count, and nothing else.
      const counted = Object.keys(victim.all({ prefix: 'h/' })).length
      measured[`${name}Counted`] = counted
      assert.ok(counted > QUOTAS.writes - MARGIN && counted <= QUOTAS.writes, `the ${name} counted ${counted}`)
      for (let i = 0; i < SENT; i++) assert.equal(victim.get(`h/${i}`), i < counted ? i : undefined, `h/${i} on the ${name}`)
      assert.ok(stored >= counted, `every counted write of the ${name} is stored (${stored} < ${counted})`)
    }
    measured.receiveMs = Math.round(performance.now() - start)

    // The honest devices' later writes join on both and converge.
    await laptop.put('after/laptop', 1)
    await tablet.put('after/tablet', 2)
    for (const victim of [laptop, tablet]) {
      await waitFor(() => victim.get('after/laptop') === 1 && victim.get('after/tablet') === 2, 30_000, 'the honest writes to converge')
    }
    await waitFor(async () => {
      const [a, b] = [(await laptop.heads()).dataHeads.sort(), (await tablet.heads()).dataHeads.sort()]
      return a.join() === b.join()
    }, 30_000, 'the laptop and the tablet to have the same data heads')
  })

  it('after a restart the verdict stands (rebuilt from the log): one more entry is refused, not stored', async () => {
    assert.ok(spy !== undefined && hostile !== undefined)
    await d.stop('tablet')
    const tablet = await d.start('tablet')
    await hostile.node.libp2p.dial(multiaddr(tablet.addrs()[0] as string))
    const epoch = tablet.state().epoch
    assert.ok(epoch !== null)
    const key = stolenKeys(hostile, tablet.address, [tablet.state()]).get(epoch.epoch) as Uint8Array
    const before = tablet.rejected().data
    const hash = await spy.addOperation(encryptedCodec(key, tablet.address, epoch.epoch).encode({ op: 'put', key: 'h/late', value: 1 }))
    await waitFor(() => tablet.rejected().data > before, 30_000, 'the tablet to refuse the late entry')
    assert.equal(await storedOf(tablet, [hash]), 0)
    assert.equal(tablet.get('h/late'), undefined)
  })
})
