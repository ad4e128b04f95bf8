/**
 * Forged join requests at a replica: a hostile peer with its own node and real keys tries
 * a wrong secret, an unknown, expired, spent, withdrawn or --confirm invitation, a second
 * request on one invitation, and a flood. Each is refused with a clear answer; the
 * replica's stored requests stay within the bound it states; and when the laptop comes
 * back it admits exactly the genuine requests, nothing forged.
 */
import assert from 'node:assert/strict'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { serveReplica, type ServedReplica } from '../../src/node/replica-dir.ts'
import { JOIN_REQUEST_PROTOCOL, type PendingRequest } from '../../src/replica/join-requests.ts'
import { serveReplicaInfo } from '../../src/replica/info.ts'
import { invitationPublicKey, signAdmission } from '../../acl/invitation.ts'
import { inviteId, newInviteSecret } from '../../src/invite/invite.ts'
import { generateDeviceKeys, deviceIdFromSigningKey } from '../../identity/keys.ts'
import { base64urlEncode, utf8Decode, utf8Encode } from '../../src/crypto/bytes.ts'
import type { DeviceDescriptor } from '../../acl/types.ts'
import type { NodeAccount } from '../../src/node/account-dir.ts'
import { Devices, LOOPBACK } from './helpers.ts'
import { removeDir, tempDir, waitFor } from '../helpers/device.ts'

const LIMITS = { count: 3, bytes: 3 * 1024 }

const newDevice = (name: string): DeviceDescriptor => {
  const keys = generateDeviceKeys()
  return { device: deviceIdFromSigningKey(keys.signing.publicKey), name, signingKey: base64urlEncode(keys.signing.publicKey), boxKey: base64urlEncode(keys.box.publicKey) }
}

/** The hostile peer's raw client: ask about `id`, then leave `device` with `proof`; the replica's last answer. */
const leave = async (from: NodeAccount, replicaAddr: string, id: string, device: DeviceDescriptor, proof: (role: string) => string): Promise<{ t: string, code?: string, message?: string }> => {
  const stream = await from.node.libp2p.dialProtocol(multiaddr(replicaAddr), JOIN_REQUEST_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
  const lp = lpStream(stream)
  const read = async (): Promise<{ t: string, code?: string, message?: string, role?: string }> => JSON.parse(utf8Decode((await lp.read({ signal: AbortSignal.timeout(10_000) })).subarray(), 'answer'))
  try {
    await lp.write(utf8Encode(JSON.stringify({ t: 'ask', invitation: id })))
    const first = await read()
    if (first.t !== 'role') return first
    await lp.write(utf8Encode(JSON.stringify({ t: 'leave', device, proof: proof(first.role as string) })))
    return await read()
  } finally {
    await stream.close().catch(() => {})
  }
}

describe('forged join requests at a replica', function () {
  this.timeout(120_000)
  let d: Devices
  let replica: ServedReplica | undefined
  let replicaDir: string

  beforeEach(async () => {
    d = new Devices()
    replicaDir = await tempDir('replica')
  })
  afterEach(async () => {
    await replica?.close()
    replica = undefined
    await d.cleanup()
    await removeDir(replicaDir)
  })

  it('refuses each forgery with a clear answer, stays within its bound under a flood, and the laptop admits only the genuine requests', async () => {
    const laptop = await d.create('laptop')
    replica = await serveReplica({ dir: replicaDir, address: laptop.address, listen: LOOPBACK, joinRequestLimits: LIMITS })
    const replicaAddr = replica.addrs().find((a) => a.includes('/tcp/') && !a.includes('/ws')) as string
    await laptop.addReplica(replicaAddr)
    const served = await replica.ready

    const record = async (options: { ttlS?: number, confirm?: boolean } = {}): Promise<{ id: string, secret: Uint8Array }> => {
      const secret = newInviteSecret()
      const id = inviteId(secret)
      await laptop.recordInvitation({ id, key: invitationPublicKey(secret), role: 'member', expires: Math.floor(Date.now() / 1000) + (options.ttlS ?? 600), confirm: options.confirm === true })
      return { id, secret }
    }
    const genuine = await record()
    const expiring = await record({ ttlS: 2 })
    const spent = await record()
    const withdrawn = await record()
    const confirmed = await record({ confirm: true })
    const more = await Promise.all([record(), record(), record(), record()])
    const used = newDevice('used-it')
    await laptop.admit(used, 'member', { id: spent.id, proof: signAdmission(spent.secret, spent.id, used, 'member') })
    await laptop.withdrawInvitation(withdrawn.id)
    await waitFor(() => more.every((m) => served.state().invitations[m.id] !== undefined) && served.state().invitations[withdrawn.id]?.withdrawnIn !== undefined &&
      served.state().invitations[spent.id]?.usedIn !== undefined, 20_000, 'the replica to hold the invitations')
    const devicesBefore = laptop.state().devices
    await d.stop('laptop')
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, (served.state().invitations[expiring.id]!.expires * 1000) - Date.now() + 100)))

    const mallory = await d.create('mallory')
    const signedWith = (secret: Uint8Array, id: string, device: DeviceDescriptor) => (role: string): string => signAdmission(secret, id, device, role as 'member')
    const forged: DeviceDescriptor[] = []
    const attempt = async (id: string, secret: Uint8Array, signId = id): Promise<{ t: string, code?: string, message?: string }> => {
      const device = newDevice('mallory')
      forged.push(device)
      return await leave(mallory, replicaAddr, id, device, signedWith(secret, signId, device))
    }
    const refused = (answer: { t: string, code?: string, message?: string }, code: string, why: RegExp): void => {
      assert.equal(answer.t, 'error', JSON.stringify(answer))
      assert.equal(answer.code, code, JSON.stringify(answer))
      assert.match(answer.message ?? '', why)
    }
    refused(await attempt(genuine.id, newInviteSecret()), 'INVITE_REJECTED', /not signed by the invitation's key/)
    refused(await attempt(inviteId(newInviteSecret()), newInviteSecret()), 'INVITE_REJECTED', /no such invite/)
    refused(await attempt(expiring.id, expiring.secret), 'INVITE_EXPIRED', /expired/)
    refused(await attempt(spent.id, spent.secret), 'INVITE_USED', /already used/)
    refused(await attempt(withdrawn.id, withdrawn.secret), 'INVITE_REJECTED', /withdrawn/)
    refused(await attempt(confirmed.id, confirmed.secret), 'INVITE_REJECTED', /confirm/)
    // A signature over another invitation's admission does not pass for this one.
    refused(await attempt(genuine.id, more[0]!.secret, more[0]!.id), 'INVITE_REJECTED', /not signed/)
    assert.equal(replica.joinRequests().count, 0, 'no forged request is stored')

    // The genuine joiner's request is taken (and again, unchanged); a second device on the same invitation is not.
    const phone = newDevice('phone')
    assert.equal((await leave(mallory, replicaAddr, genuine.id, phone, signedWith(genuine.secret, genuine.id, phone))).t, 'left')
    assert.equal((await leave(mallory, replicaAddr, genuine.id, phone, signedWith(genuine.secret, genuine.id, phone))).t, 'left')
    refused(await attempt(genuine.id, genuine.secret), 'INVITE_USED', /already waiting/)

    // A flood: valid requests past the bound are told BUSY, forged ones are refused, and the store stays within it.
    const answers = []
    const admissible: DeviceDescriptor[] = [phone]
    for (const m of more) {
      const device = newDevice('tablet')
      const answer = await leave(mallory, replicaAddr, m.id, device, signedWith(m.secret, m.id, device))
      if (answer.t === 'left') admissible.push(device)
      answers.push(answer)
    }
    assert.deepEqual(answers.map((a) => a.t === 'left' ? 'left' : a.code), ['left', 'left', 'BUSY', 'BUSY'])
    for (let i = 0; i < 40; i++) refused(await attempt(inviteId(newInviteSecret()), newInviteSecret()), 'INVITE_REJECTED', /no such invite/)
    const size = replica.joinRequests()
    assert.equal(size.count, LIMITS.count)
    assert.ok(size.bytes > 0 && size.bytes <= LIMITS.bytes, `${size.bytes} bytes`)

    // The laptop comes back: it admits the stored genuine requests, and nothing forged.
    const back = await d.start('laptop')
    await waitFor(() => admissible.every((a) => back.state().devices[a.device] !== undefined), 30_000, 'the laptop to admit the requests left at the replica')
    for (const f of forged) assert.equal(back.state().devices[f.device], undefined, `forged ${f.device} was admitted`)
    assert.equal(Object.keys(back.state().devices).length, Object.keys(devicesBefore).length + admissible.length)
    await waitFor(() => replica?.joinRequests().count === 0, 15_000, 'the replica to drop the admitted requests')
  })

  it('a hostile registered replica cannot get a device admitted: the laptop checks every request it serves', async () => {
    const laptop = await d.create('laptop')
    const mallory = await d.create('mallory')
    // Mallory runs a "replica": the handshake, and a join-request service that serves forgeries.
    const stopInfo = await serveReplicaInfo(mallory.node.libp2p, generateDeviceKeys().box.publicKey)
    const served: PendingRequest[] = []
    await mallory.node.libp2p.handle(JOIN_REQUEST_PROTOCOL, (stream) => {
      void (async () => {
        const lp = lpStream(stream, { maxDataLength: 64 * 1024 })
        await lp.read({ signal: AbortSignal.timeout(5000) })
        await lp.write(utf8Encode(JSON.stringify({ t: 'pending', requests: served })), { signal: AbortSignal.timeout(5000) })
        await stream.close()
      })().catch(() => {})
    })
    try {
      const record = async (confirm = false): Promise<{ id: string, secret: Uint8Array }> => {
        const secret = newInviteSecret()
        const id = inviteId(secret)
        await laptop.recordInvitation({ id, key: invitationPublicKey(secret), role: 'member', expires: Math.floor(Date.now() / 1000) + 600, confirm })
        return { id, secret }
      }
      const [a, b, spent, confirmed, genuine] = [await record(), await record(), await record(), await record(true), await record()]
      const used = newDevice('used-it')
      await laptop.admit(used, 'member', { id: spent.id, proof: signAdmission(spent.secret, spent.id, used, 'member') })
      const forged: DeviceDescriptor[] = []
      const forge = (id: string, proof: (device: DeviceDescriptor) => string, name = 'mallory'): void => {
        const device = newDevice(name)
        forged.push(device)
        served.push({ invitation: id, device, proof: proof(device) })
      }
      forge(a.id, (dev) => signAdmission(newInviteSecret(), a.id, dev, 'member')) // a wrong secret
      forge(a.id, (dev) => signAdmission(a.secret, a.id, dev, 'admin')) // a role the invitation does not give
      forge(inviteId(newInviteSecret()), (dev) => signAdmission(b.secret, b.id, dev, 'member')) // an unknown invitation
      forge(spent.id, (dev) => signAdmission(spent.secret, spent.id, dev, 'member')) // spent, though signed right
      forge(confirmed.id, (dev) => signAdmission(confirmed.secret, confirmed.id, dev, 'member')) // --confirm: only its inviter, in person
      const other = newDevice('other')
      forge(b.id, () => signAdmission(b.secret, b.id, other, 'member')) // a proof for another device
      const phone = newDevice('phone')
      served.push({ invitation: genuine.id, device: phone, proof: signAdmission(genuine.secret, genuine.id, phone, 'member') })

      const addr = mallory.addrs().find((x) => x.includes('/tcp/') && !x.includes('/ws')) as string
      await laptop.addReplica(addr.includes('/p2p/') ? addr : `${addr}/p2p/${mallory.peerId()}`)
      await waitFor(() => laptop.state().devices[phone.device] !== undefined, 30_000, 'the laptop to admit the genuine request')
      // A few more rounds: the forgeries are still served, and still refused.
      await new Promise((resolve) => setTimeout(resolve, 4000))
      for (const f of forged) assert.equal(laptop.state().devices[f.device], undefined, `forged ${f.name} was admitted`)
      assert.equal(laptop.state().invitations[a.id]?.usedIn, undefined)
      assert.equal(laptop.state().invitations[b.id]?.usedIn, undefined)
    } finally {
      await stopInfo()
      await mallory.node.libp2p.unhandle(JOIN_REQUEST_PROTOCOL).catch(() => {})
    }
  })
})
