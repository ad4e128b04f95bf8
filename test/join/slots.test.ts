/**
 * Strangers on the join protocol: peers that know no invite (or only a wrong one) open
 * streams to the inviting device and send nothing, or a hello for no open invite. They
 * must not keep the real device from joining: a stream holds an invite only once its
 * hello names it, streams waiting for a hello are few, and a joiner turned away as busy
 * tries again while its invite is valid.
 */
import assert from 'node:assert/strict'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Stream } from '@libp2p/interface'
import { Devices, LOOPBACK } from './helpers.ts'
import { waitFor } from '../helpers/device.ts'
import { JOIN_PROTOCOL } from '../../src/join/messages.ts'
import { messageChannel, type MessageChannel } from '../../src/join/stream.ts'
import { inviteId, parseInvite } from '../../src/invite/invite.ts'
import { joinAccount, type NodeAccount } from '../../src/node/account-dir.ts'

const step = (): AbortSignal => AbortSignal.timeout(10_000)
const pause = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** A bare libp2p node that can dial the inviter: it never had an invite. */
const startStranger = async (): Promise<Libp2p> => await createLibp2p({
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  connectionGater: { denyDialMultiaddr: () => false }
})

/** What the strangers' silent streams got back. */
interface Seen {
  opened: number
  /** Replies by message type or error code ("challenge" would mean a stream got into a join). */
  replies: Map<string, number>
  /** Streams the inviter ended without a reply (it dropped them). */
  dropped: number
  /** The longest a stream stayed open before the inviter answered or dropped it (ms). */
  longestMs: number
}

/**
 * Keeps one silent join stream open from `node` until `until` aborts: whenever the
 * inviter ends it, opens another. Nothing is ever sent on it.
 */
const holdSilent = async (node: Libp2p, targets: Multiaddr[], until: AbortSignal, seen: Seen): Promise<void> => {
  while (!until.aborted) {
    let stream: Stream
    try {
      stream = await node.dialProtocol(targets, JOIN_PROTOCOL, { signal: AbortSignal.any([until, step()]) })
    } catch {
      await pause(50)
      continue
    }
    seen.opened++
    const opened = Date.now()
    const channel = messageChannel(stream)
    try {
      const reply = await channel.receive(AbortSignal.any([until, AbortSignal.timeout(15_000)]))
      const what = reply.t === 'error' ? reply.code : reply.t
      seen.replies.set(what, (seen.replies.get(what) ?? 0) + 1)
    } catch {
      if (!until.aborted) seen.dropped++
    }
    if (!until.aborted) seen.longestMs = Math.max(seen.longestMs, Date.now() - opened)
    channel.drop('done')
    await pause(50)
  }
}

describe('join: strangers holding join streams', function () {
  this.timeout(90_000)
  let d: Devices
  let laptop: NodeAccount
  let strangers: Libp2p[]
  let stopAttack: AbortController

  beforeEach(async () => {
    d = new Devices()
    laptop = await d.create('laptop')
    await laptop.put('notes/1', 'written before the join')
    strangers = []
    stopAttack = new AbortController()
  })
  afterEach(async () => {
    stopAttack.abort()
    await Promise.all(strangers.map(async (s) => { await s.stop() }))
    await d.cleanup()
  })

  const targets = (): Multiaddr[] => laptop.addrs().map((a) => multiaddr(a))
  /** Starts `n` strangers, each connected to the laptop. */
  const addStrangers = async (n: number): Promise<Libp2p[]> => {
    const added = await Promise.all(Array.from({ length: n }, startStranger))
    strangers.push(...added)
    for (const stranger of added) {
      await stranger.dial(targets(), { signal: step() })
      // libp2p takes at most 5 new connections a second from one host, and here every peer is 127.0.0.1.
      await pause(250)
    }
    return added
  }
  const joinPhone = async (invite: string, progress: string[]): Promise<NodeAccount> => {
    const phone = await joinAccount({ dir: await d.dir('phone'), invite, name: 'phone', listen: LOOPBACK, onProgress: (m) => { progress.push(m) } })
    d.open.set('phone', phone)
    return phone
  }

  it('20 silent streams from 10 strangers, reopened as soon as they end, do not keep the phone from joining', async () => {
    const ttlMs = 30_000
    const open = await laptop.invite({ ttlMs, role: 'member' })
    const seen: Seen = { opened: 0, replies: new Map(), dropped: 0, longestMs: 0 }
    const attack: Array<Promise<void>> = []
    for (const stranger of await addStrangers(10)) {
      for (let i = 0; i < 2; i++) attack.push(holdSilent(stranger, targets(), stopAttack.signal, seen))
    }
    // The attack is in place: all 20 streams opened, and the waiting room overflowed.
    await waitFor(() => seen.opened >= 20 && seen.replies.size >= 1, 15_000, 'the strangers\' streams')

    // Past libp2p's rate limit of new connections from this host (the phone is on 127.0.0.1 too).
    await pause(1100)
    const started = Date.now()
    const progress: string[] = []
    const phone = await joinPhone(open.text, progress)
    const took = Date.now() - started
    assert.deepEqual(await open.admitted, { device: phone.info().device, name: 'phone', role: 'member' })
    assert.equal(phone.get('notes/1'), 'written before the join')
    assert.ok(took < ttlMs, `the join took ${took} ms, past the invite's ${ttlMs} ms`)
    // Keep the attack on a little longer, so the strangers' later streams are seen too.
    await pause(3500)
    stopAttack.abort()
    await Promise.all(attack)

    // No stranger's stream got anywhere: each was turned away (BUSY when a newer stream
    // took its place) or dropped after the hello timeout, and none was held longer.
    assert.deepEqual([...seen.replies.keys()], ['BUSY'], `replies: ${JSON.stringify([...seen.replies])}`)
    assert.ok(seen.longestMs < 6000, `a silent stream stayed open ${seen.longestMs} ms`)
    assert.ok(seen.opened > 20, `the strangers reopened their streams (${seen.opened})`)
    console.log(`    strangers: ${seen.opened} streams, ${JSON.stringify([...seen.replies])}, ${seen.dropped} dropped; join ${took} ms, progress: ${progress.filter((m) => m.includes('busy')).length} busy`)
    assert.deepEqual(laptop.devices().map((x) => x.name).sort(), ['laptop', 'phone'])
  })

  it('one stranger keeps only two silent streams waiting; the rest are turned away at once', async () => {
    // The laptop serves the join protocol while it has an invite open.
    const open = await laptop.invite({ ttlMs: 30_000, role: 'member' })
    open.admitted.catch(() => {})
    const [stranger] = await addStrangers(1)
    assert.ok(stranger !== undefined)
    const opened = Date.now()
    const streams = await Promise.all(Array.from({ length: 6 }, async () => messageChannel(await stranger.dialProtocol(targets(), JOIN_PROTOCOL, { signal: step() }))))
    const outcomes = await Promise.all(streams.map(async (channel) => {
      try {
        const reply = await channel.receive(AbortSignal.timeout(15_000))
        return { what: reply.t === 'error' ? reply.code : reply.t, ms: Date.now() - opened }
      } catch {
        return { what: 'dropped', ms: Date.now() - opened }
      } finally {
        channel.drop('done')
      }
    }))
    const busy = outcomes.filter((o) => o.what === 'BUSY')
    const dropped = outcomes.filter((o) => o.what === 'dropped')
    assert.equal(busy.length, 4, JSON.stringify(outcomes))
    assert.equal(dropped.length, 2, JSON.stringify(outcomes))
    assert.ok(busy.every((o) => o.ms < 2000), `turned away at once: ${JSON.stringify(busy)}`)
    assert.ok(dropped.every((o) => o.ms >= 2500 && o.ms < 6000), `dropped at the hello timeout: ${JSON.stringify(dropped)}`)
  })

  it('a hello naming a wrong invite is refused and holds nothing: the phone joins without ever being told busy', async () => {
    const open = await laptop.invite({ ttlMs: 30_000, role: 'member' })
    const realId = inviteId(parseInvite(open.text).secret)
    const [stranger] = await addStrangers(1)
    assert.ok(stranger !== undefined)
    // Wrong ids, one of them a single character off; each stream is left open by the stranger.
    const wrongIds = ['0'.repeat(32), realId.slice(0, -1) + (realId.endsWith('a') ? 'b' : 'a'), realId.toUpperCase(), 'x', realId.slice(1), `${realId}0`]
    const held: MessageChannel[] = []
    for (const id of wrongIds) {
      assert.notEqual(id, realId)
      const channel = messageChannel(await stranger.dialProtocol(targets(), JOIN_PROTOCOL, { signal: step() }))
      held.push(channel)
      await channel.send({ t: 'hello', v: 1, invite: id }, step())
      const reply = await channel.receive(step())
      assert.equal(reply.t === 'error' ? reply.code : reply.t, 'INVITE_REJECTED', `hello for ${id}`)
    }
    const progress: string[] = []
    const phone = await joinPhone(open.text, progress)
    assert.deepEqual(progress.filter((m) => m.includes('busy')), [])
    assert.equal((await open.admitted).device, phone.info().device)
    for (const channel of held) channel.drop('done')
  })

  it('while another stream holds the invite, the phone is told busy and tries again until it gets in', async () => {
    const open = await laptop.invite({ ttlMs: 30_000, role: 'member' })
    const [holder] = await addStrangers(1)
    assert.ok(holder !== undefined)
    // Someone who saw the invite id (not the secret) starts a join and goes silent.
    const channel = messageChannel(await holder.dialProtocol(targets(), JOIN_PROTOCOL, { signal: step() }))
    await channel.send({ t: 'hello', v: 1, invite: inviteId(parseInvite(open.text).secret) }, step())
    assert.equal((await channel.receive(step())).t, 'challenge')
    const progress: string[] = []
    const joining = joinPhone(open.text, progress)
    await waitFor(() => progress.filter((m) => m.includes('busy')).length >= 2, 10_000, 'the phone to be told busy twice')
    channel.drop('gone')
    const phone = await joining
    assert.equal((await open.admitted).device, phone.info().device)
  })

  it('a phone kept busy until its invite expires fails with INVITE_EXPIRED then, not later', async () => {
    const open = await laptop.invite({ ttlMs: 4000, role: 'member' })
    open.admitted.catch(() => {})
    const [holder] = await addStrangers(1)
    assert.ok(holder !== undefined)
    const channel = messageChannel(await holder.dialProtocol(targets(), JOIN_PROTOCOL, { signal: step() }))
    await channel.send({ t: 'hello', v: 1, invite: inviteId(parseInvite(open.text).secret) }, step())
    assert.equal((await channel.receive(step())).t, 'challenge')
    const progress: string[] = []
    const started = Date.now()
    await assert.rejects(joinPhone(open.text, progress), { code: 'INVITE_EXPIRED' })
    const took = Date.now() - started
    assert.ok(took < 8000, `gave up after ${took} ms`)
    assert.ok(progress.some((m) => m.includes('busy')), JSON.stringify(progress))
    assert.deepEqual(laptop.devices().map((x) => x.name), ['laptop'])
    channel.drop('done')
  })
})
