/**
 * The web app in real Chromium, through three rotations made by a laptop: the page
 * remembers the log it moved to (its config names it), and keeps the IndexedDB stores
 * and blocks of the current and the previous log only; older logs' go
 * (src/account/retired-logs.ts, src/browser/log-stores.ts). After a reload it shows
 * every value.
 */
import assert from 'node:assert/strict'
import type { Page } from 'playwright-core'
import { CID } from 'multiformats/cid'
import { base58btc } from 'multiformats/bases/base58'
import { base32upper } from 'multiformats/bases/base32'
import { waitFor } from '../helpers/device.ts'
import { localEntries } from '../helpers/log-entries.ts'
import { appDatabases, joinByPaste, webRig } from './helpers.ts'

/** The page's blockstore (src/browser/node.ts): one IndexedDB database and object store of this name. */
const BLOCKS = 'orbit-account/blocks'

/** The key blockstore-idb keeps a block under. */
const blockKey = (hash: string): string => `/${base32upper.encoder.encode(CID.parse(hash, base58btc).multihash.bytes)}`

/** How many of `hashes` the page's blockstore holds. */
const pageHolds = async (page: Page, hashes: string[]): Promise<number> => await page.evaluate(async ({ keys, name }) => {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const req = indexedDB.open(name)
    req.onsuccess = () => { resolve(req.result) }
    req.onerror = () => { reject(req.error) }
  })
  try {
    const store = db.transaction(name, 'readonly').objectStore(name)
    const found = await Promise.all(keys.map(async (key) => await new Promise<boolean>((resolve, reject) => {
      const req = store.getKey(key)
      req.onsuccess = () => { resolve(req.result !== undefined) }
      req.onerror = () => { reject(req.error) }
    })))
    return found.filter(Boolean).length
  } finally {
    db.close()
  }
}, { keys: hashes.map(blockKey), name: BLOCKS })

/** The data log the page's stored config names. */
const pageDataLog = async (page: Page): Promise<string | undefined> => await page.evaluate(async () => {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const req = indexedDB.open('orbit-account/device')
    req.onsuccess = () => { resolve(req.result) }
    req.onerror = () => { reject(req.error) }
  })
  try {
    return await new Promise<string | undefined>((resolve, reject) => {
      const req = db.transaction('kv', 'readonly').objectStore('kv').get('config')
      req.onsuccess = () => { resolve((req.result as { dataLog?: string } | undefined)?.dataLog) }
      req.onerror = () => { reject(req.error) }
    })
  } finally {
    db.close()
  }
})

describe('web app: the logs of old epochs leave IndexedDB (real Chromium)', function () {
  this.timeout(240_000)
  const rig = webRig('web-retired')

  it('keeps the current and the previous log\'s stores and blocks, not older ones\', and shows every value after a reload', async () => {
    const { browser, web, laptop } = rig
    await laptop.put('settings/theme', 'dark')
    const invite = await laptop.invite({ ttlMs: 120_000, role: 'member' })
    const context = await browser.newContext()
    try {
      const page = await context.newPage()
      await joinByPaste(page, web.url, invite.text)
      const entries = page.getByRole('region', { name: 'Entries' })
      await entries.getByRole('cell', { name: '"dark"' }).waitFor({ timeout: 20_000 })
      await invite.admitted
      const logs: Array<{ address: string, hashes: string[] }> = []
      const current = async (): Promise<{ address: string, hashes: string[] }> => ({
        address: laptop.state().epoch?.dataLog as string,
        hashes: (await localEntries(laptop.node.helia, (await laptop.heads()).dataHeads)).map((e) => e.hash)
      })
      for (let r = 0; r < 3; r++) {
        logs.push(await current())
        await laptop.rotate()
        await laptop.put(`after/${r}`, r)
        const moved = laptop.state().epoch?.dataLog as string
        await entries.getByRole('cell', { name: `after/${r}`, exact: true }).waitFor({ timeout: 30_000 })
        await waitFor(async () => await pageDataLog(page) === moved, 30_000, `the page to remember the log of rotation ${r} (${moved}; it names ${await pageDataLog(page)})`)
      }
      logs.push(await current())
      // The page held blocks of every log it was in.
      const name = (address: string): string => address.split('/').pop() as string
      await waitFor(async () => !(await appDatabases(page)).some((d) => d.includes(name(logs[1]?.address as string))), 60_000, 'the page to let the log of two epochs back go')
      const databases = await appDatabases(page)
      for (const [i, log] of logs.entries()) {
        const kept = i >= 2
        assert.equal(databases.some((d) => d.includes(name(log.address))), kept, `log ${i}'s stores ${kept ? 'kept' : 'gone'}: ${databases.join(', ')}`)
        const held = await pageHolds(page, log.hashes)
        if (kept) assert.ok(held > 0, `the page holds blocks of log ${i}`)
        else assert.equal(held, 0, `no block of log ${i} left in the page`)
      }
      await page.reload()
      await page.getByRole('heading', { name: 'Account' }).waitFor({ timeout: 60_000 })
      for (const key of ['settings/theme', 'after/0', 'after/1', 'after/2']) await entries.getByRole('cell', { name: key, exact: true }).waitFor({ timeout: 30_000 })
    } finally {
      await context.close()
    }
  })
})
