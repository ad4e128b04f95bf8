/**
 * The data logs a device has left are deleted from its disk (src/node/retired-logs.ts):
 * before, every compaction or revocation left a whole log's entries in the blockstore and
 * its index under orbitdb/ for good.
 */
import assert from 'node:assert/strict'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { base58btc } from 'multiformats/bases/base58'
import type { NodeAccount } from '../../src/node/account-dir.ts'
import { Devices } from '../join/helpers.ts'
import { waitFor } from '../helpers/device.ts'
import { localEntries } from '../helpers/log-entries.ts'

const cidOf = (hash: string): CID => CID.parse(hash, base58btc)
const exists = async (path: string): Promise<boolean> => await stat(path).then(() => true, () => false)

/** Every entry of `account`'s current data log. */
const entriesOf = async (account: NodeAccount): Promise<string[]> =>
  (await localEntries(account.node.helia, (await account.heads()).dataHeads)).map((e) => e.hash)

describe('the data logs a device has left', function () {
  this.timeout(120_000)
  const d = new Devices()
  after(async () => { await d.cleanup() })

  it('are deleted after a move, entries and stores; what the device reads stays, after a restart too', async () => {
    const laptop = await d.create('laptop')
    const phone = await d.join('phone', 'laptop')
    for (let i = 0; i < 20; i++) await laptop.put(`k${i}`, i)
    await waitFor(() => phone.get('k19') === 19, 20_000, 'the phone to read every key')
    const logs = [laptop, phone].map((a) => ({ a, log: a.state().epoch?.dataLog as string }))
    const before = await Promise.all(logs.map(async ({ a }) => await entriesOf(a)))
    for (const [i, { a, log }] of logs.entries()) {
      assert.ok((before[i] as string[]).length >= 20)
      assert.ok(await exists(join(a.paths.orbitdb, log)), 'the log has its stores')
    }

    await laptop.rotate()
    for (const [i, { a, log }] of logs.entries()) {
      await waitFor(() => a.info().epoch === 1, 20_000, `${a.info().name} in the new epoch`)
      await waitFor(async () => !(await exists(join(a.paths.orbitdb, log))), 20_000, `${a.info().name} to delete the old log's stores`)
      for (const hash of before[i] as string[]) assert.equal(await a.node.helia.blockstore.has(cidOf(hash)), false, `${a.info().name} still holds entry ${hash}`)
      // The new log's entries are all there, and so is every value.
      for (const hash of await entriesOf(a)) assert.equal(await a.node.helia.blockstore.has(cidOf(hash)), true)
      for (let k = 0; k < 20; k++) assert.equal(a.get(`k${k}`), k)
    }

    await d.stop('phone')
    const again = await d.start('phone')
    for (let k = 0; k < 20; k++) assert.equal(again.get(`k${k}`), k)
    await laptop.put('after', 'restart')
    await d.connect('phone', 'laptop')
    await waitFor(() => again.get('after') === 'restart', 20_000, 'the phone to read a write after the restart')
  })
})
