/**
 * Invites that name the account's registered replicas (where a joiner leaves a join
 * request when no device answers): they round-trip, old invites still parse, a forged
 * replica list is refused, and a LAN invite with a replica still fits a terminal QR code.
 */
import assert from 'node:assert/strict'
import { CID } from 'multiformats/cid'
import { base58btc } from 'multiformats/bases/base58'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { inviteAddrs, inviteReplicas } from '../../src/invite/addrs.ts'
import { encodeInvite, newInviteSecret, parseInvite, type Invite } from '../../src/invite/invite.ts'
import { renderQr } from '../../src/invite/qr.ts'
import { randomBytes } from '../../src/crypto/bytes.ts'
import { accountFor, baseInvite, ED25519_PEER, rawInviteOf, RSA_PEER } from './fixtures.ts'
import { decodeTerminalQr } from './qr-decode.ts'

const REPLICA = { peerId: RSA_PEER, addrs: ['/ip4/127.0.0.1/tcp/4100'] }
const LAPTOP = ['/ip4/192.168.1.20/tcp/40123', '/ip4/192.168.1.20/tcp/40124/ws', '/ip4/127.0.0.1/tcp/40124/ws']

describe('invites naming registered replicas', () => {
  let invite: Invite
  before(async () => {
    invite = baseInvite(await accountFor('replica invites'), { secret: newInviteSecret(), expires: Math.floor(Date.now() / 1000) + 600 })
  })

  it('round-trips with and without a swarm key, and an invite without replicas is as before', () => {
    const plain = encodeInvite(invite)
    assert.equal(parseInvite(plain).replicas, undefined)
    const withReplica = encodeInvite({ ...invite, replicas: [REPLICA] })
    assert.deepEqual(parseInvite(withReplica).replicas, [REPLICA])
    assert.equal(parseInvite(withReplica).swarmKey, undefined)
    const key = randomBytes(32)
    const priv = parseInvite(encodeInvite({ ...invite, mode: 'private', swarmKey: key, replicas: [REPLICA, { peerId: ED25519_PEER, addrs: ['/ip4/127.0.0.1/tcp/4101', '/ip4/127.0.0.1/tcp/4102/ws'] }] }))
    assert.deepEqual(priv.swarmKey, key)
    assert.equal(priv.replicas?.length, 2)
  })

  it('an old 7-field invite still parses (no replicas)', () => {
    const text = encodeInvite(invite)
    // Re-built by hand in the old layout: the same string.
    const peer = peerIdFromString(invite.peerId).toMultihash().bytes
    const old = rawInviteOf([1, 1, parseCid(invite.account), peer, invite.addrs.map((a) => multiaddr(a).bytes), invite.secret, invite.expires])
    assert.equal(old, text)
    assert.deepEqual(parseInvite(old).addrs, invite.addrs)
  })

  it('refuses a forged replica list: too many, empty, no addresses, a /p2p/ address, a null swarm key it does not need', () => {
    assert.throws(() => encodeInvite({ ...invite, replicas: [REPLICA, REPLICA, REPLICA] }), /replicas/)
    assert.throws(() => encodeInvite({ ...invite, replicas: [] }), /replicas/)
    assert.throws(() => encodeInvite({ ...invite, replicas: [{ peerId: RSA_PEER, addrs: [] }] }), /addrs/)
    const peer = peerIdFromString(invite.peerId).toMultihash().bytes
    const head = [1, 1, parseCid(invite.account), peer, invite.addrs.map((a) => multiaddr(a).bytes), invite.secret, invite.expires]
    const replicaPeer = peerIdFromString(RSA_PEER).toMultihash().bytes
    const bad = (fields: unknown[]): void => { assert.throws(() => parseInvite(rawInviteOf(fields)), { code: 'INVALID_INVITE' }) }
    bad([...head, null, []])
    bad([...head, null, [[replicaPeer, []]]])
    bad([...head, null, [[replicaPeer, [multiaddr(`/ip4/127.0.0.1/tcp/1/p2p/${RSA_PEER}`).bytes]]]])
    bad([...head, null, [[randomBytes(20), [multiaddr('/ip4/127.0.0.1/tcp/1').bytes]]]])
    bad([...head, null, 'replicas'])
    // A swarm key in the 9-field form of a non-private invite.
    bad([...head, randomBytes(32), [[replicaPeer, [multiaddr('/ip4/127.0.0.1/tcp/1').bytes]]]])
  })

  it('picks at most two live replicas from the registry, and a LAN invite with one still fits an 80-column QR code', async () => {
    const records = [
      { peer: ED25519_PEER, addrs: ['/ip4/192.168.1.30/tcp/4002'], removedIn: 'gone' },
      { peer: RSA_PEER, addrs: ['/ip4/192.168.1.31/tcp/4002', '/ip4/192.168.1.31/tcp/4003/ws', '/ip4/127.0.0.1/tcp/4003/ws'] }
    ]
    const lan = { ...invite, addrs: inviteAddrs(LAPTOP) }
    const replicas = inviteReplicas(records, lan)
    assert.deepEqual(replicas, [{ peerId: RSA_PEER, addrs: ['/ip4/192.168.1.31/tcp/4002', '/ip4/192.168.1.31/tcp/4003/ws'] }])
    assert.equal(inviteReplicas([records[0]!], lan), undefined)
    const text = encodeInvite({ ...lan, replicas })
    assert.ok(text.length < 420, `${text.length} characters`)
    const rendered = await renderQr(text)
    assert.equal(decodeTerminalQr(rendered), text)
    const lines = rendered.split('\n').filter((l) => l.length > 0)
    const columns = Math.max(...lines.map((l) => [...l].length))
    assert.ok(columns <= 80 && lines.length <= 40, `${columns}x${lines.length}`)
  })
})

const parseCid = (account: string): Uint8Array => CID.parse(account.slice('/orbitdb/'.length), base58btc).bytes
