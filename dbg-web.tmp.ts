import { join } from 'node:path'
import { createAccount } from '/work/main/src/node/account-dir.ts'
import { removeDir, tempDir } from '/work/main/test/helpers/device.ts'
import { launchChromium, startWebApp } from '/work/main/test/browser/helpers.ts'
const KEYS = Number(process.argv[2] ?? 1000)
const dir = await tempDir('dbg-web')
const laptop = await createAccount({ dir: join(dir, 'laptop'), name: 'laptop', listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
const [browser, web] = await Promise.all([launchChromium(), startWebApp()])
const dump = async (page: import('playwright-core').Page) => await page.evaluate(async () => {
  const open = async (n: string) => await new Promise<IDBDatabase>((res, rej) => { const r = indexedDB.open(n); r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error) })
  const all = async (db: IDBDatabase, s: string) => await new Promise<[unknown[], unknown[]]>((res) => { const st = db.transaction(s).objectStore(s); const k = st.getAllKeys(); k.onsuccess = () => { const v = st.getAll(); v.onsuccess = () => res([k.result, v.result]) } })
  const st = await open('orbit-account/state'); const [keys] = st.objectStoreNames.contains('blobs') ? await all(st, 'blobs') : [[]]; st.close()
  const dv = await open('orbit-account/device'); const [k2, v2] = await all(dv, 'kv'); dv.close()
  const cfg = v2[k2.indexOf('config')] as { dataLog?: string }
  return { state: keys.map(String), dataLog: cfg?.dataLog }
})
try {
  for (let i = 0; i < KEYS; i++) await laptop.put(`k/${String(i).padStart(5, '0')}`, i)
  const invite = await laptop.invite({ ttlMs: 120_000, role: 'member' })
  console.log('laptop log', laptop.state().epoch?.dataLog)
  const context = await browser.newContext()
  const page = await context.newPage()
  await page.goto(web.url)
  await page.getByLabel('Device name').fill('b')
  await page.getByLabel('Invite').fill(invite.text)
  await page.getByRole('button', { name: 'Join' }).click()
  await page.getByRole('cell', { name: `k/${String(KEYS - 1).padStart(5, '0')}`, exact: true }).waitFor({ timeout: 60_000 })
  for (let i = 0; i < 100; i++) { const d = await dump(page); if (d.state.some((k) => k.startsWith('log-'))) { console.log(i, JSON.stringify(d)); break } await new Promise((r) => setTimeout(r, 200)) }
  await page.reload()
  await page.getByRole('cell', { name: `k/${String(KEYS - 1).padStart(5, '0')}`, exact: true }).waitFor({ timeout: 60_000 })
  console.log(await page.getByTestId('opened').innerText(), JSON.stringify(await dump(page)))
  await context.close()
} finally {
  await browser.close(); await web.stop(); await laptop.close(); await removeDir(dir)
}
