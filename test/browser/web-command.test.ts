/**
 * `orbit-account web`: serves the app on 127.0.0.1 only, with a content security policy,
 * and nothing outside the app's folder; a bad --port is a usage error.
 */
import assert from 'node:assert/strict'
import { Sandbox } from '../cli/helpers.ts'
import { startWebApp, type WebApp } from './helpers.ts'

describe('orbit-account web', function () {
  this.timeout(180_000)
  let web: WebApp | undefined
  let cli: Sandbox

  before(async () => { [web, cli] = await Promise.all([startWebApp(), Sandbox.create()]) })
  after(async () => {
    await web?.stop()
    await cli?.cleanup()
  })

  it('serves the page and its script on loopback, with a CSP', async () => {
    const url = new URL((web as WebApp).url)
    assert.equal(url.hostname, '127.0.0.1')
    const page = await fetch(url)
    assert.equal(page.status, 200)
    assert.match(await page.text(), /<script type="module" src="\.\/app\.js">/)
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/)
    const script = await fetch(new URL('app.js', url))
    assert.equal(script.headers.get('content-type'), 'text/javascript; charset=utf-8')
  })

  it('serves nothing outside the app', async () => {
    const base = (web as WebApp).url
    for (const path of ['..%2f..%2fpackage.json', '%2e%2e/%2e%2e/package.json', 'missing.js']) {
      assert.equal((await fetch(base + path)).status, 404, path)
    }
  })

  it('refuses a port that is not one', async () => {
    const failure = await cli.fail(['web', '--port', '70000'], { noDir: true })
    assert.deepEqual([failure.exit, failure.code], [2, 'INVALID_ARGUMENT'])
  })
})
