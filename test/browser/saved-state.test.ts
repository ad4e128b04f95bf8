/**
 * The web app in real Chromium keeps its state as a Node device does
 * (src/browser/state-idb.ts): after a reload it opens from the checkpoint it saved, not by
 * replaying its log; what it saved is sealed (no value shows in the stored bytes); a
 * damaged checkpoint costs a replay, never data.
 */
import assert from 'node:assert/strict'
import type { Page } from 'playwright-core'
import { waitFor } from '../helpers/device.ts'
import { joinByPaste, webRig } from './helpers.ts'

const STATE_DB = 'orbit-account/state'
const KEYS = 200
const MARKER = 'saved-state-marker-value'

/** The records of the page's state database: each name, and its stored bytes as Latin-1 text (what a copy of the profile shows). */
const stateRecords = async (page: Page): Promise<Array<{ name: string, text: string }>> => await page.evaluate(async (name) => {
  if (!(await indexedDB.databases()).some((d) => d.name === name)) return []
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const req = indexedDB.open(name)
    req.onsuccess = () => { resolve(req.result) }
    req.onerror = () => { reject(req.error) }
  })
  try {
    const store = db.transaction('blobs', 'readonly').objectStore('blobs')
    const [keys, values] = await Promise.all([store.getAllKeys(), store.getAll()].map(async (req) => await new Promise<unknown[]>((resolve, reject) => {
      req.onsuccess = () => { resolve(req.result as unknown[]) }
      req.onerror = () => { reject(req.error) }
    })))
    const latin1 = new TextDecoder('latin1')
    const text = (v: unknown): string => Object.values(v as Record<string, unknown>)
      .map((x) => x instanceof ArrayBuffer || x instanceof Uint8Array ? latin1.decode(x) : '')
      .join('')
    return (keys ?? []).map((k, i) => ({ name: String(k), text: text(values?.[i]) }))
  } finally {
    db.close()
  }
}, STATE_DB)

/** Flips one byte in the middle of the sealed tail of the checkpoint record `name`. */
const damageTail = async (page: Page, name: string): Promise<void> => { await page.evaluate(async ({ db: dbName, key }) => {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const req = indexedDB.open(dbName)
    req.onsuccess = () => { resolve(req.result) }
    req.onerror = () => { reject(req.error) }
  })
  try {
    const tx = db.transaction('blobs', 'readwrite')
    const store = tx.objectStore('blobs')
    const record = await new Promise<{ tail: ArrayBuffer }>((resolve, reject) => {
      const req = store.get(key)
      req.onsuccess = () => { resolve(req.result as { tail: ArrayBuffer }) }
      req.onerror = () => { reject(req.error) }
    })
    const tail = new Uint8Array(record.tail.slice(0))
    const at = tail.length >> 1
    tail[at] = (tail[at] ?? 0) ^ 0xff
    store.put({ ...record, tail: tail.buffer }, key)
    await new Promise<void>((resolve, reject) => { tx.oncomplete = () => { resolve() }; tx.onerror = () => { reject(tx.error) } })
  } finally {
    db.close()
  }
}, { db: STATE_DB, key: name }) }

describe('web app: opens from the state it saved (real Chromium)', function () {
  this.timeout(240_000)
  const rig = webRig('web-state')

  it('reopens from its sealed checkpoint, and replays its log when that checkpoint is damaged, showing every value both times', async () => {
    const { browser, web, laptop } = rig
    const entries: Record<string, string | number> = { 'notes/secret': MARKER }
    for (let i = 0; i < KEYS; i++) entries[`item/${String(i).padStart(4, '0')}`] = i
    await laptop.putMany(entries)
    const invite = await laptop.invite({ ttlMs: 120_000, role: 'member' })
    const context = await browser.newContext()
    try {
      const page = await context.newPage()
      await joinByPaste(page, web.url, invite.text)
      const shown = page.getByRole('region', { name: 'Entries' })
      await shown.getByRole('cell', { name: 'item/0199', exact: true }).waitFor({ timeout: 30_000 })
      await invite.admitted
      // A joined page opened nothing saved.
      assert.match(await page.getByTestId('opened').innerText(), /^Opened by reading/)

      // The timed checkpoint (2 s after the last change) and the registry's state land in IndexedDB, sealed.
      const logName = `log-${(laptop.state().epoch?.dataLog as string).split('/').pop() as string}`
      await waitFor(async () => (await stateRecords(page)).some((r) => r.name === logName), 60_000, `the page's checkpoint ${logName}`)
      const records = await stateRecords(page)
      assert.ok(records.some((r) => r.name === 'registry'), `the registry's state is saved too: ${records.map((r) => r.name).join(', ')}`)
      for (const r of records) assert.ok(!r.text.includes(MARKER) && !r.text.includes('item/0199'), `${r.name} holds no value or key in the clear`)

      await page.reload()
      await page.getByRole('heading', { name: 'Account' }).waitFor({ timeout: 60_000 })
      assert.match(await page.getByTestId('opened').innerText(), /^Opened from its saved state/)
      await shown.getByRole('cell', { name: JSON.stringify(MARKER) }).waitFor({ timeout: 30_000 })
      await shown.getByRole('cell', { name: 'item/0000', exact: true }).waitFor({ timeout: 30_000 })

      // A byte of the saved values changed (a damaged disk, a meddler): the page opens by its log, with every value.
      // Damaged from a page of the same origin that runs no app (the app's script shown as text), once the
      // app's page is gone: nothing writes the record meanwhile.
      await page.goto(new URL('/app.js', web.url).toString())
      await damageTail(page, logName)
      await page.close()
      const page2 = await context.newPage()
      await page2.goto(web.url)
      await page2.getByRole('heading', { name: 'Account' }).waitFor({ timeout: 60_000 })
      assert.match(await page2.getByTestId('opened').innerText(), /^Opened by reading/)
      const shown2 = page2.getByRole('region', { name: 'Entries' })
      await shown2.getByRole('cell', { name: JSON.stringify(MARKER) }).waitFor({ timeout: 30_000 })
      assert.equal(await shown2.getByRole('cell', { name: /^item\/\d{4}$/ }).count(), KEYS)
    } finally {
      await context.close()
    }
  })
})
