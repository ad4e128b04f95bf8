/**
 * A device fetching a log walks it from its heads, a level of names at a time (each
 * entry names its `next` and 16 earlier entries), a round trip each. A snapshot's last
 * part names every earlier part (src/rotation/rotate.ts, SNAPSHOT_REFERENCES), so a
 * device asks for them all at once, not 17 a round trip.
 */
import assert from 'node:assert/strict'
import { Entry, IPFSBlockStorage, type LogEntry } from '../../src/orbit/orbitdb.ts'
import { Devices } from '../join/helpers.ts'
import { waitFor } from '../helpers/device.ts'

const KEYS = 5000

describe('a snapshot\'s parts, named by its last part', function () {
  this.timeout(180_000)
  let d: Devices
  beforeEach(() => { d = new Devices() })
  afterEach(async () => { await d.cleanup() })

  it('names every earlier part in the last one: all are reached within two levels of the head', async () => {
    const laptop = await d.create('laptop')
    const entries: Record<string, { i: number, note: string }> = {}
    for (let i = 0; i < KEYS; i++) entries[`item/${String(i).padStart(5, '0')}`] = { i, note: `value ${i} `.repeat(100) }
    await laptop.putMany(entries)
    let parts = 0
    await laptop.rotate({ onProgress: (p) => { if (p.phase === 'snapshot') parts = p.total } })
    // More parts than an entry names by default (next and 16 refs).
    assert.ok(parts > 20, `a snapshot of many parts (${parts})`)

    const storage = await IPFSBlockStorage({ ipfs: laptop.node.helia, pin: false })
    try {
      const read = async (hash: string): Promise<LogEntry> => {
        const bytes = await storage.get(hash)
        if (bytes === undefined) throw new Error(`entry ${hash} is not local`)
        return await Entry.decode(bytes)
      }
      const heads = (await laptop.heads()).dataHeads
      assert.equal(heads.length, 1)
      const last = await read(heads[0] as string)
      const named = new Set([...last.next, ...last.refs])
      // OrbitDB's references leave out the entry right after `next` (`next` names it).
      assert.ok(named.size >= parts - 2, `the last part names ${named.size} of the ${parts - 1} parts before it`)
      const reached = new Set(named)
      for (const hash of named) for (const parent of [...(await read(hash)).next]) reached.add(parent)
      assert.equal(reached.size, parts - 1, 'every earlier part within two levels')
    } finally {
      await storage.close?.()
    }
    // A device joining now reads every key from those parts.
    const phone = await d.join('phone', 'laptop')
    await waitFor(() => Object.keys(phone.all()).length === KEYS, 120_000, 'every key on the phone')
    assert.deepEqual(phone.all(), laptop.all())
  })
})
