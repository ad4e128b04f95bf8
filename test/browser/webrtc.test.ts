/**
 * The same sync over WebRTC-direct alone, in real Chromium, against the real CLI daemon:
 * it listens on nothing else, so its invite carries only that address (with its
 * certhash). After the daemon restarts on the same port its certhash is unchanged, and
 * the page, which dials the address it remembered, reaches it again.
 */
import assert from 'node:assert/strict'
import type { Browser, Page } from 'playwright-core'
import { parseInvite } from '../../src/invite/invite.ts'
import { Sandbox, type Running } from '../cli/helpers.ts'
import { launchChromium, startWebApp, type WebApp } from './helpers.ts'

const certhashOf = (addrs: string[]): string | undefined => addrs.map((a) => /\/certhash\/([^/]+)/.exec(a)?.[1]).find((h) => h !== undefined)

describe('web app: sync over WebRTC-direct alone (real Chromium, CLI daemon)', function () {
  this.timeout(240_000)
  let browser: Browser | undefined
  let web: WebApp | undefined
  let cli: Sandbox

  before(async () => {
    ;[browser, web, cli] = await Promise.all([launchChromium(), startWebApp(), Sandbox.create()])
  })
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

  it('joins, syncs both ways, and finds the restarted daemon at the same certhash', async () => {
    await cli.json(['create', '--name', 'laptop', '--no-recovery'])
    await cli.json(['put', 'settings/theme', '"dark"'])
    const first = await daemonOn('/ip4/127.0.0.1/udp/0/webrtc-direct')
    const inviting = cli.spawn(['invite', '--ttl', '5m'])
    const invite = (JSON.parse(await inviting.waitForLine('stdout', (l) => l.includes('"invite"'), 30_000)) as { invite: string }).invite
    const addrs = parseInvite(invite).addrs
    assert.ok(addrs.length > 0 && addrs.every((a) => /\/udp\/\d+\/webrtc-direct\/certhash\//.test(a)), `the invite carries WebRTC-direct addresses only: ${addrs.join(', ')}`)
    const certhash = certhashOf(addrs)

    const page = await (browser as Browser).newPage()
    await page.goto((web as WebApp).url)
    await page.getByLabel('Device name').fill('tablet')
    await page.getByLabel('Invite').fill(invite)
    await page.getByRole('button', { name: 'Join' }).click()
    await page.getByRole('heading', { name: 'Account' }).waitFor({ timeout: 60_000 })
    await cell(page, '"dark"').waitFor({ timeout: 10_000 })
    await inviting.waitForExit(30_000)
    await page.getByLabel('Key').fill('from/tablet')
    await page.getByLabel('Value').fill('true')
    await page.getByRole('button', { name: 'Save' }).click()
    const reached = async (): Promise<boolean> => (await cli.json(['get', 'from/tablet'])).found === true
    for (let tries = 0; !(await reached()); tries++) {
      assert.ok(tries < 20, 'the page\'s write reached the daemon')
      await new Promise((resolve) => setTimeout(resolve, 500))
    }

    const port = /\/udp\/(\d+)\/webrtc-direct/.exec(addrs.join(' '))?.[1]
    await first.daemon.stop()
    const second = await daemonOn(`/ip4/127.0.0.1/udp/${port ?? 0}/webrtc-direct`)
    assert.equal(certhashOf(second.addrs), certhash, 'the certhash is the same after a restart')
    await cli.json(['put', 'after/restart', '"over WebRTC"'])
    await cell(page, '"over WebRTC"').waitFor({ timeout: 40_000 })
  })
})
