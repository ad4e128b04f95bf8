/**
 * WebRTC-direct, the daemon side (what a browser on an HTTPS page dials): a Node device
 * that reaches the laptop over WebRTC-direct alone joins and syncs; the certificate,
 * and so the certhash in the address, survives a restart and is renewed near its
 * expiry; a private account's node never listens on it (WebRTC skips the swarm key).
 * Real nodes, loopback only.
 */
import assert from 'node:assert/strict'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { createAccount, joinAccount, openAccount, type NodeAccount } from '../../src/node/account-dir.ts'
import { startNode, type StartedNode } from '../../src/network/node.ts'
import { CERT_FILE, createWebRTCCertificate } from '../../src/node/webrtc-cert.ts'
import { parseInvite } from '../../src/invite/invite.ts'
import { randomBytes } from '../../src/crypto/bytes.ts'
import { removeDir, tempDir, waitFor } from '../helpers/device.ts'

const WEBRTC = '/ip4/127.0.0.1/udp/0/webrtc-direct'
const DAY_MS = 86_400_000

const certhashOf = (addr: string): string | undefined => /\/certhash\/([^/]+)/.exec(addr)?.[1]
const webrtcAddrs = (addrs: string[]): string[] => addrs.filter((a) => a.includes('/webrtc-direct/'))

describe('WebRTC-direct: the daemon side', function () {
  this.timeout(90_000)
  const dirs: string[] = []
  const open: Array<{ close?: () => Promise<void>, stop?: () => Promise<void> }> = []
  const dir = async (label: string): Promise<string> => {
    const d = await tempDir(label)
    dirs.push(d)
    return d
  }
  const track = <T extends { close?: () => Promise<void>, stop?: () => Promise<void> }>(x: T): T => { open.push(x); return x }
  const node = async (directory: string, options: { listen?: string[], swarmKey?: Uint8Array } = {}): Promise<StartedNode> =>
    track(await startNode({ directory, ...options }))

  afterEach(async () => {
    for (const x of open.splice(0).reverse()) await (x.close ?? x.stop)?.().catch(() => {})
    for (const d of dirs.splice(0)) await removeDir(d)
  })

  it('a phone that reaches the laptop only over WebRTC-direct joins, reads what it wrote, and keeps syncing', async () => {
    // The laptop listens on WebRTC-direct alone: whatever the phone does, it goes over it.
    const laptop = track(await createAccount({ dir: await dir('laptop'), name: 'laptop', listen: [WEBRTC] }))
    await laptop.put('notes/1', 'written before the join')
    const invite = await laptop.invite({ ttlMs: 60_000, role: 'member' })
    const addrs = parseInvite(invite.text).addrs
    assert.equal(addrs.length, 1, addrs.join(' '))
    assert.match(addrs[0]!, /^\/ip4\/127\.0\.0\.1\/udp\/\d+\/webrtc-direct\/certhash\/u[\w-]+$/)

    const phone: NodeAccount = track(await joinAccount({ dir: await dir('phone'), invite: invite.text, name: 'phone' }))
    await invite.admitted
    assert.equal(phone.get('notes/1'), 'written before the join')
    const conns = phone.node.libp2p.getConnections() as unknown as Array<{ remoteAddr: { toString: () => string } }>
    assert.ok(conns.length > 0 && conns.every((c) => c.remoteAddr.toString().includes('/webrtc-direct/')), conns.map((c) => c.remoteAddr.toString()).join(' '))
    await laptop.put('notes/2', 'written after the join')
    await waitFor(() => phone.get('notes/2') === 'written after the join', 20_000, 'the laptop\'s later write on the phone')
    await phone.put('from/phone', 1)
    await waitFor(() => laptop.get('from/phone') === 1, 20_000, 'the phone\'s write on the laptop')
  })

  it('the certhash is the same after a restart, and a client dialing that address alone connects again', async () => {
    const laptopDir = await dir('laptop')
    const first = track(await createAccount({ dir: laptopDir, name: 'laptop', listen: [WEBRTC] }))
    const before = webrtcAddrs(first.addrs())
    assert.equal(before.length, 1, first.addrs().join(' '))
    const hash = certhashOf(before[0]!)
    await first.close()
    const mode = (await stat(join(laptopDir, 'node', CERT_FILE))).mode & 0o777
    assert.equal(mode, 0o600, `certificate file mode ${mode.toString(8)}`)

    const again = track(await openAccount({ dir: laptopDir, listen: [WEBRTC] }))
    const after = webrtcAddrs(again.addrs())
    assert.equal(after.length, 1)
    assert.equal(certhashOf(after[0]!), hash)
    const client = await node(await dir('client'))
    const conn = await client.libp2p.dial(multiaddr(after[0]!), { signal: AbortSignal.timeout(10_000) }) as { remotePeer: { toString: () => string } }
    assert.equal(conn.remotePeer.toString(), again.peerId())
  })

  it('a certificate near its expiry is replaced at start; one with time left is kept; a stale certhash does not connect', async () => {
    const nodeDir = await dir('node')
    const path = join(nodeDir, CERT_FILE)
    const now = Date.now()
    const store = async (notBefore: number, lifespanMs: number): Promise<string> => {
      const cert = await createWebRTCCertificate(notBefore, lifespanMs)
      await writeFile(path, JSON.stringify({ version: 1, privateKey: cert.privateKey, pem: cert.pem }), { mode: 0o600 })
      return cert.certhash
    }
    const startedHash = async (): Promise<{ hash: string | undefined, addr: string, node: StartedNode }> => {
      const n = await node(nodeDir, { listen: [WEBRTC] })
      const addr = webrtcAddrs(n.libp2p.getMultiaddrs().map(String))[0]!
      return { hash: certhashOf(addr), addr, node: n }
    }

    // 60 days left: kept.
    const kept = await store(now - 305 * DAY_MS, 365 * DAY_MS)
    const a = await startedHash()
    assert.equal(a.hash, kept)
    await a.node.stop()

    // 10 days left: a new one, valid about a year, stored for the next start.
    const old = await store(now - 355 * DAY_MS, 365 * DAY_MS)
    const b = await startedHash()
    assert.notEqual(b.hash, old)
    const stored = JSON.parse(await readFile(path, 'utf8')) as { pem: string }
    const { X509Certificate } = await import('node:crypto')
    const validTo = new X509Certificate(stored.pem).validToDate.getTime()
    assert.ok(validTo - now > 360 * DAY_MS, `valid to ${new Date(validTo).toISOString()}`)

    // The renewed certificate serves; an address with the old certhash is refused.
    const client = await node(await dir('client'))
    await client.libp2p.dial(multiaddr(b.addr), { signal: AbortSignal.timeout(10_000) })
    // Closed, so the next dial cannot reuse this connection to the same peer.
    for (const c of client.libp2p.getConnections()) await c.close()
    const staleAddr = b.addr.replace(b.hash!, old)
    await assert.rejects(client.libp2p.dial(multiaddr(staleAddr), { signal: AbortSignal.timeout(10_000) }))
  })

  it('a damaged certificate file is replaced, not fatal', async () => {
    const nodeDir = await dir('node')
    await writeFile(join(nodeDir, CERT_FILE), '{"version":1,"privateKey":"x","pem":"y"}', { mode: 0o600 })
    const n = await node(nodeDir, { listen: [WEBRTC] })
    assert.equal(webrtcAddrs(n.libp2p.getMultiaddrs().map(String)).length, 1)
    const stored = JSON.parse(await readFile(join(nodeDir, CERT_FILE), 'utf8')) as { pem: string }
    assert.match(stored.pem, /BEGIN CERTIFICATE/)
  })

  it('private mode: asked to listen on WebRTC-direct, the node does not, so a thief without the swarm key cannot connect on any address it lists', async () => {
    const swarmKey = randomBytes(32)
    const laptop = await node(await dir('private'), { listen: ['/ip4/127.0.0.1/tcp/0', WEBRTC], swarmKey })
    const addrs = laptop.libp2p.getMultiaddrs().map(String)
    assert.ok(addrs.length > 0)
    // The thief runs the same transports (WebRTC-direct included), only without the key.
    const thief = await node(await dir('thief'))
    for (const addr of addrs) {
      await assert.rejects(thief.libp2p.dial(multiaddr(addr), { signal: AbortSignal.timeout(5000) }), `the thief connected on ${addr}`)
    }
    assert.equal(thief.libp2p.getPeers().length, 0)
    assert.deepEqual(webrtcAddrs(addrs), [])
  })
})
