/**
 * The persisted state (issue #16): a data log's checkpoint is what a replay of the log
 * gives, an open after a clean close applies no log entry, a damaged or foreign
 * checkpoint is replayed over, and a writer killed at random moments (mid-checkpoint
 * too) reopens to the state a replay gives, with every acknowledged write.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { cp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { openAccount, type NodeAccount } from '../../src/node/account-dir.ts'
import { accountPaths } from '../../src/node/paths.ts'
import { stateFiles } from '../../src/node/state-files.ts'
import { decodeCheckpoint, encodeCheckpoint, encodeCheckpointPaused, ledgerOf, type KvCheckpoint } from '../../src/store/checkpoint.ts'
import { KvState } from '../../src/store/kv-state.ts'
import { DEFAULT_QUOTAS } from '../../src/store/quota.ts'
import { ITEMS_PER_STEP } from '../../src/store/steps.ts'
import type { DataOp } from '../../src/store/codec.ts'
import { checkpointName, stateKey, type SplitBlob } from '../../src/store/state-store.ts'
import { allBytes, memorySource } from '../../src/store/byte-source.ts'
import { decodeKeystore } from '../../identity/keystore.ts'
import { readKeystoreFile } from '../../identity/keystore-fs.ts'
import { CorruptStateError } from '../../src/errors.ts'
import { valueOf } from '../../src/store/kv-index.ts'
import type { LedgerDump } from '../../src/store/quota.ts'
import { removeDir, tempDir, waitFor } from '../helpers/device.ts'
import { prng } from '../helpers/random.ts'
import { Devices } from '../join/helpers.ts'

/** The checkpoint of `dir`'s current data log, opened with its device's key. */
const checkpointOf = async (dir: string, account: string, dataLog: string): Promise<KvCheckpoint> => {
  const paths = accountPaths(dir)
  const secrets = await decodeKeystore(await readKeystoreFile(paths.keystore))
  const parts = await stateFiles(paths.state, stateKey(secrets.box.secretKey, account)).readSplit(checkpointName(dataLog))
  assert.ok(parts !== undefined, `${dir} has a checkpoint of ${dataLog}`)
  // Read whole now: the file is let go of at once.
  const c = decodeCheckpoint({ head: parts.head, tail: memorySource(allBytes(parts.tail)) })
  parts.tail.close()
  return c
}

/** A checkpoint with every list in one order: two that hold the same state compare equal. */
const normal = (c: KvCheckpoint): unknown => ({
  epoch: c.epoch,
  seen: [...c.seen].sort(),
  skipped: c.skipped,
  writes: c.writes,
  snapshotOf: c.snapshotOf,
  snapshotParts: [...c.snapshotParts].sort(),
  unsettled: [...c.unsettled].sort(),
  slots: [...c.state.slots].sort((a, b) => a.key < b.key ? -1 : 1).map((r) => ({ ...r, value: valueOf(r.value) })),
  ledgers: c.state.ledgers.map(([signer, l]): [string, LedgerDump] => [signer, ledgerOf(l)]).sort((a, b) => a[0] < b[0] ? -1 : 1),
  ignored: c.state.ignored,
  ranks: [...c.ranks].sort((a, b) => a[0] < b[0] ? -1 : 1)
})

/** Opens a copy of `dir` without its state (a replay of the logs), closes it, and returns its checkpoint. */
const rebuilt = async (dir: string, account: string, dataLog: string): Promise<{ checkpoint: KvCheckpoint, values: Record<string, unknown>, applied: number }> => {
  const copy = await tempDir('rebuilt')
  try {
    await cp(dir, copy, { recursive: true })
    await rm(accountPaths(copy).state, { recursive: true, force: true })
    await rm(accountPaths(copy).lock, { force: true })
    await rm(accountPaths(copy).socket, { force: true })
    const a = await openAccount({ dir: copy })
    const values = a.all()
    const { applied, fromCheckpoint } = a.openStats()
    assert.equal(fromCheckpoint, false)
    await a.close()
    return { checkpoint: await checkpointOf(copy, account, dataLog), values, applied }
  } finally {
    await removeDir(copy)
  }
}

describe('persisted state: checkpoints', function () {
  this.timeout(180_000)

  it('a checkpoint reads back as written, and damaged bytes are a typed error', () => {
    const c: KvCheckpoint = {
      epoch: 2,
      heads: ['zh1'],
      seen: ['zh1', 'zh0'],
      skipped: 1,
      writes: 2,
      snapshotOf: 3,
      snapshotParts: [0, 2],
      unsettled: ['k'],
      clean: true,
      state: {
        slots: [
          { key: 'a', value: { x: [1, null, 'é'] }, stamp: { epoch: 2, time: 5, id: 'idA', hash: 'zh1' } },
          { key: 'gone', value: undefined, stamp: { epoch: 1, time: 3, id: 'idB', hash: 'zold' } },
          { key: 'n', value: null, stamp: { epoch: 2, time: 4, id: 'idA', hash: 'zh0' } }
        ],
        ledgers: [['idA', {
          ops: [{ time: 5, hash: 'zh1', writes: [{ key: 'a', cost: 300, live: true, ref: { hash: 'zh1', index: -1 }, stamp: { epoch: 2, time: 5, id: 'idA', hash: 'zh1' } }] }],
          cutoff: { time: 9, hash: 'zh9', writes: [], weight: 3, atomic: true },
          base: [{ key: 'gone', cost: 260, live: false, ref: { hash: 'zsnap', index: 4 }, stamp: { epoch: 1, time: 3, id: 'idB', hash: 'zold' } }],
          best: [[0, 0], [-1, 0]],
          usage: { writes: 1, keys: 1, bytes: 560 }
        }]],
        ignored: 7
      },
      ranks: [['idA', [{ time: 4, hash: 'zh0' }, { time: 5, hash: 'zh1' }]]]
    }
    const read = ({ head, tail }: SplitBlob): KvCheckpoint => decodeCheckpoint({ head, tail: memorySource(tail) })
    const back = read(encodeCheckpoint(c))
    assert.deepEqual(normal(back), normal(c))
    assert.deepEqual([back.heads, back.clean], [c.heads, c.clean])
    // Written again as read (its values not parsed, its ledgers sealed), it is the same checkpoint.
    assert.deepEqual(normal(read(encodeCheckpoint(back))), normal(c))
    const { head, tail } = encodeCheckpoint(c)
    assert.throws(() => read({ head: head.subarray(0, head.length - 3), tail }), CorruptStateError)
    assert.throws(() => read({ head, tail: tail.subarray(0, tail.length - 3) }), CorruptStateError)
    assert.throws(() => read({ head: new TextEncoder().encode('{"v":99}'), tail }), CorruptStateError)
  })

  it('encoded in steps, a checkpoint is the same bytes; timers run between the steps; writes meanwhile do not get in', async () => {
    const state = new KvState({ epoch: 1, quotas: DEFAULT_QUOTAS, starter: undefined })
    let n = 0
    const apply = (signer: string, op: DataOp): void => { state.apply({ hash: `zh${n}`, signer, clock: { id: signer, time: ++n } }, op) }
    for (let i = 0; i < 3 * ITEMS_PER_STEP + 17; i++) apply(i % 3 === 0 ? 'A' : 'B', { op: 'put', key: `k${(i * 7919) % 9000}`, value: { i, s: 'é'.repeat(i % 5) } })
    apply('A', { op: 'del', key: 'k0' })
    const c: KvCheckpoint = { epoch: 1, heads: [`zh${n - 1}`], seen: [], skipped: 0, writes: n, snapshotOf: undefined, snapshotParts: [], unsettled: [], clean: false, state: state.dump(), ranks: [] }
    const before = encodeCheckpoint(c)
    let ticks = 0
    const ticking = setInterval(() => {
      ticks++
      // Writes while it encodes: new keys, overwrites and ops in both ledgers.
      apply(ticks % 2 === 0 ? 'A' : 'B', { op: 'put', key: ticks % 3 === 0 ? 'k1' : `new${ticks}`, value: ticks })
    }, 0)
    let paused: SplitBlob
    try {
      paused = await encodeCheckpointPaused(c)
    } finally {
      clearInterval(ticking)
    }
    assert.ok(ticks > 0, 'timers ran while it was encoded')
    assert.ok(state.index.get('new1') !== undefined || state.index.get('new2') !== undefined, 'the writes meanwhile were applied')
    assert.deepEqual(paused.head, before.head)
    assert.deepEqual(paused.tail, before.tail)
    const back = decodeCheckpoint({ head: paused.head, tail: memorySource(paused.tail) })
    assert.equal([...back.state.slots].length, [...c.state.slots].length)
    assert.deepEqual(normal(back), normal(c))
  })

  it('a state that applied a snapshot keeps its writers\' records through a checkpoint, and judges later writes alike', () => {
    const options = { epoch: 2, quotas: DEFAULT_QUOTAS, starter: 'S' }
    const state = new KvState(options)
    const records = Array.from({ length: 50 }, (_, i) => ({ k: `k${i}`, ...(i % 7 === 3 ? {} : { v: { i } }), s: [1, 10 + i, i % 2 === 0 ? 'A' : 'B', `zh-old${i % 5}`] as [number, number, string, string] }))
    state.apply({ hash: 'zs0', signer: 'S', clock: { id: 'S', time: 1 } }, { op: 'snapshot', part: 0, of: 1, records })
    // A's ledger gets an op of its own; B's holds the snapshot's records only.
    state.apply({ hash: 'zp1', signer: 'A', clock: { id: 'A', time: 2 } }, { op: 'put', key: 'k0', value: 'later' })
    const c: KvCheckpoint = { epoch: 2, heads: ['zp1'], seen: [], skipped: 0, writes: 1, snapshotOf: 1, snapshotParts: [0], unsettled: [], clean: true, state: state.dump(), ranks: [] }
    const { head, tail } = encodeCheckpoint(c)
    const back = decodeCheckpoint({ head, tail: memorySource(tail) })
    assert.deepEqual(normal(back), normal(c))
    const restored = KvState.restore(options, back.state)
    for (const signer of ['A', 'B']) assert.deepEqual(restored.usage(signer), state.usage(signer), signer)
    // The same writes on both: B overwrites and deletes keys of its snapshot records, A deletes one of B's.
    const later: Array<[string, number, DataOp]> = [['B', 3, { op: 'put', key: 'k1', value: 'b' }], ['B', 4, { op: 'del', key: 'k5' }], ['A', 5, { op: 'del', key: 'k9' }]]
    for (const [signer, time, op] of later) {
      const meta = { hash: `zl${time}`, signer, clock: { id: signer, time } }
      assert.deepEqual(restored.apply(meta, op), state.apply(meta, op))
    }
    for (const signer of ['A', 'B']) assert.deepEqual(restored.usage(signer), state.usage(signer), signer)
    assert.deepEqual(restored.index.entries(), state.index.entries())
    assert.deepEqual(state.index.get('k1'), 'b')
  })

  it('the first write of a process removes the temporary files a killed writer left, and nothing else', async () => {
    const dir = await tempDir('state-files')
    try {
      const key = new Uint8Array(32).fill(5)
      const first = stateFiles(dir, key)
      await first.write('registry', new Uint8Array([1, 2, 3]))
      // A writer killed mid-write: its temporary files stay, beside the files it had written.
      await writeFile(join(dir, 'registry.bin.tmp'), 'half a file')
      await writeFile(join(dir, 'cp-x.bin.tmp'), 'half a checkpoint')
      await writeFile(join(dir, 'notes.txt'), 'not ours')
      const next = stateFiles(dir, key)
      assert.deepEqual(await next.read('registry'), new Uint8Array([1, 2, 3]), 'a read removes nothing')
      assert.deepEqual((await readdir(dir)).sort(), ['cp-x.bin.tmp', 'notes.txt', 'registry.bin', 'registry.bin.tmp'])
      await next.write('other', new Uint8Array([4]))
      assert.deepEqual((await readdir(dir)).sort(), ['notes.txt', 'other.bin', 'registry.bin'])
      assert.deepEqual(await next.read('registry'), new Uint8Array([1, 2, 3]))
    } finally {
      await removeDir(dir)
    }
  })

  describe('two devices', () => {
    let d: Devices
    let laptop: NodeAccount
    let address: string
    let dataLog: string

    before(async () => {
      d = new Devices()
      laptop = await d.create('laptop')
      const phone = await d.join('phone', 'laptop')
      address = laptop.address
      dataLog = laptop.state().epoch?.dataLog as string
      // Puts, overwrites and deletes from both devices.
      for (let i = 0; i < 40; i++) await laptop.put(`k${i % 15}`, { i, by: 'laptop' })
      for (let i = 0; i < 30; i++) await phone.put(`k${i % 20}`, { i, by: 'phone' })
      // Batches (their ops have a weight and count together): one from each device.
      await phone.putMany(Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`b${i}`, { i, by: 'phone' }])))
      await laptop.batch([{ op: 'put', key: 'c1', value: 'laptop' }, { op: 'put', key: 'c2', value: 'laptop' }])
      // The dels come after both devices have seen every put: a del made before the laptop
      // received the phone's later put of k3 would lose to it (last writer by time), as it should.
      await waitFor(() => JSON.stringify(laptop.all()) === JSON.stringify(phone.all()), 30_000, 'the two devices to converge before the dels')
      await laptop.del('k3')
      await phone.del('k17')
      await waitFor(() => JSON.stringify(laptop.all()) === JSON.stringify(phone.all()), 30_000, 'the two devices to converge')
      await d.stop('phone')
      await d.stop('laptop')
    })
    after(async () => { await d.cleanup() })

    it('holds what a replay of the log gives, and a reopen applies no log entry', async () => {
      const dir = await d.dir('laptop')
      const mine = await checkpointOf(dir, address, dataLog)
      assert.equal(mine.clean, true)
      const replay = await rebuilt(dir, address, dataLog)
      assert.ok(replay.applied > 70, `the replay applied the whole log (${replay.applied} entries)`)
      assert.deepEqual(normal(mine), normal(replay.checkpoint))
      const again = await d.start('laptop')
      try {
        assert.deepEqual(again.openStats(), { fromCheckpoint: true, applied: 0 })
        assert.deepEqual(again.all(), replay.values)
        assert.equal(again.get('k3'), undefined)
        assert.equal(Object.keys(again.all()).length, 18 + 40 + 2)
        assert.equal(again.get('c1'), 'laptop')
      } finally {
        await d.stop('laptop')
      }
    })

    it('a damaged checkpoint, or one sealed for another device, is replayed over', async () => {
      const dir = await d.dir('laptop')
      const file = join(accountPaths(dir).state, `${checkpointName(dataLog)}.bin`)
      const good = await readFile(file)
      const expected = (await rebuilt(dir, address, dataLog)).values
      const flipped = (at: number): Buffer => {
        const bytes = Buffer.from(good)
        bytes.writeUInt8((bytes.at(at) as number) ^ 0xff, at < 0 ? bytes.length + at : at)
        return bytes
      }
      // Its head (read at open) damaged: the open replays the log.
      await writeFile(file, flipped(60))
      let a = await d.start('laptop')
      assert.equal(a.openStats().fromCheckpoint, false)
      assert.ok(a.openStats().applied > 70)
      assert.deepEqual(a.all(), expected)
      await d.stop('laptop')
      // Its tail (the values, read when asked for) damaged: the read that meets it fails
      // with a typed error, never a wrong value, and the state is built again from the log.
      await writeFile(file, flipped(-10))
      a = await d.start('laptop')
      assert.equal(a.openStats().fromCheckpoint, true)
      assert.throws(() => a.all(), CorruptStateError)
      const current = a
      await waitFor(() => { try { return JSON.stringify(current.all()) === JSON.stringify(expected) } catch { return false } }, 30_000, 'the state built again from the log')
      await d.stop('laptop')
      // The close wrote a whole checkpoint again.
      a = await d.start('laptop')
      assert.deepEqual(a.openStats(), { fromCheckpoint: true, applied: 0 })
      assert.deepEqual(a.all(), expected)
      await d.stop('laptop')
      // The phone's checkpoint of the same log, put in the laptop's place: it does not open with the laptop's key.
      await writeFile(file, await readFile(join(accountPaths(await d.dir('phone')).state, `${checkpointName(dataLog)}.bin`)))
      a = await d.start('laptop')
      assert.equal(a.openStats().fromCheckpoint, false)
      assert.deepEqual(a.all(), expected)
      await d.stop('laptop')
      const files = await readdir(accountPaths(dir).state)
      assert.ok(files.every((f) => !f.endsWith('.tmp')), `no temporary file left: ${files.join(', ')}`)
    })
  })

  describe('a rotation', () => {
    let d: Devices
    after(async () => { await d.cleanup() })

    it('leaves one checkpoint, of the new log, which the next open reads whole', async () => {
      d = new Devices()
      const laptop = await d.create('laptop')
      await laptop.putMany(Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, { i }])))
      for (let i = 0; i < 20; i++) await laptop.put(`k${i}`, { i, again: true })
      const old = laptop.state().epoch?.dataLog as string
      await laptop.rotate()
      const current = laptop.state().epoch?.dataLog as string
      assert.notEqual(current, old)
      const values = laptop.all()
      await d.stop('laptop')
      const files = (await readdir(accountPaths(await d.dir('laptop')).state)).filter((f) => f.startsWith('log-')).sort()
      assert.deepEqual(files, [`${checkpointName(current)}.bin`])
      // The next open starts on the new log (on the old one, whose checkpoint is gone, it replayed it whole first).
      const config = JSON.parse(await readFile(accountPaths(await d.dir('laptop')).config, 'utf8')) as { dataLog?: string }
      assert.equal(config.dataLog, current)
      const again = await d.start('laptop')
      assert.deepEqual(again.openStats(), { fromCheckpoint: true, applied: 0 })
      assert.deepEqual(again.all(), values)
      await d.stop('laptop')
    })
  })

  describe('a writer killed at random moments', () => {
    const rand = prng(Number(process.env.ORBIT_CRASH_SEED ?? 1601))
    let d: Devices
    before(async () => {
      d = new Devices()
      await d.create('laptop')
      await d.stop('laptop')
    })
    after(async () => { await d.cleanup() })

    it('reopens to what a replay gives, with every acknowledged write', async () => {
      const dir = await d.dir('laptop')
      const script = join(dir, '..', `writer-${process.pid}.ts`)
      await writeFile(script, `
        import { openAccount } from ${JSON.stringify(new URL('../../src/node/account-dir.ts', import.meta.url).pathname)}
        const a = await openAccount({ dir: process.argv[2] })
        const round = process.argv[3]
        for (let i = 0; ; i++) {
          await a.put('k' + (i % 300), { round, i, pad: 'x'.repeat(200) })
          if (i % 7 === 0) await a.del('k' + ((i * 13) % 300))
          process.stdout.write('ok ' + round + ' ' + i + '\\n')
          // A pause now and then: the checkpoint is taken once the log is quiet, and a kill may land in it.
          if (i % 60 === 59) await new Promise((resolve) => setTimeout(resolve, 2100 + (i % 7) * 50))
        }
      `)
      try {
        let before: Record<string, unknown> = {}
        for (let round = 0; round < 3; round++) {
          const acked: number[] = []
          const child = spawn(process.execPath, [script, dir, String(round)], { stdio: ['ignore', 'pipe', 'inherit'] })
          child.stdout.setEncoding('utf8')
          let buf = ''
          child.stdout.on('data', (s: string) => {
            buf += s
            const lines = buf.split('\n')
            buf = lines.pop() ?? ''
            for (const l of lines) if (l.startsWith('ok ')) acked.push(Number(l.split(' ')[2]))
          })
          // Past the first checkpoint (2 s after the first write), at a moment drawn at random.
          await waitFor(() => acked.length > 0, 60_000, 'the writer to start writing')
          await new Promise((resolve) => setTimeout(resolve, 1500 + Math.floor(rand() * 4000)))
          const exited = new Promise((resolve) => child.once('exit', resolve))
          child.kill('SIGKILL')
          await exited
          await rm(accountPaths(dir).lock, { force: true })
          const last = acked.at(-1) as number
          const a = await openAccount({ dir })
          const dataLog = a.state().epoch?.dataLog as string
          const values = a.all()
          // Every acknowledged write is there, on top of what the round before left; only the
          // keys the next, unacknowledged iteration touches may differ (it may have landed).
          const expected: Record<string, unknown> = { ...before }
          for (let i = 0; i <= last; i++) {
            expected[`k${i % 300}`] = { round: String(round), i, pad: 'x'.repeat(200) }
            if (i % 7 === 0) delete expected[`k${(i * 13) % 300}`]
          }
          const next = last + 1
          for (const key of [`k${next % 300}`, `k${(next * 13) % 300}`]) {
            delete expected[key]
            delete values[key]
          }
          assert.deepEqual(values, expected)
          const all = a.all()
          await a.close()
          const replay = await rebuilt(dir, a.address, dataLog)
          assert.deepEqual(all, replay.values)
          before = all
          assert.deepEqual(normal(await checkpointOf(dir, a.address, dataLog)), normal(replay.checkpoint))
        }
      } finally {
        await rm(script, { force: true })
      }
    })
  })
})
