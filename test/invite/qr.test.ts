import assert from 'node:assert/strict'
import { encodeInvite, newInviteSecret } from '../../src/invite/invite.ts'
import { renderQr } from '../../src/invite/qr.ts'
import { randomBytes } from '../../src/crypto/bytes.ts'
import { accountFor, baseInvite, EIGHT_ADDRS } from './fixtures.ts'
import { decodeTerminalQr } from './qr-decode.ts'

const size = (rendered: string): { columns: number, lines: number } => {
  const lines = rendered.split('\n').filter((line) => line.length > 0)
  return { columns: Math.max(...lines.map((line) => [...line].length)), lines: lines.length }
}

describe('invite QR code', () => {
  let short: string
  let long: string
  let longest: string

  before(async () => {
    const account = await accountFor('qr test account')
    const expires = Math.floor(Date.now() / 1000) + 600
    short = encodeInvite(baseInvite(account, { secret: newInviteSecret(), expires }))
    long = encodeInvite(baseInvite(account, { addrs: EIGHT_ADDRS, mode: 'private', swarmKey: randomBytes(32), secret: newInviteSecret(), expires }))
    // the longest an invite can be: 8 addresses of the maximum 128 bytes each
    const host = (i: number): string => `device-${i}.` + 'x'.repeat(100) + '.example'
    longest = encodeInvite(baseInvite(account, {
      addrs: Array.from({ length: 8 }, (_, i) => `/dns4/${host(i)}/tcp/443/wss`),
      mode: 'private',
      swarmKey: randomBytes(32)
    }))
  })

  it('a typical invite decodes back exactly, and fits an 80-column terminal', async () => {
    const rendered = await renderQr(short)
    assert.equal(decodeTerminalQr(rendered), short)
    const { columns, lines } = size(rendered)
    assert.ok(columns <= 80 && lines <= 32, `${columns}x${lines}`)
  })

  it('an invite with 8 addresses and a swarm key decodes back exactly', async () => {
    assert.ok(long.length > 400)
    assert.equal(decodeTerminalQr(await renderQr(long)), long)
  })

  it('the longest possible invite decodes back exactly', async () => {
    assert.ok(longest.length > 1800, String(longest.length))
    assert.equal(decodeTerminalQr(await renderQr(longest)), longest)
  })

  it('decodes at several module sizes and on a dark terminal background', async () => {
    for (const text of [short, long]) {
      const rendered = await renderQr(text)
      for (const scale of [1, 2, 3, 5]) assert.equal(decodeTerminalQr(rendered, { scale }), text)
      assert.equal(decodeTerminalQr(rendered, { surround: 'dark', margin: 6 }), text)
    }
  })

  it('is only half-block characters with a light margin of 2 modules all round', async () => {
    const rendered = await renderQr(short)
    assert.match(rendered, /^[\u2588\u2580\u2584 \n]+$/)
    const lines = rendered.split('\n').filter((line) => line.length > 0)
    assert.match(lines[0]!, /^\u2588+$/)
    assert.match(lines[lines.length - 1]!, /^\u2580+$/)
    for (const line of lines.slice(0, -1)) assert.ok(line.startsWith('\u2588\u2588') && line.endsWith('\u2588\u2588'))
  })

  it('the decoder returns null on something that is not a QR code', () => {
    assert.equal(decodeTerminalQr(''), null)
    assert.equal(decodeTerminalQr('hello\nworld\n'), null)
    assert.equal(decodeTerminalQr('\u2588'.repeat(40) + '\n'), null)
  })

  it('rejects what it cannot render', async () => {
    for (const bad of ['', 'caf\u00e9', 'a\nb', 'x'.repeat(3000), 42]) {
      await assert.rejects(renderQr(bad as string), (e: unknown) => (e as { code?: unknown }).code === 'INVALID_ARGUMENT')
    }
  })
})
