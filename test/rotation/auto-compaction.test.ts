/**
 * Automatic compaction (src/account/compaction.ts), with its thresholds lowered: once the
 * current log holds many times more writes than live keys, the senior active admin starts
 * a snapshot epoch by itself, every device follows, and a device that was away reads the
 * state from the snapshot. Nobody else starts one: not a member, not a junior admin, not
 * while the senior admin is away.
 */
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { isDeepStrictEqual } from 'node:util'
import { createAccount, openAccount, type NodeAccount } from '../../src/node/account-dir.ts'
import { Devices, LOOPBACK } from '../join/helpers.ts'
import { waitFor } from '../helpers/device.ts'

const RULE = { minWrites: 200, ratio: 4, checkMs: 150 }
const KEYS = 20
const WRITES = 300
/** How long a device is watched for a compaction that must not come (many checks). */
const QUIET_MS = 2_000

/** Opens `name`'s directory with the lowered thresholds (create and join use the defaults). */
const start = async (d: Devices, name: string): Promise<NodeAccount> => {
  const account = await openAccount({ dir: await d.dir(name), listen: LOOPBACK, compaction: RULE })
  d.open.set(name, account)
  return account
}

/**
 * Overwrites KEYS keys WRITES times in all, round-robin over `writers`, each writer its own
 * keys; returns the expected values. (A write made to the old epoch while the new one
 * already exists loses to any write made there, DESIGN "Writes concurrent with a
 * rotation": two devices writing one key across the cut would make no single expected value.)
 */
const overwrite = async (writers: NodeAccount[]): Promise<Record<string, unknown>> => {
  const expected: Record<string, unknown> = {}
  for (let i = 0; i < WRITES; i++) {
    const w = i % writers.length
    const key = `k/${w}/${Math.floor(i / writers.length) % (KEYS / writers.length)}`
    const value = { i }
    await (writers[w] as NodeAccount).put(key, value)
    expected[key] = value
  }
  return expected
}

describe('automatic compaction', function () {
  this.timeout(240_000)
  let d: Devices
  beforeEach(() => { d = new Devices() })
  afterEach(async () => { await d.cleanup() })

  it('the laptop (senior admin) starts a new epoch by itself; the phone follows; the tablet, away meanwhile, reads the snapshot', async () => {
    await d.create('laptop')
    await d.join('phone', 'laptop')
    await d.join('tablet', 'laptop')
    for (const name of ['laptop', 'phone', 'tablet']) await d.stop(name)
    const laptop = await start(d, 'laptop')
    const phone = await start(d, 'phone')
    await d.connect('phone', 'laptop')

    const expected = await overwrite([laptop, phone])
    await waitFor(() => laptop.info().epoch === 1 && phone.info().epoch === 1, 60_000, 'both devices in epoch 1')
    await waitFor(() => isDeepStrictEqual(laptop.all(), expected) && isDeepStrictEqual(phone.all(), expected), 30_000, 'every value on both')
    const state = laptop.state()
    assert.equal(state.epoch?.startedBy, laptop.device, 'the laptop started it')
    assert.equal(state.epochs.length, 2, 'exactly one new epoch')
    const stats = laptop.logStats()
    assert.equal(stats.epoch, 1)
    assert.equal(stats.keys, KEYS)
    assert.ok(stats.writes < RULE.minWrites, `the new log holds few writes past its snapshot: ${stats.writes}`)

    const tablet = await start(d, 'tablet')
    await d.connect('tablet', 'laptop', 'registry')
    await waitFor(() => tablet.info().epoch === 1 && isDeepStrictEqual(tablet.all(), expected), 60_000, 'the tablet in epoch 1 with every value')
    const away = tablet.logStats()
    assert.equal(away.epoch, 1)
    assert.ok(away.writes < RULE.minWrites, `the tablet holds the snapshot and the writes after it, not the history: ${away.writes}`)
  })

  it('batches count one write per key: 15 batches of 20 keys make the laptop compact', async () => {
    await d.create('laptop')
    await d.stop('laptop')
    const laptop = await start(d, 'laptop')
    const expected: Record<string, unknown> = {}
    for (let b = 0; b < WRITES / KEYS; b++) {
      const entries = Object.fromEntries(Array.from({ length: KEYS }, (_, k) => [`k/${k}`, { b }]))
      await laptop.putMany(entries)
      Object.assign(expected, entries)
    }
    await waitFor(() => laptop.info().epoch === 1, 30_000, 'the laptop in epoch 1')
    assert.deepEqual(laptop.all(), expected)
    assert.equal(laptop.state().epochs.length, 2, 'exactly one new epoch')
  })

  it('with the laptop (senior admin) away, neither the phone (member) nor the tablet (junior admin) compacts; back, the laptop alone does, once', async () => {
    await d.create('laptop')
    await d.join('tablet', 'laptop', 'admin')
    await d.join('phone', 'laptop')
    for (const name of ['laptop', 'tablet', 'phone']) await d.stop(name)

    const phone = await start(d, 'phone')
    const expected = await overwrite([phone])
    await sleep(QUIET_MS)
    assert.equal(phone.info().epoch, 0, 'a member alone does not compact')
    assert.ok(phone.logStats().writes >= WRITES)

    const tablet = await start(d, 'tablet')
    await d.connect('tablet', 'phone')
    await waitFor(() => tablet.logStats().writes >= WRITES && isDeepStrictEqual(tablet.all(), expected), 30_000, 'the tablet to hold the phone\'s writes')
    await sleep(QUIET_MS)
    assert.equal(tablet.info().epoch, 0, 'a junior admin does not compact')
    assert.equal(tablet.state().epochs.length, 1)

    const laptop = await start(d, 'laptop')
    await d.connect('laptop', 'tablet')
    await d.connect('laptop', 'phone').catch(() => {}) // the tablet relays the registry if this dial loses
    await waitFor(() => [laptop, tablet, phone].every((a) => a.info().epoch === 1), 60_000, 'every device in epoch 1')
    await sleep(QUIET_MS)
    for (const a of [laptop, tablet, phone]) {
      const state = a.state()
      assert.equal(state.epoch?.epoch, 1)
      assert.equal(state.epoch?.startedBy, laptop.device, 'the laptop started it')
      assert.equal(state.epochs.length, 2, 'exactly one new epoch')
      assert.deepEqual(state.supersededEpochs ?? [], [], 'no competing rotation')
    }
    await waitFor(() => [laptop, tablet, phone].every((a) => isDeepStrictEqual(a.all(), expected)), 30_000, 'every value on every device')
  })

  it('a device that made half its writes quota to the log starts a new log: keys written once each do not leave it unable to write', async () => {
    // Every write a live key: the ratio never comes due, and at 600 writes the device could write no more.
    const quotas = { liveBytes: 64 * 2 ** 20, keys: 10_000, writes: 600 }
    const dir = await d.dir('solo')
    await (await createAccount({ dir, name: 'solo', listen: [], quotas })).close()
    const solo = await openAccount({ dir, listen: [], compaction: RULE })
    d.open.set('solo', solo)
    for (let i = 0; i < 300; i++) await solo.put(`once/${i}`, i)
    await waitFor(() => solo.info().epoch > 0, 30_000, 'a new epoch')
    // 500 more (over the quota of the first log): each counts in the new log.
    for (let i = 300; i < 800; i++) await solo.put(`once/${i}`, i)
    assert.equal(Object.keys(solo.all()).length, 800)
    assert.ok(solo.logStats().writes < 600, `the new log holds ${solo.logStats().writes} writes`)
  })
})
