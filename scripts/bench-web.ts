/**
 * `node scripts/bench-web.ts [--keys 1000] [--later 0] [--reps 3]`: the web app's figures for
 * docs/BENCH.md. The bundle (minified, and gzipped as a static host serves it), then, in
 * real Chromium against a laptop on loopback (WebSockets) holding `--keys` entries:
 * page load to synced (a fresh profile opens the page, joins with a pasted invite, and
 * shows every entry) and reload to shown (the joined page reloaded once its checkpoint
 * is saved: its data from IndexedDB). Medians with (min-max).
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { buildWeb } from '../web/build.ts'
import { createAccount } from '../src/node/account-dir.ts'
import { removeDir, tempDir } from '../test/helpers/device.ts'
import { joinByPaste, launchChromium, startWebApp } from '../test/browser/helpers.ts'

const option = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const KEYS = option('keys', 1000)
/** Puts the laptop makes one by one once the page has joined (each an entry of the page's log, replayed by an open with no checkpoint). */
const LATER = option('later', 0)
const REPS = option('reps', 3)

const stats = (xs: number[]): string => {
  const sorted = [...xs].sort((a, b) => a - b)
  return `${sorted[Math.floor(sorted.length / 2)] ?? NaN} (${sorted[0] ?? NaN}–${sorted[sorted.length - 1] ?? NaN})`
}

const dir = await tempDir('bench-web')
const built = await buildWeb(join(dir, 'web'))
const app = await readFile(join(dir, 'web/app.js'))
console.log(`bundle: app.js ${(built.bytes / 1024).toFixed(0)} KiB minified, ${(gzipSync(app, { level: 9 }).length / 1024).toFixed(0)} KiB gzip; chunks loaded on demand (the QR decoder when the camera opens, and smaller ones) ${(built.chunkBytes / 1024).toFixed(0)} KiB`)

const laptop = await createAccount({ dir: join(dir, 'laptop'), name: 'laptop', listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
const [browser, web] = await Promise.all([launchChromium(), startWebApp()])
try {
  for (let i = 0; i < KEYS; i++) await laptop.put(`k/${String(i).padStart(5, '0')}`, i)
  const synced: number[] = []
  const reloaded: number[] = []
  const openedHow: string[] = []
  let live = KEYS
  for (let rep = 0; rep < REPS; rep++) {
    const invite = await laptop.invite({ ttlMs: 120_000, role: 'member' })
    const context = await browser.newContext()
    const page = await context.newPage()
    const rows = page.getByRole('region', { name: 'Entries' }).getByRole('row')
    /** Every entry shown: the cell `last` (the last key's, or the last value put), and as many rows as live keys. */
    const allShown = async (last = `k/${String(KEYS - 1).padStart(5, '0')}`): Promise<void> => {
      await page.getByRole('cell', { name: last, exact: true }).waitFor({ timeout: 120_000 }).catch(async (err: unknown) => {
        throw new Error(`the page did not show every entry (${await rows.count() - 1} rows): ${(await page.locator('main').innerText()).slice(-300)}`, { cause: err })
      })
      if (await rows.count() !== live + 1) throw new Error(`expected ${live} rows, saw ${await rows.count() - 1}`)
    }
    const t0 = Date.now()
    await joinByPaste(page, web.url, invite.text, `browser-${rep}`)
    await allShown()
    synced.push(Date.now() - t0)
    // The same keys in every repetition (the table stays as large), each put a new value.
    const later = (i: number): string => `later/${String(i).padStart(5, '0')}`
    const laterValue = (i: number): string => `r${rep}-${i}`
    if (LATER > 0) {
      for (let i = 0; i < LATER; i++) await laptop.put(later(i), laterValue(i))
      live = KEYS + LATER
      await allShown(JSON.stringify(laterValue(LATER - 1)))
    }
    // As a person opening the page again later: once it has saved a checkpoint of all it shows
    // (src/browser/state-idb.ts; 2 s after the last change). The write id of the checkpoint saved now, if any:
    const checkpointId = async (): Promise<string | undefined> => await page.evaluate(async () => await new Promise<string | undefined>((resolve) => {
      const req = indexedDB.open('orbit-account/state')
      req.onerror = () => { resolve(undefined) }
      req.onsuccess = () => {
        const db = req.result
        if (!db.objectStoreNames.contains('blobs')) { db.close(); resolve(undefined); return }
        const all = db.transaction('blobs', 'readonly').objectStore('blobs').getAll()
        all.onsuccess = () => {
          db.close()
          const split = (all.result as Array<{ kind?: string, write?: Uint8Array }>).filter((r) => r.kind === 'split' && r.write !== undefined)
          resolve(split.length === 0 ? undefined : split.map((r) => Array.from(r.write as Uint8Array).join('.')).join('|'))
        }
        all.onerror = () => { db.close(); resolve(undefined) }
      }
    }))
    const before = await checkpointId()
    let saved = false
    for (const until = Date.now() + 15_000; !saved && Date.now() < until;) {
      const now = await checkpointId()
      saved = now !== undefined && now !== before
      if (!saved) await new Promise((resolve) => setTimeout(resolve, 200))
    }
    const t1 = Date.now()
    await page.reload()
    await allShown(LATER > 0 ? JSON.stringify(laterValue(LATER - 1)) : undefined)
    reloaded.push(Date.now() - t1)
    openedHow.push(`${saved ? 'saved' : 'not saved'}; ${await page.getByTestId('opened').innerText().catch(() => 'says nothing')}`)
    await context.close()
  }
  console.log(`page load to synced, ${KEYS} keys, pasted invite (ms): ${stats(synced)}`)
  console.log(`reload to shown from IndexedDB, ${KEYS} keys${LATER > 0 ? ` and ${LATER} put one by one after the join` : ''} (ms): ${stats(reloaded)}`)
  console.log(`how each reload opened: ${openedHow.join(' | ')}`)
} finally {
  await browser.close()
  await web.stop()
  await laptop.close()
  await removeDir(dir)
}
