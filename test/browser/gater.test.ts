/**
 * The browser node's dial gate: a page must not reach into the LAN (or loopback) for
 * whoever serves it, except to the account's own devices.
 */
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { ownPeersGater } from '../../src/browser/node.ts'

const OWN = '12D3KooWLNntKUsNjTEMeoFFVNbG9h3JhXxAMLF1fHidPuNb1wws'
const STRANGER = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'

describe('browser node: dials private addresses of the account\'s own peers only', () => {
  const denied = ownPeersGater(new Set([OWN]))
  const deny = (addr: string): boolean => denied(multiaddr(addr))

  it('lets the page dial its own devices on loopback and the LAN', () => {
    assert.equal(deny(`/ip4/127.0.0.1/tcp/4001/ws/p2p/${OWN}`), false)
    assert.equal(deny(`/ip4/192.168.1.20/udp/4001/webrtc-direct/certhash/uEiDMaL7ERsAW5z6IVON-n-BF79sjrL-rvHuo5qTjmrFXKQ/p2p/${OWN}`), false)
  })

  it('refuses a stranger\'s private addresses and LAN names, and private addresses of no named peer', () => {
    assert.equal(deny(`/ip4/127.0.0.1/tcp/4001/ws/p2p/${STRANGER}`), true)
    assert.equal(deny(`/ip4/10.0.0.1/tcp/4001/ws/p2p/${STRANGER}`), true)
    assert.equal(deny('/ip4/192.168.1.20/tcp/4001/ws'), true)
    for (const name of ['printer.local', 'router.lan', 'nas', 'localhost', 'box.home.arpa']) {
      assert.equal(deny(`/dns4/${name}/tcp/80/ws/p2p/${STRANGER}`), true, name)
    }
  })

  it('leaves public addresses to the transports', () => {
    assert.equal(deny(`/ip4/1.1.1.1/tcp/443/tls/ws/p2p/${STRANGER}`), false)
    assert.equal(deny(`/dns4/replica.example.org/tcp/443/tls/ws/p2p/${STRANGER}`), false)
    assert.equal(deny(`/dns4/laptop.local/tcp/4001/ws/p2p/${OWN}`), false)
  })
})
