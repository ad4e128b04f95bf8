/**
 * Forged join requests against invitations recorded in the registry, answered by a
 * restarted laptop that holds no invite secret (only the registry): a thief with a real
 * node, who can read the invitations' ids and keys, sends requests with a wrong secret,
 * for an expired or a spent invitation, and a second request on one invitation. None
 * admits anything, and none leaves anything stored: the registry does not grow.
 */
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { signAdmission } from '../../acl/invitation.ts'
import { joinAccount, openAccount, type NodeAccount } from '../../src/node/account-dir.ts'
import { inviteId, parseInvite } from '../../src/invite/invite.ts'
import { JOIN_PROTOCOL, type JoinMessage } from '../../src/join/messages.ts'
import { messageChannel, type MessageChannel } from '../../src/join/stream.ts'
import { base64urlEncode, randomBytes } from '../../src/crypto/bytes.ts'
import type { DeviceDescriptor } from '../../acl/types.ts'
import { removeDir, startDevice, type TestDevice } from '../helpers/device.ts'
import { Devices, LOOPBACK } from './helpers.ts'

const step = (): AbortSignal => AbortSignal.timeout(10_000)

describe('join: forged requests on recorded invitations', function () {
  this.timeout(120_000)
  let d: Devices
  let thief: TestDevice

  beforeEach(async () => {
    d = new Devices()
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

  /** Hello for invitation `id`, then the proof `proof` (if asked); returns the laptop's last answer. */
  const attempt = async (laptop: NodeAccount, id: string, proof: (role: 'admin' | 'member') => string): Promise<JoinMessage> => {
    const channel: MessageChannel = messageChannel(await thief.node.libp2p.dialProtocol(laptop.addrs().map((a) => multiaddr(a)), JOIN_PROTOCOL, { signal: step() }))
    try {
      await channel.send({ t: 'hello', v: 1, invite: id }, step())
      const challenge = await channel.receive(step())
      if (challenge.t !== 'challenge') return challenge
      await channel.send({ t: 'request', nonce: base64urlEncode(randomBytes(16)), device: thiefDescriptor(), mac: base64urlEncode(randomBytes(32)), proof: proof(challenge.role) }, step())
      return await channel.receive(step())
    } finally {
      await channel.close()
    }
  }
  const codeOf = (m: JoinMessage): string => m.t === 'error' ? m.code : m.t

  it('wrong secret, expired, spent and second requests admit nothing and store nothing', async () => {
    const laptop = await d.create('laptop')
    const addr = laptop.addrs().find((a) => a.includes('/tcp/') && !a.includes('/ws'))?.replace(/\/p2p\/[^/]+$/, '') as string
    const open = await laptop.invite({ ttlMs: 60_000, role: 'admin' })
    const short = await laptop.invite({ ttlMs: 1000, role: 'member' })
    const spent = await laptop.invite({ ttlMs: 60_000, role: 'member' })
    const phone = await joinAccount({ dir: await d.dir('phone'), invite: spent.text, name: 'phone', listen: LOOPBACK })
    d.open.set('phone', phone)
    await spent.admitted
    await d.stop('phone')
    await assert.rejects(short.admitted, { code: 'INVITE_EXPIRED' })
    // Restarted: it holds no secret any more, only the registry's invitations.
    await d.stop('laptop')
    const back = await openAccount({ dir: await d.dir('laptop'), listen: [addr] })
    d.open.set('laptop', back)
    const idOf = (text: string): string => inviteId(parseInvite(text).secret)
    // Nothing appended: the registry's heads and state stay as they are.
    const snapshot = async (): Promise<unknown> => ({ heads: (await back.heads()).registryHeads.sort(), state: back.state(), rejected: back.rejected().registry })
    const before = await snapshot()

    // A wrong secret: the thief knows the id and the public key, not the secret.
    const wrong = await attempt(back, idOf(open.text), (role) => signAdmission(randomBytes(16), idOf(open.text), thiefDescriptor(), role))
    assert.equal(codeOf(wrong), 'INVITE_REJECTED')
    // Expired and spent invitations are refused before any proof is asked for.
    assert.equal(codeOf(await attempt(back, idOf(short.text), () => '')), 'INVITE_EXPIRED')
    assert.equal(codeOf(await attempt(back, idOf(spent.text), () => '')), 'INVITE_USED')
    // A proof made for another role than the invitation's does not verify either.
    const otherRole = await attempt(back, idOf(open.text), () => signAdmission(parseInvite(open.text).secret, idOf(open.text), thiefDescriptor(), 'member'))
    assert.equal(codeOf(otherRole), 'INVITE_REJECTED')

    assert.deepEqual(await snapshot(), before, 'a forged request admitted a device or left something in the registry')

    // The real holder joins; a second request on that invitation is INVITE_USED.
    const tablet = await joinAccount({ dir: await d.dir('tablet'), invite: open.text, name: 'tablet', listen: LOOPBACK })
    d.open.set('tablet', tablet)
    const second = await attempt(back, idOf(open.text), (role) => signAdmission(parseInvite(open.text).secret, idOf(open.text), thiefDescriptor(), role))
    assert.equal(codeOf(second), 'INVITE_USED')
    assert.deepEqual(back.devices().map((x) => x.name), ['laptop', 'phone', 'tablet'])
  })
})
