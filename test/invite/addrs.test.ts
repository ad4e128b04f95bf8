/**
 * Which addresses an invite carries (src/invite/addrs.ts): enough for a Node device and
 * a browser, on the LAN or this machine, and short enough for a terminal QR code.
 */
import assert from 'node:assert/strict'
import { inviteAddrs } from '../../src/invite/addrs.ts'
import { encodeInvite, newInviteSecret, parseInvite } from '../../src/invite/invite.ts'
import { renderQr } from '../../src/invite/qr.ts'
import { accountFor, baseInvite } from './fixtures.ts'
import { decodeTerminalQr } from './qr-decode.ts'

const PEER = '/p2p/12D3KooWC89PS6em33SHos2ubwK4eZi28XiLB5mzNWgto2e1wHpR'
const CERT = '/certhash/uEiBlbGkySz8EcGAv4cPRIjy_yItOAWiqc-l6BsuRApwjxg'
const on = (host: string): string[] => [
  `${host}/tcp/40123`, `${host}/tcp/40124/ws`, `${host}/udp/40125/webrtc-direct${CERT}`
]
/** What a daemon listening with the defaults on every interface of a laptop lists (docker bridge and IPv6 link-local included). */
const LAPTOP = [
  ...on('/ip4/127.0.0.1'), ...on('/ip4/172.17.0.1'), ...on('/ip4/192.168.178.23'), ...on('/ip6/fe80::1c2b:3ff:fe4d:5e6f')
].map((a) => a + PEER)

describe('invite addresses', () => {
  it('a LAN laptop: TCP, WebSockets and WebRTC-direct on its LAN address, and WebSockets on loopback', () => {
    assert.deepEqual(inviteAddrs(LAPTOP), [
      '/ip4/192.168.178.23/tcp/40123',
      '/ip4/192.168.178.23/tcp/40124/ws',
      `/ip4/192.168.178.23/udp/40125/webrtc-direct${CERT}`,
      '/ip4/127.0.0.1/tcp/40124/ws'
    ])
  })

  it('a node on loopback only: one address per transport there', () => {
    assert.deepEqual(inviteAddrs(on('/ip4/127.0.0.1')), on('/ip4/127.0.0.1'))
    assert.deepEqual(inviteAddrs([`/ip4/127.0.0.1/udp/5/webrtc-direct${CERT}${PEER}`]), [`/ip4/127.0.0.1/udp/5/webrtc-direct${CERT}`])
    assert.deepEqual(inviteAddrs(['/ip4/127.0.0.1/tcp/1', '/ip4/127.0.0.1/tcp/2']), ['/ip4/127.0.0.1/tcp/1'])
  })

  it('loopback WebSockets only when the node listens on it', () => {
    assert.deepEqual(inviteAddrs(['/ip4/127.0.0.1/tcp/1', '/ip4/10.0.0.5/tcp/1']), ['/ip4/10.0.0.5/tcp/1'])
  })

  it('prefers a home LAN over 10/8, 172.16/12 (docker), public and IPv6, and never a wildcard or link-local address', () => {
    const pick = (addrs: string[]): string => inviteAddrs(addrs)[0]!
    assert.equal(pick(['/ip4/172.17.0.1/tcp/1', '/ip4/10.1.2.3/tcp/1']), '/ip4/10.1.2.3/tcp/1')
    assert.equal(pick(['/ip6/2001:db8::1/tcp/1', '/ip4/203.0.113.7/tcp/1', '/ip4/172.17.0.1/tcp/1']), '/ip4/172.17.0.1/tcp/1')
    assert.equal(pick(['/ip6/2001:db8::1/tcp/1', '/ip4/203.0.113.7/tcp/1']), '/ip4/203.0.113.7/tcp/1')
    assert.deepEqual(inviteAddrs(['/ip4/0.0.0.0/tcp/1', '/ip6/fe80::1/tcp/1', '/ip4/127.0.0.1/tcp/2']), ['/ip4/127.0.0.1/tcp/2'])
  })

  it('keeps what it cannot classify when nothing else is left, as before (encodeInvite judges it)', () => {
    assert.deepEqual(inviteAddrs(['/ip4/192.0.2.1/udp/4001/quic-v1' + PEER]), ['/ip4/192.0.2.1/udp/4001/quic-v1'])
  })

  it('the LAN laptop\'s invite stays near 300 characters, round-trips, and its QR code fits an 80-column terminal', async () => {
    const account = await accountFor('addrs test account')
    const text = encodeInvite(baseInvite(account, { addrs: inviteAddrs(LAPTOP), secret: newInviteSecret(), expires: Math.floor(Date.now() / 1000) + 600 }))
    assert.ok(text.length < 320, `${text.length} characters`)
    assert.deepEqual(parseInvite(text).addrs, inviteAddrs(LAPTOP))
    const rendered = await renderQr(text)
    assert.equal(decodeTerminalQr(rendered), text)
    const lines = rendered.split('\n').filter((l) => l.length > 0)
    const columns = Math.max(...lines.map((l) => [...l].length))
    assert.ok(columns <= 80 && lines.length <= 40, `${columns}x${lines.length}`)
  })
})
