/**
 * `node scripts/bench-web.ts [--keys 1000] [--reps 3]`: the web app's figures for
 * docs/BENCH.md. The bundle (minified, and gzipped as a static host serves it), then, in
 * real Chromium against a laptop on loopback (WebSockets) holding `--keys` entries:
 * page load to synced (a fresh profile opens the page, joins with a pasted invite, and
 * shows every entry) and reload to shown (the joined page reloaded: its data from
 * IndexedDB). Medians with (min-max).
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { buildWeb } from '../web/build.ts'
import { createAccount } from '../src/node/account-dir.ts'
import { removeDir, tempDir } from '../test/helpers/device.ts'
import { launchChromium, startWebApp } from '../test/browser/helpers.ts'

const option = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const KEYS = option('keys', 1000)
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
  for (let rep = 0; rep < REPS; rep++) {
    const invite = await laptop.invite({ ttlMs: 120_000, role: 'member' })
    const context = await browser.newContext()
    const page = await context.newPage()
    const rows = page.getByRole('region', { name: 'Entries' }).getByRole('row')
    const allShown = async (): Promise<void> => {
      await page.getByRole('cell', { name: `k/${String(KEYS - 1).padStart(5, '0')}`, exact: true }).waitFor({ timeout: 120_000 }).catch(async (err: unknown) => {
        throw new Error(`the page did not show every entry: ${(await page.locator('main').innerText()).slice(0, 500)}`, { cause: err })
      })
      if (await rows.count() !== KEYS + 1) throw new Error(`expected ${KEYS} rows, saw ${await rows.count() - 1}`)
    }
    const t0 = Date.now()
    await page.goto(web.url)
    await page.getByLabel('Device name').fill(`browser-${rep}`)
    await page.getByLabel('Invite').fill(invite.text)
    await page.getByRole('button', { name: 'Join' }).click()
    await allShown()
    synced.push(Date.now() - t0)
    const t1 = Date.now()
    await page.reload()
    await allShown()
    reloaded.push(Date.now() - t1)
    await context.close()
  }
  console.log(`page load to synced, ${KEYS} keys, pasted invite (ms): ${stats(synced)}`)
  console.log(`reload to shown from IndexedDB, ${KEYS} keys (ms): ${stats(reloaded)}`)
} finally {
  await browser.close()
  await web.stop()
  await laptop.close()
  await removeDir(dir)
}
