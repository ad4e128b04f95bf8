/**
 * End to end in real Chromium against the real CLI: the laptop creates its account and
 * runs its daemon (WebSockets on loopback); the page's fake camera plays the invite as a
 * QR code; the page joins by scanning it, syncs both ways, still shows its data after a
 * reload with the daemon stopped, and once the laptop revokes it says so and never shows
 * a value written afterwards.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { Sandbox, type Running } from '../cli/helpers.ts'
import { launchChromium, startWebApp, writeQrVideo, type WebApp } from './helpers.ts'

/** How long the revoked page is watched for a value written after its revocation. */
const AFTER_REVOCATION_MS = 5000

describe('web app: a browser joins by scanning the QR code (real Chromium, fake camera, CLI daemon)', function () {
  this.timeout(240_000)
  let browser: Browser | undefined
  let web: WebApp | undefined
  let cli: Sandbox

  before(async () => { cli = await Sandbox.create() })
  after(async () => {
    await browser?.close()
    await web?.stop()
    await cli?.cleanup()
  })

  const cell = (page: Page, text: string) => page.getByRole('region', { name: 'Entries' }).getByRole('cell', { name: text, exact: true })
  const daemonOn = async (listen: string): Promise<{ daemon: Running, addrs: string[] }> => {
    const daemon = cli.spawn(['daemon', '--listen', listen])
    const ready = JSON.parse(await daemon.waitForLine('stdout', (l) => l.includes('"ready"'), 60_000)) as { addrs: string[] }
    return { daemon, addrs: ready.addrs }
  }
  const laptopHas = async (key: string, value: unknown): Promise<void> => {
    for (let tries = 0; ; tries++) {
      const got = await cli.json(['get', key])
      if (got.found === true && JSON.stringify(got.value) === JSON.stringify(value)) return
      assert.ok(tries < 30, `the laptop has ${key} = ${JSON.stringify(value)} (it has ${JSON.stringify(got)})`)
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
  }

  it('scans, syncs both ways, works offline after a reload, and shows its revocation', async () => {
    await cli.json(['create', '--name', 'laptop', '--no-recovery'])
    await cli.json(['put', 'settings/theme', '"dark"'])
    const first = await daemonOn('/ip4/127.0.0.1/tcp/0/ws')
    const inviting = cli.spawn(['invite', '--ttl', '5m'])
    const invite = (JSON.parse(await inviting.waitForLine('stdout', (l) => l.includes('"invite"'), 30_000)) as { invite: string }).invite
    const camera = join(cli.root, 'invite.y4m')
    await writeQrVideo(camera, invite)
    ;[browser, web] = await Promise.all([launchChromium({ camera }), startWebApp()])
    const page = await browser.newPage()
    await page.goto(web.url)

    await page.getByLabel('Device name').fill('phone')
    await page.getByRole('button', { name: 'Scan QR code' }).click()
    await page.getByRole('heading', { name: 'Account' }).waitFor({ timeout: 60_000 })
    await cell(page, '"dark"').waitFor({ timeout: 10_000 })
    await inviting.waitForExit(30_000)

    await page.getByLabel('Key').fill('from/phone')
    await page.getByLabel('Value').fill('"hello laptop"')
    await page.getByRole('button', { name: 'Save' }).click()
    await laptopHas('from/phone', 'hello laptop')
    await cli.json(['put', 'from/laptop', '"hello phone"'])
    await cell(page, '"hello phone"').waitFor({ timeout: 20_000 })

    // The laptop's daemon goes away; the page, reloaded, shows what it holds.
    const port = /\/tcp\/(\d+)\/ws/.exec(first.addrs.join(' '))?.[1]
    assert.ok(port !== undefined, 'the daemon listens on WebSockets')
    await first.daemon.stop()
    await page.reload()
    await page.getByRole('heading', { name: 'Account' }).waitFor({ timeout: 30_000 })
    for (const text of ['"dark"', '"hello laptop"', '"hello phone"']) await cell(page, text).waitFor({ timeout: 10_000 })

    // Back on the same address: the page finds it again, and is revoked there.
    await daemonOn(`/ip4/127.0.0.1/tcp/${port}/ws`)
    await cli.json(['put', 'back/again', '"the laptop is back"'])
    await cell(page, '"the laptop is back"').waitFor({ timeout: 30_000 })
    await cli.json(['revoke', 'phone'])
    await page.getByRole('alert').filter({ hasText: 'This device was revoked' }).waitFor({ timeout: 30_000 })
    assert.equal(await page.getByRole('button', { name: 'Save' }).isDisabled(), true)

    await cli.json(['put', 'after/revocation', '"not for the phone"'])
    const deadline = Date.now() + AFTER_REVOCATION_MS
    while (Date.now() < deadline) {
      assert.equal(await cell(page, 'after/revocation').count(), 0, 'the revoked page shows a value written after its revocation')
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    // Still connected, still showing what it had: only the later value is out of reach.
    await cell(page, '"the laptop is back"').waitFor({ timeout: 1000 })
    const status = await cli.json(['status']) as { peers: Array<{ peerId: string }> }
    assert.ok(status.peers.length > 0, 'the page is still connected to the laptop')
  })
})
