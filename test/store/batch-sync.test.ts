/**
 * Batch writes between real devices (issue #16): a 3,000-key putMany on one device is
 * readable on another, which shows all of it or none at every moment; and a hostile
 * member (the phone's stolen keys on a node of its own, writing batch parts directly
 * with db.addOperation) cannot make a partial or self-contradicting batch show on the
 * other devices.
 */
import assert from 'node:assert/strict'
import { removeDir, waitFor, type TestDevice } from '../helpers/device.ts'
import { Devices } from '../join/helpers.ts'
import { spyOn, stealDevice, stolenKeys } from '../rotation/thief-helpers.ts'
import { encryptedCodec, type BatchRecord, type PayloadCodec } from '../../src/store/codec.ts'
import type { NodeAccount } from '../../src/node/account-dir.ts'
import type { BaseDatabase } from '../../src/orbit/orbitdb.ts'
import type { JsonValue } from '../../src/store/limits.ts'

const KEYS = 3000

describe('batch writes between devices', function () {
  this.timeout(180_000)
  let d: Devices
  let laptop: NodeAccount
  let tablet: NodeAccount
  let thief: TestDevice | undefined
  let log: BaseDatabase | undefined

  before(async () => {
    d = new Devices()
    laptop = await d.create('laptop')
    tablet = await d.join('tablet', 'laptop')
    await d.join('phone', 'laptop')
    await waitFor(() => tablet.devices().length === 3, 20_000, 'the tablet to know the phone')
    await d.stop('phone')
  })
  after(async () => {
    await log?.close().catch(() => {})
    await thief?.stop()
    if (thief !== undefined) await removeDir(thief.dir)
    await d.cleanup()
  })

  /** The count of `prefix` keys `account` shows now. */
  const shown = (account: NodeAccount, prefix: string): number => Object.keys(account.all({ prefix })).length

  it('a 3,000-key putMany is readable on the other device, which never shows part of it', async () => {
    const entries: Record<string, JsonValue> = {}
    // ~1 MB of JSON: several parts.
    for (let i = 0; i < KEYS; i++) entries[`bulk/${i}`] = { n: i, text: 'x'.repeat(300) }
    // At the end of every burst of change events, and every few milliseconds, the tablet shows 0 or 3,000 of them.
    const seen = new Set<string>()
    const bursts: number[] = []
    const polls: number[] = []
    let pending = false
    const stop = tablet.watch((change) => {
      if (!change.key.startsWith('bulk/')) return
      seen.add(change.key)
      if (pending) return
      pending = true
      setImmediate(() => {
        pending = false
        bursts.push(seen.size, shown(tablet, 'bulk/'))
      })
    })
    const timer = setInterval(() => { polls.push(shown(tablet, 'bulk/')) }, 10)
    try {
      await laptop.putMany(entries)
      assert.equal(shown(laptop, 'bulk/'), KEYS, 'the writer reads its batch when putMany resolves')
      await waitFor(() => tablet.get(`bulk/${KEYS - 1}`) !== undefined, 60_000, 'the tablet to read the batch')
      await new Promise((resolve) => setTimeout(resolve, 50))
    } finally {
      stop()
      clearInterval(timer)
    }
    assert.deepEqual(tablet.all({ prefix: 'bulk/' }), laptop.all({ prefix: 'bulk/' }))
    assert.ok(bursts.length > 0)
    for (const n of bursts) assert.equal(n, KEYS, `a watcher saw ${n} of the batch's keys at the end of a burst: ${JSON.stringify(bursts.slice(0, 20))}`)
    assert.ok(polls.length > 0)
    for (const n of polls) assert.ok(n === 0 || n === KEYS, `the tablet showed ${n} of the batch's keys`)
    console.log(`      bursts ${bursts.length / 2}, polls ${polls.length}`)
  })

  it('a hostile member\'s partial or contradicting batch never shows on the other devices', async () => {
    thief = await stealDevice(d, 'phone', [laptop, tablet])
    const epoch = laptop.state().epoch
    assert.ok(epoch !== null)
    const key = stolenKeys(thief, laptop.address, [laptop.state()]).get(epoch.epoch)
    assert.ok(key !== undefined, 'the member holds the epoch key')
    const codec: PayloadCodec = encryptedCodec(key, laptop.address, epoch.epoch)
    const db = log = await spyOn(thief, epoch.dataLog)
    const heads = async (): Promise<string> => (await db.log.heads()).map((h) => h.hash).sort().join()
    await waitFor(async () => await heads() === (await laptop.heads()).dataHeads.sort().join(), 20_000, 'the member to sync the data log')

    const records = (prefix: string): BatchRecord[] => Array.from({ length: 5 }, (_, i) => ({ k: `${prefix}/${i}`, v: i }))
    const write = async (id: string, part: number, of: number, prefix: string): Promise<void> => {
      await db.addOperation(codec.encode({ op: 'batch', id, part, of, records: records(prefix) }))
    }
    // Two parts of three: never whole.
    await write('partialpartialpartial0', 0, 3, 'evil/partial-0')
    await write('partialpartialpartial0', 2, 3, 'evil/partial-2')
    // Whole, then a second part 1: void, on every device whichever part came first.
    await write('contradictcontradict00', 0, 2, 'evil/void-0')
    await write('contradictcontradict00', 1, 2, 'evil/void-1')
    await write('contradictcontradict00', 1, 2, 'evil/void-1b')
    // A different `of` for an id whole already.
    await write('otherofotherofotherof0', 0, 1, 'evil/of-0')
    await write('otherofotherofotherof0', 1, 2, 'evil/of-1')
    // The control: a whole batch from the same member shows (its parts do reach the others).
    await write('wholewholewholewhole00', 0, 2, 'evil/whole-0')
    await write('wholewholewholewhole00', 1, 2, 'evil/whole-1')
    await db.addOperation(codec.encode({ op: 'put', key: 'evil/marker', value: true }))

    for (const victim of [laptop, tablet]) {
      // The marker names every part before it: once it shows, every part was applied.
      await waitFor(() => victim.get('evil/marker') === true, 30_000, `${victim.info().name} to read the member's marker`)
      assert.equal(shown(victim, 'evil/whole-'), 10, 'the whole batch shows')
      for (const prefix of ['evil/partial', 'evil/void', 'evil/of']) assert.equal(shown(victim, prefix), 0, `${victim.info().name} shows ${prefix}`)
    }
  })

  it('a rotation keeps the batch whole, and the member\'s unfinished batches out', async () => {
    const before = laptop.info().epoch
    await laptop.revoke('phone')
    await waitFor(() => tablet.info().epoch > before, 60_000, 'the tablet to move to the new epoch')
    for (const account of [laptop, tablet]) {
      assert.equal(shown(account, 'bulk/'), KEYS, account.info().name)
      assert.deepEqual(account.get('bulk/7'), { n: 7, text: 'x'.repeat(300) })
      for (const prefix of ['evil/partial', 'evil/void', 'evil/of']) assert.equal(shown(account, prefix), 0, `${account.info().name} shows ${prefix}`)
    }
  })
})
