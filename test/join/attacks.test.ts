/**
 * A thief with real keys and a real node on the same network. It knows the account's
 * address and may have seen invites or join messages; it was never admitted.
 */
import assert from 'node:assert/strict'
import { signAdmission } from '../../acl/invitation.ts'
import { multiaddr } from '@multiformats/multiaddr'
import { Devices } from './helpers.ts'
import { startDevice, removeDir, waitFor, type TestDevice } from '../helpers/device.ts'
import { JOIN_PROTOCOL, requestMac, type JoinMessage, type Transcript } from '../../src/join/messages.ts'
import { messageChannel, type MessageChannel } from '../../src/join/stream.ts'
import { encodeInvite, inviteId, parseInvite } from '../../src/invite/invite.ts'
import { base64urlEncode, randomBytes } from '../../src/crypto/bytes.ts'
import { openAccountCore, openRegistry } from '../../src/account/open.ts'
import { encryptedCodec } from '../../src/store/codec.ts'
import { generateKey } from '../../src/crypto/aead.ts'
import { Entry } from '../../src/orbit/orbitdb.ts'
import { ManagedDatabase } from '../../src/orbit/database.ts'
import type { NodeAccount } from '../../src/node/account-dir.ts'
import type { DeviceDescriptor } from '../../acl/types.ts'

const step = (): AbortSignal => AbortSignal.timeout(10_000)

describe('join and access under attack (thief)', function () {
  this.timeout(120_000)
  let d: Devices
  let thief: TestDevice
  let laptop: NodeAccount

  beforeEach(async () => {
    d = new Devices()
    laptop = await d.create('laptop')
    await laptop.put('bank/pin', '1234')
    thief = await startDevice('thief', { listen: true })
  })
  afterEach(async () => {
    await thief.stop()
    await removeDir(thief.dir)
    await d.cleanup()
  })

  const thiefDescriptor = (): DeviceDescriptor => ({
    device: thief.secrets.device,
    name: 'thief',
    signingKey: base64urlEncode(thief.secrets.signing.publicKey),
    boxKey: base64urlEncode(thief.secrets.box.publicKey)
  })

  const dialJoin = async (): Promise<MessageChannel> => {
    const targets = laptop.addrs().map((a) => multiaddr(a))
    return messageChannel(await thief.node.libp2p.dialProtocol(targets, JOIN_PROTOCOL, { signal: step() }))
  }

  /** Runs hello + challenge; returns the channel and the challenge. */
  const start = async (id: string): Promise<{ channel: MessageChannel, challenge: JoinMessage }> => {
    const channel = await dialJoin()
    await channel.send({ t: 'hello', v: 1, invite: id }, step())
    return { channel, challenge: await channel.receive(step()) }
  }

  it('a wrong secret is refused, admits nothing, and leaves the real invite usable', async () => {
    const open = await laptop.invite({ ttlMs: 60_000, role: 'member' })
    const real = parseInvite(open.text)
    const forged = encodeInvite({ ...real, secret: randomBytes(16) })
    const phoneDir = await d.dir('phone')
    const { joinAccount } = await import('../../src/node/account-dir.ts')
    await assert.rejects(joinAccount({ dir: phoneDir, invite: forged, name: 'thief', listen: [] }), { code: 'INVITE_REJECTED' })
    // Knowing the invite id but not the secret: the proof fails.
    const { channel, challenge } = await start(inviteId(real.secret))
    assert.equal(challenge.t, 'challenge')
    await channel.send({ t: 'request', nonce: base64urlEncode(randomBytes(16)), device: thiefDescriptor(), mac: base64urlEncode(randomBytes(32)), proof: base64urlEncode(randomBytes(64)) }, step())
    const answer = await channel.receive(step())
    assert.deepEqual(answer.t === 'error' ? answer.code : answer.t, 'INVITE_REJECTED')
    assert.equal(laptop.devices().length, 1)
    const phone = await d.join('phone', 'laptop')
    assert.equal(phone.get('bank/pin'), '1234')
  })

  it('a join request captured from another session does not verify (the inviter\'s nonce is fresh)', async () => {
    const open = await laptop.invite({ ttlMs: 60_000, role: 'admin' })
    const invite = parseInvite(open.text)
    const id = inviteId(invite.secret)
    // Session A: a valid request is made (as the real phone would), but captured instead of delivered.
    const a = await start(id)
    assert.ok(a.challenge.t === 'challenge')
    const nonce = base64urlEncode(randomBytes(16))
    const t: Transcript = { inviteId: id, account: laptop.address, inviterDevice: laptop.device, inviterNonce: a.challenge.nonce, joinerNonce: nonce, joiner: thiefDescriptor() }
    const captured: JoinMessage = { t: 'request', nonce, device: thiefDescriptor(), mac: requestMac(invite.secret, t), proof: signAdmission(invite.secret, id, thiefDescriptor(), 'admin') }
    await a.channel.close()
    await waitFor(async () => {
      // Session B: the captured request replayed.
      const b = await start(id)
      if (b.challenge.t === 'error') { await b.channel.close(); return false }
      await b.channel.send(captured, step())
      const answer = await b.channel.receive(step())
      await b.channel.close()
      assert.equal(answer.t === 'error' ? answer.code : answer.t, 'INVITE_REJECTED')
      return true
    }, 10_000, 'a session for the replay')
    assert.equal(laptop.devices().length, 1)
  })

  it('a used invite and an expired invite are refused', async () => {
    const open = await laptop.invite({ ttlMs: 60_000, role: 'member' })
    const { joinAccount } = await import('../../src/node/account-dir.ts')
    const phone = await joinAccount({ dir: await d.dir('phone'), invite: open.text, name: 'phone', listen: [] })
    await phone.close()
    await assert.rejects(joinAccount({ dir: await d.dir('tablet'), invite: open.text, name: 'tablet', listen: [] }), { code: 'INVITE_USED' })
    const short = await laptop.invite({ ttlMs: 1000, role: 'member' })
    await assert.rejects(short.admitted, { code: 'INVITE_EXPIRED' })
    await assert.rejects(joinAccount({ dir: await d.dir('tablet'), invite: short.text, name: 'tablet', listen: [] }), { code: 'INVITE_EXPIRED' })
    // Past the joiner's own check: the inviter refuses too (the registry records the invitation's expiry).
    const { channel, challenge } = await start(inviteId(parseInvite(short.text).secret))
    assert.equal(challenge.t === 'error' ? challenge.code : challenge.t, 'INVITE_EXPIRED')
    await channel.close()
    assert.deepEqual(laptop.devices().map((x) => x.name), ['laptop', 'phone'])
  })

  it('knowing the address, the thief can copy ciphertext but read nothing, and its writes are refused on every peer', async () => {
    const phone = await d.join('phone', 'laptop')
    await thief.node.libp2p.dial(multiaddr(laptop.addrs()[0] as string))
    await thief.node.libp2p.dial(multiaddr(phone.addrs()[0] as string))
    // Read: it can replicate the registry, but it holds no lockbox.
    const registry = await openRegistry(thief.orbitdb, laptop.address)
    try {
      await waitFor(() => registry.state().initialized && registry.state().devices[phone.device] !== undefined, 15_000, 'the thief to get the registry')
    } finally {
      await registry.close()
    }
    await assert.rejects(openAccountCore({ orbitdb: thief.orbitdb, secrets: thief.secrets, address: laptop.address }), { code: 'NOT_AUTHORIZED' })
    const epoch = laptop.state().epoch
    assert.ok(epoch !== null)
    const copy = await thief.orbitdb.open(epoch.dataLog, { Database: ManagedDatabase })
    await waitFor(async () => (await copy.log.values()).length >= 1, 15_000, 'the thief to copy the data log')
    for (const entry of await copy.log.values()) {
      assert.ok(entry.payload instanceof Uint8Array)
      assert.ok(!new TextDecoder().decode(entry.payload).includes('1234'))
    }
    // Write: a forged entry announced on the data log's topic reaches both devices and is refused.
    const heads = await copy.log.heads()
    const payload = encryptedCodec(generateKey(), laptop.address, 0).encode({ op: 'put', key: 'bank/pin', value: '0000' })
    const forged = await Entry.create(thief.identity, epoch.dataLog, payload, undefined, { id: thief.identity.publicKey, time: 1_000_000 }, heads.map((h) => h.hash))
    const { bytes } = await Entry.encode(forged)
    const pubsub = thief.node.libp2p.services.pubsub as { publish: (topic: string, data: Uint8Array) => Promise<unknown> }
    await waitFor(async () => {
      await pubsub.publish(epoch.dataLog, bytes).catch(() => {})
      return laptop.rejected().data >= 1 && phone.rejected().data >= 1
    }, 20_000, 'both devices to refuse the forged entry')
    assert.equal(laptop.get('bank/pin'), '1234')
    assert.equal(phone.get('bank/pin'), '1234')
  })
})
