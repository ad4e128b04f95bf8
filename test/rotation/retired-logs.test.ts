/**
 * Each rotation starts a new data log; a device retires the old one once it moved.
 * A retired log's blocks and stores went nowhere, so the disk grew with the whole
 * history however often the account compacted. Now a device keeps the log its config
 * names and the one before it, and gives back the disk of older ones
 * (src/account/retired-logs.ts, src/orbit/reclaim.ts): their blocks leave the blockstore,
 * their directories go, and nothing any device reads is lost.
 */
import assert from 'node:assert/strict'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { base58btc } from 'multiformats/bases/base58'
import { LevelBlockstore } from 'blockstore-level'
import type { AccountState, EpochRecord } from '../../acl/types.ts'
import type { NodeAccount } from '../../src/node/account-dir.ts'
import { accountPaths } from '../../src/node/paths.ts'
import { retiredLogs } from '../../src/account/retired-logs.ts'
import { logDirectory, logStorePath } from '../../src/orbit/log-paths.ts'
import { reclaimLog } from '../../src/orbit/reclaim.ts'
import { LevelStorage } from '../../src/orbit/orbitdb.ts'
import { localEntries } from '../helpers/log-entries.ts'
import { serveReplica, type ServedReplica } from '../../src/node/replica-dir.ts'
import { Devices, LOOPBACK } from '../join/helpers.ts'
import { removeDir, tempDir, waitFor } from '../helpers/device.ts'

const cidOf = (hash: string): CID => CID.parse(hash, base58btc)
const isDir = async (path: string): Promise<boolean> => await stat(path).then((s) => s.isDirectory(), () => false)

/** Every entry of the current data log that `device` holds. */
const entriesOf = async (device: NodeAccount): Promise<string[]> => (await localEntries(device.node.helia, (await device.heads()).dataHeads)).map((e) => e.hash)

/** How many of `hashes` the device's (or replica's) blockstore holds. */
const held = async (device: { node: NodeAccount['node'] }, hashes: string[]): Promise<number> =>
  (await Promise.all(hashes.map(async (h) => await device.node.helia.blockstore.has(cidOf(h))))).filter(Boolean).length

const epochRecord = (epoch: number, dataLog: string): EpochRecord => ({ epoch, dataLog }) as unknown as EpochRecord
const stateWith = (epochs: EpochRecord[], current: EpochRecord | null, superseded: EpochRecord[] = []): AccountState => ({ epochs, epoch: current, supersededEpochs: superseded }) as unknown as AccountState
const ACCOUNT = `/orbitdb/zdpu${'R'.repeat(40)}`

describe('retired data logs give their disk back', function () {
  this.timeout(240_000)

  it('which logs go: those two or more epochs before the one the config names, never the registry\'s current one', () => {
    const log = (n: number): string => `/orbitdb/zdpu${'B'.repeat(40)}${'abcde'[n] as string}`
    const logs = [0, 1, 2, 3, 4].map((e) => epochRecord(e, log(e)))
    assert.deepEqual(retiredLogs(stateWith(logs, logs[4] as EpochRecord), log(4), ACCOUNT), [log(0), log(1), log(2)])
    // The config still names an older log (the device has not moved yet): counted from there.
    assert.deepEqual(retiredLogs(stateWith(logs, logs[4] as EpochRecord), log(2), ACCOUNT), [log(0)])
    // A config naming a log the registry does not know, or none: nothing goes.
    assert.deepEqual(retiredLogs(stateWith(logs, logs[4] as EpochRecord), '/orbitdb/other', ACCOUNT), [])
    assert.deepEqual(retiredLogs(stateWith(logs, logs[4] as EpochRecord), undefined, ACCOUNT), [])
    // The registry's current epoch older than the config's (a rotation voided): nothing goes.
    assert.deepEqual(retiredLogs(stateWith(logs, logs[1] as EpochRecord), log(4), ACCOUNT), [])
    assert.deepEqual(retiredLogs(stateWith(logs, null), log(4), ACCOUNT), [])
    // An old epoch naming the registry's log, a kept epoch's log, or a superseded newer one's: never emptied.
    const tricks = [epochRecord(0, ACCOUNT), epochRecord(1, log(3)), epochRecord(2, log(4)), epochRecord(3, log(3)), epochRecord(4, log(4))]
    assert.deepEqual(retiredLogs(stateWith(tricks, tricks[4] as EpochRecord), log(4), ACCOUNT), [])
    const superseded = [epochRecord(0, log(0)), epochRecord(1, log(1)), epochRecord(2, log(2)), epochRecord(3, log(3))]
    assert.deepEqual(retiredLogs(stateWith(superseded, superseded[3] as EpochRecord, [epochRecord(2, log(0))]), log(3), ACCOUNT), [log(1)])
    // A rotation that lost its epoch long ago: its log goes as well.
    const lost = `/orbitdb/zdpu${'L'.repeat(40)}`
    assert.deepEqual(retiredLogs(stateWith(superseded, superseded[3] as EpochRecord, [epochRecord(0, lost)]), log(3), ACCOUNT), [log(0), log(1), lost])
  })

  it('a data log named by text that is not an address (an admin may write any \'/orbitdb/...\') names no place to empty', async () => {
    const real = (n: number): string => `/orbitdb/zdpu${'A'.repeat(40)}${n}`
    const logs = [epochRecord(0, '/orbitdb/../../..'), epochRecord(1, '/orbitdb/z/../../x'), epochRecord(2, real(2)), epochRecord(3, real(3)), epochRecord(4, real(4)), epochRecord(5, real(5))]
    assert.deepEqual(retiredLogs(stateWith(logs, logs[5] as EpochRecord), real(5), ACCOUNT), [real(2), real(3)])
    const dir = await tempDir('not-an-address')
    try {
      await assert.rejects(reclaimLog({ deleteBlock: async () => { throw new Error('nothing is deleted') }, directory: dir, address: '/orbitdb/../..' }), RangeError)
      assert.deepEqual(await readdir(dir), [], 'nothing made or removed')
    } finally {
      await removeDir(dir)
    }
  })

  describe('two devices through four rotations', () => {
    let d: Devices
    before(() => { d = new Devices() })
    after(async () => { await d.cleanup() })

    it('each keeps the current and the previous log; older logs\' blocks and directories are gone on both, and every value reads', async () => {
      const laptop = await d.create('laptop')
      const phone = await d.join('phone', 'laptop')
      await laptop.putMany(Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, { i, text: `value ${i * 7919} `.repeat(8) }])))
      await waitFor(() => Object.keys(phone.all()).length === 1000, 60_000, 'the phone to read every key')
      const logs: Array<{ dataLog: string, hashes: string[] }> = []
      for (let r = 0; r < 4; r++) {
        const hashes = await entriesOf(laptop)
        logs.push({ dataLog: laptop.state().epoch?.dataLog as string, hashes })
        assert.ok(await held(phone, hashes) > 0, `the phone holds entries of log ${r}`)
        await laptop.rotate()
        await laptop.put(`after/${r}`, r)
        await phone.put(`phone/${r}`, r)
        await waitFor(() => phone.get(`after/${r}`) === r && laptop.get(`phone/${r}`) === r && phone.info().epoch === laptop.info().epoch, 60_000, `both devices in the epoch of rotation ${r}`)
      }
      const current = laptop.state().epoch?.dataLog as string
      assert.equal(logs.length, 4)
      for (const [name, device] of [['laptop', laptop], ['phone', phone]] as const) {
        const orbitdbDir = accountPaths(await d.dir(name)).orbitdb
        // The sweep runs after the config records each move.
        await waitFor(async () => !(await isDir(logDirectory(orbitdbDir, logs[2]?.dataLog as string))), 60_000, `${name} to let the log of two epochs back go`)
        for (const [i, log] of logs.entries()) {
          const kept = i === 3 // the previous epoch's log
          assert.equal(await isDir(logDirectory(orbitdbDir, log.dataLog)), kept, `${name}: the directory of log ${i} ${kept ? 'kept' : 'removed'}`)
          if (!kept) assert.equal(await held(device, log.hashes), 0, `${name}: no block of log ${i} left`)
        }
        assert.equal(await isDir(logDirectory(orbitdbDir, current)), true, `${name}: the current log's directory`)
      }
      // The laptop wrote every entry of the previous log: all of them are still here.
      assert.equal(await held(laptop, logs[3]?.hashes as string[]), logs[3]?.hashes.length)
      assert.equal(Object.keys(laptop.all()).length, 1008)
      assert.deepEqual(phone.all(), laptop.all())
      // Both reopen to the same values, and write and sync as before.
      const values = laptop.all()
      await d.stop('phone')
      await d.stop('laptop')
      const again = await d.start('laptop')
      const phoneAgain = await d.start('phone')
      assert.deepEqual(again.all(), values)
      assert.deepEqual(phoneAgain.all(), values)
      await d.connect('phone', 'laptop')
      await again.put('reopened', true)
      await waitFor(() => phoneAgain.get('reopened') === true, 30_000, 'a write after the reopen to reach the phone')
    })
  })

  describe('a reclaim cut short', () => {
    let d: Devices
    before(() => { d = new Devices() })
    after(async () => { await d.cleanup() })

    it('leaves an empty log (its heads go first), and the next reclaim frees the rest', async () => {
      const laptop = await d.create('laptop')
      // One entry per put: a log of more entries than a reclaim deletes at a time.
      for (let i = 0; i < 80; i++) await laptop.put(`k${i}`, i)
      const old = laptop.state().epoch?.dataLog as string
      const hashes = await entriesOf(laptop)
      assert.ok(hashes.length >= 80, `${hashes.length} entries`)
      await laptop.rotate()
      const values = laptop.all()
      await d.stop('laptop')
      // The log of the epoch before is kept by the device: reclaimed here by hand, the node stopped.
      const paths = accountPaths(await d.dir('laptop'))
      const blockstore = new LevelBlockstore(join(paths.node, 'blocks'))
      await blockstore.open()
      try {
        const has = async (): Promise<number> => (await Promise.all(hashes.map(async (h) => await blockstore.has(cidOf(h))))).filter(Boolean).length
        assert.equal(await has(), hashes.length)
        let asked = 0
        const first = await reclaimLog({ deleteBlock: async (cid) => { await blockstore.delete(cid) }, directory: paths.orbitdb, address: old, stopped: () => ++asked > 1 })
        assert.ok(first.entries > 0 && first.entries < hashes.length, `stopped after ${first.entries} of ${hashes.length}`)
        assert.equal(await has(), hashes.length - first.entries)
        const heads = await LevelStorage({ path: logStorePath(logDirectory(paths.orbitdb, old), '_heads') }) as unknown as { iterator: () => AsyncIterable<unknown>, close: () => Promise<void> }
        let headCount = 0
        for await (const _ of heads.iterator()) headCount++
        await heads.close()
        assert.equal(headCount, 0, 'the heads went first')
        const rest = await reclaimLog({ deleteBlock: async (cid) => { await blockstore.delete(cid) }, directory: paths.orbitdb, address: old })
        assert.ok(rest.entries >= hashes.length - first.entries)
        assert.equal(await has(), 0)
      } finally {
        await blockstore.close()
      }
      const files = await readdir(logDirectory(paths.orbitdb, old))
      assert.ok(files.includes('log'), 'the stores are emptied, the directory removed by the node layer only')
      const again = await d.start('laptop')
      assert.deepEqual(again.all(), values)
    })
  })

  describe('a blind replica through three rotations', () => {
    let d: Devices
    let replicaDir: string
    let replica: ServedReplica | undefined
    before(async () => {
      d = new Devices()
      replicaDir = await tempDir('replica')
    })
    after(async () => {
      await replica?.close()
      await d.cleanup()
      await removeDir(replicaDir)
    })

    it('keeps the log it serves and the one before; older logs\' blocks and directories are gone', async () => {
      const laptop = await d.create('laptop')
      replica = await serveReplica({ dir: replicaDir, address: laptop.address, listen: LOOPBACK })
      await laptop.syncWith(replica.addrs(), 15_000, 'registry')
      const served = await replica.ready
      const logs: Array<{ dataLog: string, hashes: string[] }> = []
      for (let r = 0; r < 3; r++) {
        for (let i = 0; i < 5; i++) await laptop.put(`k${r}/${i}`, { r, i })
        const hashes = await entriesOf(laptop)
        await waitFor(async () => await held((replica as ServedReplica).started, hashes) === hashes.length, 30_000, `the replica to hold log ${r}`)
        logs.push({ dataLog: laptop.state().epoch?.dataLog as string, hashes })
        await laptop.rotate()
        await waitFor(() => served.epoch() === r + 1, 30_000, `the replica to serve epoch ${r + 1}`)
      }
      const orbitdbDir = accountPaths(replicaDir).orbitdb
      await waitFor(async () => !(await isDir(logDirectory(orbitdbDir, logs[1]?.dataLog as string))), 30_000, 'the replica to let the log of two epochs back go')
      for (const [i, log] of logs.entries()) {
        const kept = i === 2
        assert.equal(await isDir(logDirectory(orbitdbDir, log.dataLog)), kept, `the directory of log ${i} ${kept ? 'kept' : 'removed'}`)
        assert.equal(await held(replica.started, log.hashes), kept ? log.hashes.length : 0, `blocks of log ${i}`)
      }
      // It still carries: a phone that joins now reads every key.
      const phone = await d.join('phone', 'laptop')
      await waitFor(() => Object.keys(phone.all()).length === 15, 30_000, 'the phone to read every key')
    })
  })

  describe('deleting blocks', () => {
    let d: Devices
    before(() => { d = new Devices() })
    after(async () => { await d.cleanup() })

    it('does not wait for reads under way, nor hold up the writes after it (Helia\'s delete waits for a read of a missing block while it asks peers)', async () => {
      const laptop = await d.create('laptop')
      const cidOfBytes = async (bytes: Uint8Array): Promise<CID> => CID.create(1, raw.code, await sha256.digest(bytes))
      const missing = await cidOfBytes(new TextEncoder().encode('a block nobody has'))
      const events: string[] = []
      const reading = (async () => {
        try {
          const got = laptop.node.helia.blockstore.get(missing, { signal: AbortSignal.timeout(3000) })
          if (Symbol.asyncIterator in got) for await (const _ of got) { /* drained */ } else await got
        } catch {}
        events.push('read gave up')
      })()
      await new Promise((resolve) => setTimeout(resolve, 100))
      await laptop.node.helia.blockstore.delete?.(await cidOfBytes(new TextEncoder().encode('a block of an old log')))
      events.push('deleted')
      await laptop.put('after', 1)
      events.push('put')
      await reading
      assert.deepEqual(events, ['deleted', 'put', 'read gave up'])
    })
  })
})
