/**
 * The `orbit-account daemon` on WebRTC-direct, through the real CLI: its invite carries
 * the addresses a browser dials (WebSockets and WebRTC-direct with its certhash), and
 * after a restart on its remembered listen addresses its WebRTC-direct address is the
 * very same (port and certhash), and a Node client dialing that address alone connects.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { startNode, type StartedNode } from '../../src/network/node.ts'
import { parseInvite } from '../../src/invite/invite.ts'
import { Sandbox, type JsonObject, type Running } from '../cli/helpers.ts'

const WS = '/ip4/127.0.0.1/tcp/0/ws'
const WEBRTC = '/ip4/127.0.0.1/udp/0/webrtc-direct'

const startDaemon = async (cli: Sandbox, listen: string[]): Promise<{ daemon: Running, addrs: string[] }> => {
  const daemon = cli.spawn(['daemon', ...listen.flatMap((l) => ['--listen', l])])
  const line = await daemon.waitForLine('stdout', (l) => l.startsWith('{') && l.includes('"ready"'), 60_000)
  return { daemon, addrs: (JSON.parse(line) as JsonObject).addrs as string[] }
}

describe('orbit-account daemon on WebRTC-direct', function () {
  this.timeout(120_000)
  let cli: Sandbox
  let client: StartedNode | undefined
  beforeEach(async () => { cli = await Sandbox.create() })
  afterEach(async () => {
    await client?.stop()
    client = undefined
    await cli.cleanup()
  })

  it('invites with its WebSockets and WebRTC-direct addresses, and keeps the WebRTC-direct address across a restart', async () => {
    await cli.json(['create', '--name', 'laptop', '--no-recovery'])
    const first = await startDaemon(cli, [WS, WEBRTC])
    const webrtc = first.addrs.filter((a) => a.includes('/webrtc-direct/'))
    assert.equal(webrtc.length, 1, first.addrs.join(' '))
    assert.match(webrtc[0]!, /^\/ip4\/127\.0\.0\.1\/udp\/\d+\/webrtc-direct\/certhash\/u[\w-]+\/p2p\/12D3KooW\w+$/)

    const invite = cli.spawn(['invite', '--no-qr'])
    const shown = JSON.parse(await invite.waitForLine('stdout', (l) => l.includes('"invite"'), 30_000)) as JsonObject
    const strip = (a: string): string => a.replace(/\/p2p\/[^/]+$/, '')
    assert.deepEqual(parseInvite(String(shown.invite)).addrs, [strip(first.addrs.find((a) => a.includes('/ws/'))!), strip(webrtc[0]!)])
    await invite.stop()

    first.daemon.proc.kill('SIGTERM')
    assert.deepEqual(await first.daemon.waitForExit(15_000), { code: 0, signal: null }, first.daemon.describe())
    const remembered = JSON.parse(await readFile(join(cli.dir, 'peers.json'), 'utf8')) as { listen: string[] }
    assert.ok(remembered.listen.some((a) => /^\/ip4\/127\.0\.0\.1\/udp\/[1-9]\d*\/webrtc-direct$/.test(a)), remembered.listen.join(' '))

    // No --listen: the remembered addresses, so the same port and the same certificate.
    const second = await startDaemon(cli, [])
    assert.deepEqual(second.addrs.filter((a) => a.includes('/webrtc-direct/')), webrtc)
    client = await startNode({ directory: join(cli.root, 'client') })
    const conn = await client.libp2p.dial(multiaddr(webrtc[0]!), { signal: AbortSignal.timeout(10_000) }) as { remotePeer: { toString: () => string } }
    assert.ok(webrtc[0]!.endsWith(`/p2p/${conn.remotePeer.toString()}`))
  })

  it('a private account\'s daemon asked for WebRTC-direct does not listen on it, and says why', async () => {
    await cli.json(['create', '--name', 'laptop', '--mode', 'private', '--no-recovery'])
    const { daemon, addrs } = await startDaemon(cli, [WS, WEBRTC])
    assert.ok(addrs.length > 0 && addrs.every((a) => a.includes('/ws/')), addrs.join(' '))
    await daemon.waitForLine('stderr', (l) => l.includes('does not listen on WebRTC-direct'), 10_000)
  })
})
