/**
 * Real Chromium for the web app's specs: Debian's chromium driven by playwright-core,
 * headless, with a fake camera that plays a QR code; the app served by the real
 * `orbit-account web`; laptops are Node devices on loopback that listen on WebSockets.
 * Every wait has a timeout; every browser, server and device started is stopped.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { CLI } from '../cli/helpers.ts'
import { qrMatrix } from './qr-matrix.ts'
import { createAccount, type NodeAccount } from '../../src/node/account-dir.ts'
import { removeDir, tempDir } from '../helpers/device.ts'

/** Where Debian's package puts the real binary (/usr/bin/chromium is a shell wrapper). */
const CHROMIUM_CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/lib/chromium/chromium', '/usr/bin/chromium'].filter((p): p is string => p !== undefined && p !== '')

export const chromiumPath = (): string => {
  const found = CHROMIUM_CANDIDATES.find((p) => existsSync(p))
  if (found === undefined) throw new Error('chromium is not installed: apt-get install -y --no-install-recommends chromium (.ci/run does it on CI)')
  return found
}

/** One headless Chromium; `camera` (a .y4m file) is what its fake camera shows. */
export const launchChromium = async (options: { camera?: string } = {}): Promise<Browser> => await chromium.launch({
  executablePath: chromiumPath(),
  headless: true,
  timeout: 30_000,
  args: [
    '--no-sandbox',
    ...(options.camera !== undefined
      ? ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${options.camera}`]
      : [])
  ]
})

export interface WebApp { url: string, stop: () => Promise<void> }

/** `orbit-account web --port 0 --json`: resolves with its URL once it serves. */
export const startWebApp = async (): Promise<WebApp> => {
  const proc: ChildProcess = spawn(process.execPath, [CLI, 'web', '--port', '0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  proc.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = new Promise<void>((resolve) => { proc.once('exit', () => { resolve() }) })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`web did not start in 120 s: ${stderr}`)) }, 120_000)
    let out = ''
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      const line = out.split('\n').find((l) => l.startsWith('{'))
      if (line !== undefined) { clearTimeout(timer); resolve((JSON.parse(line) as { url: string }).url) }
    })
    void exited.then(() => { clearTimeout(timer); reject(new Error(`web exited: ${stderr}`)) })
  })
  return {
    url,
    stop: async () => {
      if (proc.exitCode !== null) return
      proc.kill('SIGTERM')
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    }
  }
}

const WIDTH = 640
const HEIGHT = 480

/**
 * A .y4m video (what Chromium's fake camera plays, looping) showing `text` as a QR code:
 * a text header, then raw I420 frames (a luma plane, then two quarter-size chroma planes).
 */
export const writeQrVideo = async (path: string, text: string, frames = 2): Promise<void> => {
  const matrix = qrMatrix(text)
  const n = matrix.length
  const quiet = 4
  const scale = Math.floor(HEIGHT / (n + 2 * quiet))
  const left = Math.floor((WIDTH - n * scale) / 2)
  const top = Math.floor((HEIGHT - n * scale) / 2)
  const luma = new Uint8Array(WIDTH * HEIGHT).fill(255)
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      if (matrix[r]?.[c] !== true) continue
      for (let y = 0; y < scale; y++) luma.fill(0, (top + r * scale + y) * WIDTH + left + c * scale, (top + r * scale + y) * WIDTH + left + (c + 1) * scale)
    }
  }
  const chroma = new Uint8Array(WIDTH * HEIGHT / 2).fill(128)
  const frame = Buffer.concat([Buffer.from('FRAME\n'), luma, chroma])
  const header = Buffer.from(`YUV4MPEG2 W${WIDTH} H${HEIGHT} F10:1 Ip A1:1 C420jpeg\n`)
  await writeFile(path, Buffer.concat([header, ...Array.from({ length: frames }, () => frame)]))
}

/** The names of this origin's IndexedDB databases that the app made. */
export const appDatabases = async (page: Page): Promise<string[]> =>
  await page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name ?? '').filter((n) => n.includes('orbit-account')))

export const tempFile = (dir: string, name: string): string => join(dir, name)

/** What the page's device store holds for its keys: whether the wrapping key can be exported, and the sealed bytes as text. */
export const storedKeys = async (page: Page): Promise<{ extractable: boolean, exported: boolean, sealedText: string, entries: string[] }> =>
  await page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open('orbit-account/device')
      req.onsuccess = () => { resolve(req.result) }
      req.onerror = () => { reject(req.error) }
    })
    const read = async (key: string): Promise<unknown> => await new Promise((resolve, reject) => {
      const req = db.transaction('kv').objectStore('kv').get(key)
      req.onsuccess = () => { resolve(req.result) }
      req.onerror = () => { reject(req.error) }
    })
    const entries = await new Promise<string[]>((resolve, reject) => {
      const req = db.transaction('kv').objectStore('kv').getAllKeys()
      req.onsuccess = () => { resolve(req.result.map(String)) }
      req.onerror = () => { reject(req.error) }
    })
    const key = await read('wrap-key') as CryptoKey
    const sealed = await read('keystore') as { box: ArrayBuffer }
    const exported = await crypto.subtle.exportKey('raw', key).then(() => true, () => false)
    db.close()
    return { extractable: key.extractable, exported, sealedText: new TextDecoder('utf-8', { fatal: false }).decode(sealed.box), entries }
  })

/** Chromium, the web app and a laptop account listening on loopback WebSockets, for one `describe` (started before its tests, stopped after). */
export interface WebRig { browser: Browser, web: WebApp, laptop: NodeAccount }

export const webRig = (label: string): WebRig => {
  const rig: Partial<WebRig> = {}
  let dir: string | undefined
  before(async () => {
    dir = await tempDir(label)
    ;[rig.browser, rig.web, rig.laptop] = await Promise.all([launchChromium(), startWebApp(), createAccount({ dir, name: 'laptop', listen: ['/ip4/127.0.0.1/tcp/0/ws'] })])
  })
  after(async () => {
    await rig.browser?.close()
    await rig.web?.stop()
    await rig.laptop?.close()
    if (dir !== undefined) await removeDir(dir)
  })
  return rig as WebRig
}

/** Opens the app in `page`, pastes `invite` and joins as `name`; resolves once the account screen shows. */
export const joinByPaste = async (page: Page, url: string, invite: string, name = 'browser'): Promise<void> => {
  await page.goto(url)
  await page.getByLabel('Device name').fill(name)
  await page.getByLabel('Invite').fill(invite)
  await page.getByRole('button', { name: 'Join' }).click()
  await page.getByRole('heading', { name: 'Account' }).waitFor({ timeout: 60_000 })
}
