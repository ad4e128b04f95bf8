/**
 * The web app in real Chromium, joined by a pasted invite, against a laptop (a Node
 * device on loopback listening on WebSockets): it syncs both ways; a bad, expired or
 * already used invite, or one of a private account, gives a clear error in the page and
 * leaves nothing stored.
 */
import assert from 'node:assert/strict'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { createAccount, type NodeAccount } from '../../src/node/account-dir.ts'
import { encodeInvite, parseInvite } from '../../src/invite/invite.ts'
import { removeDir, tempDir, waitFor } from '../helpers/device.ts'
import { appDatabases, launchChromium, startWebApp, storedKeys, type WebApp } from './helpers.ts'

const WS_LOOPBACK = ['/ip4/127.0.0.1/tcp/0/ws']

describe('web app: joining by a pasted invite (real Chromium)', function () {
  this.timeout(180_000)
  let browser: Browser
  let web: WebApp
  let laptop: NodeAccount
  let dir: string
  const contexts: BrowserContext[] = []

  /** A fresh browser profile (its own IndexedDB): a new device. */
  const freshPage = async (): Promise<Page> => {
    const context = await browser.newContext()
    contexts.push(context)
    const page = await context.newPage()
    await page.goto(web.url)
    await page.getByRole('heading', { name: 'Join an account' }).waitFor({ timeout: 30_000 })
    return page
  }
  const pasteJoin = async (page: Page, invite: string, name = 'browser'): Promise<void> => {
    await page.getByLabel('Device name').fill(name)
    await page.getByLabel('Invite').fill(invite)
    await page.getByRole('button', { name: 'Join' }).click()
  }

  before(async () => {
    dir = await tempDir('web-laptop')
    ;[browser, web, laptop] = await Promise.all([launchChromium(), startWebApp(), createAccount({ dir, name: 'laptop', listen: WS_LOOPBACK })])
  })
  after(async () => {
    for (const c of contexts) await c.close().catch(() => {})
    await browser?.close()
    await web?.stop()
    await laptop?.close()
    await removeDir(dir)
  })

  /** The invite the first spec used (the next ones reuse it, or an expired copy of it). */
  let used = ''

  it('joins with a pasted invite, shows what the laptop wrote, and syncs both ways', async () => {
    await laptop.put('settings/theme', 'dark')
    const invite = await laptop.invite({ ttlMs: 120_000, role: 'member' })
    used = invite.text
    const page = await freshPage()
    // Pasted with the line breaks a terminal adds.
    await pasteJoin(page, invite.text.replace(/(.{60})/g, '$1\n'))
    await page.getByRole('heading', { name: 'Account' }).waitFor({ timeout: 60_000 })
    const entries = page.getByRole('region', { name: 'Entries' })
    await entries.getByRole('cell', { name: '"dark"' }).waitFor({ timeout: 10_000 })
    await invite.admitted
    // The device keys are sealed under a WebCrypto key that script cannot export.
    const keys = await storedKeys(page)
    assert.deepEqual([keys.extractable, keys.exported], [false, false])
    assert.deepEqual(keys.entries.sort(), ['config', 'keystore', 'wrap-key'])
    assert.doesNotMatch(keys.sealedText, /orbit-account-keystore|secretKey|signing/)

    await page.getByLabel('Key').fill('from/browser')
    await page.getByLabel('Value').fill('{"n":1}')
    await page.getByRole('button', { name: 'Save' }).click()
    await waitFor(() => JSON.stringify(laptop.get('from/browser')) === '{"n":1}', 20_000, 'the page\'s write on the laptop')

    await laptop.put('from/laptop', [1, 2])
    await entries.getByRole('cell', { name: '[1,2]' }).waitFor({ timeout: 20_000 })
    await page.getByRole('button', { name: 'Delete from/browser' }).click()
    await waitFor(() => laptop.get('from/browser') === undefined, 20_000, 'the page\'s delete on the laptop')
    assert.ok(laptop.devices().some((d) => d.name === 'browser' && d.status === 'active'))
    const devices = page.getByRole('list', { name: 'Devices' })
    await devices.getByText('laptop (admin, active)').waitFor({ timeout: 5000 })
    await devices.getByText('browser (member, active), this device').waitFor({ timeout: 5000 })
    await page.getByRole('list', { name: 'Connected' }).getByText(laptop.peerId()).waitFor({ timeout: 5000 })
    // The page proves which device it is (src/network/peer-device-answer.ts): the laptop's `status` names it.
    const pagePeer = (): string | undefined => laptop.node.libp2p.getPeers().map((p) => p.toString()).find((p) => laptop.peerDevice(p)?.name === 'browser')
    await waitFor(async () => { await laptop.settlePeers(3000); return pagePeer() !== undefined }, 45_000, 'the laptop to know the page as the device "browser"')
    assert.equal(laptop.peerDevice(pagePeer() as string)?.status, 'active')
  })

  for (const [what, invite, message] of [
    ['garbage', () => 'OA1NOTANINVITE', /invite/i],
    ['an expired invite', () => encodeInvite({ ...parseInvite(used), expires: Math.floor(Date.now() / 1000) - 60 }), /expired/i],
    ['an invite already used', () => used, /already used/i],
    // A private network's handshake needs raw connections, which WebRTC does not give (see README).
    ['a private account\'s invite', () => encodeInvite({ ...parseInvite(used), mode: 'private', swarmKey: new Uint8Array(32).fill(7) }), /private account: a browser cannot join/]
  ] as const) {
    it(`${what}: a clear error in the page, nothing stored`, async () => {
      const page = await freshPage()
      await pasteJoin(page, invite(), 'second')
      const alert = page.getByRole('alert')
      await alert.waitFor({ timeout: 60_000 })
      assert.match(await alert.innerText(), message)
      assert.deepEqual(await appDatabases(page), [])
      await page.reload()
      await page.getByRole('heading', { name: 'Join an account' }).waitFor({ timeout: 30_000 })
    })
  }
})
