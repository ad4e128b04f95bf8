/**
 * What a blind replica learns of a write's size: only its bucket. The replica stores a
 * device's writes of many sizes; reading its blockstore on disk, every data entry's
 * payload (and a rotation's snapshot) is a bucket, and a put of 1 byte, a put of 100
 * bytes, a put under a long key name and a del all have the same size.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { decode } from '@ipld/dag-cbor'
import { LevelBlockstore } from 'blockstore-level'
import { AEAD_OVERHEAD } from '../../src/crypto/aead.ts'
import { concatBytes } from '../../src/crypto/bytes.ts'
import { bucketSize, MIN_BUCKET } from '../../src/crypto/padding.ts'
import { serveReplica, type ServedReplica } from '../../src/node/replica-dir.ts'
import type { JsonValue } from '../../src/store/limits.ts'
import { Devices, LOOPBACK } from '../join/helpers.ts'
import { removeDir, tempDir, waitFor } from '../helpers/device.ts'

interface StoredEntry { id: string, payload: Uint8Array, clock: { time: number } }

/** The data entries of `logs` in the replica's blockstore on disk (read once it is closed). */
const storedEntries = async (nodeDir: string, logs: Set<string>): Promise<StoredEntry[]> => {
  const store = new LevelBlockstore(join(nodeDir, 'blocks'))
  await store.open()
  const out: StoredEntry[] = []
  try {
    for await (const { bytes } of store.getAll()) {
      // A block comes as a stream of chunks.
      const chunks: Uint8Array[] = []
      for await (const chunk of bytes) chunks.push(chunk)
      let block: unknown
      try {
        block = decode(concatBytes(...chunks))
      } catch {
        continue // not dag-cbor (a raw or dag-pb block): no log entry
      }
      const e = block as Partial<StoredEntry> | null
      if (typeof e?.id === 'string' && logs.has(e.id) && e.payload instanceof Uint8Array && typeof e.clock?.time === 'number') out.push(e as StoredEntry)
    }
  } finally {
    await store.close()
  }
  return out
}

/** Is `n` the padded size of some plaintext (the payload's size less the AEAD's own bytes)? */
const isBucket = (n: number): boolean => n >= MIN_BUCKET && bucketSize(n) === n

describe('blind replica: padded sizes', function () {
  this.timeout(120_000)
  let d: Devices
  let replica: ServedReplica | undefined
  let replicaDir: string

  beforeEach(async () => {
    d = new Devices()
    replicaDir = await tempDir('replica-pad')
  })
  afterEach(async () => {
    await replica?.close()
    replica = undefined
    await d.cleanup()
    await removeDir(replicaDir)
  })

  it('stores only bucketed sizes, and a put and a del of the same key look alike', async () => {
    const laptop = await d.create('laptop')
    replica = await serveReplica({ dir: replicaDir, address: laptop.address, listen: LOOPBACK })
    await laptop.syncWith(replica.addrs(), 15_000, 'registry')
    const served = await replica.ready
    const dataLog = laptop.state().epoch?.dataLog
    assert.ok(dataLog !== undefined)

    // In this order (one writer: the clock's time gives the order back).
    const writes: Array<[string, JsonValue | undefined]> = [
      ['k', 1],
      ['k', 'x'.repeat(98)], // 100 bytes of JSON
      ['k', undefined], // a del
      ['a-much-longer-key-name/with/several/parts/' + 'p'.repeat(60), 'y'],
      ...[150, 250, 400, 700, 1200, 3000, 9000, 30_000, 100_000].map((n): [string, JsonValue] => [`size/${n}`, 'z'.repeat(n)])
    ]
    for (const [key, value] of writes) {
      if (value === undefined) await laptop.del(key)
      else await laptop.put(key, value)
    }
    await waitFor(async () => (await served.counts()).data >= writes.length, 30_000, 'the replica to hold every write')
    // A rotation starts epoch 1 with a snapshot of the state, padded the same way.
    await laptop.rotate()
    const nextLog = laptop.state().epoch?.dataLog
    assert.ok(nextLog !== undefined && nextLog !== dataLog)
    await waitFor(async () => served.epoch() === 1 && (await served.counts()).data >= 1, 30_000, 'the replica to hold the snapshot')
    await replica.close()
    replica = undefined

    const snapshot = await storedEntries(join(replicaDir, 'node'), new Set([nextLog]))
    assert.ok(snapshot.length >= 1)
    for (const e of snapshot) assert.ok(isBucket(e.payload.length - AEAD_OVERHEAD), `a snapshot part of ${e.payload.length} bytes`)
    const entries = (await storedEntries(join(replicaDir, 'node'), new Set([dataLog]))).sort((a, b) => a.clock.time - b.clock.time)
    assert.equal(entries.length, writes.length, 'every write is in the replica\'s blockstore')
    const sizes = entries.map((e) => e.payload.length - AEAD_OVERHEAD)
    for (const [i, size] of sizes.entries()) assert.ok(isBucket(size), `write ${i} (${writes[i]?.[0]}) has a padded size of ${size}, not a bucket`)
    // A 1-byte put, a 100-byte put, a del and a put under a 103-byte key name: one size.
    assert.deepEqual(sizes.slice(0, 4), [MIN_BUCKET, MIN_BUCKET, MIN_BUCKET, MIN_BUCKET])
    // Thirteen writes of different lengths, fewer different sizes; and a size still bounds its value.
    assert.ok(new Set(sizes).size < writes.length)
    for (const [i, size] of sizes.entries()) {
      const value = writes[i]?.[1]
      if (typeof value === 'string') assert.ok(size >= value.length)
    }
  })
})
