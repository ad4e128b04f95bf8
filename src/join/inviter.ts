/**
 * The inviting device's side of a join: open invites, and the libp2p protocol handler
 * that checks a joiner's proof of the secret, expiry and single use, asks a person to
 * confirm when the invite says so, and admits the device into the account.
 */
import type { Connection, Stream } from '@libp2p/interface'
import type { Account } from '../account/account.ts'
import type { DeviceDescriptor } from '../../acl/types.ts'
import { base64urlEncode, randomBytes } from '../crypto/bytes.ts'
import { ConfirmationRejectedError, InviteExpiredError, JoinFailedError, isOrbitAccountError } from '../errors.ts'
import type { Libp2pNode } from '../orbit/orbitdb.ts'
import type { DeviceId, Role } from '../types.ts'
import { encodeInvite, inviteId, newInviteSecret, type Invite } from '../invite/invite.ts'
import { admittedMac, JOIN_PROTOCOL, macEquals, NONCE_BYTES, requestMac, shortCode, type JoinErrorCode, type Transcript } from './messages.ts'
import { messageChannel, type MessageChannel } from './stream.ts'
import { helloGate, type GateLimits } from './gate.ts'

/** A step of the protocol may take this long (a person confirming gets until the invite expires). */
const STEP_TIMEOUT_MS = 30_000
/** The hello must come this soon: a joiner sends it as soon as its stream opens. */
const HELLO_TIMEOUT_MS = 3000
/** Streams waiting for their hello (see gate.ts): a stranger's silent streams take nothing else. */
const WAITING_ROOM: GateLimits = { perPeer: 2, total: 16 }
/** Join streams libp2p lets one connection open at once; the waiting room and the invites bound them first. */
const MAX_STREAMS_PER_CONNECTION = 8
/** Wrong proofs tolerated before an invite is burnt. */
const MAX_FAILED_PROOFS = 3

export interface Admitted { device: DeviceId, name: string, role: Role }

export interface ConfirmRequest { device: DeviceId, name: string, code: string }

export interface InviteOptions {
  ttlMs: number
  role: Role
  /** Asked before admitting; resolve true to admit. */
  confirm?: (request: ConfirmRequest) => Promise<boolean>
}

export interface OpenInvite {
  text: string
  invite: Invite
  /** The short code is only known once a device asks to join; see `confirm`. */
  expires: Date
  /** Resolves with the admitted device; rejects when the invite expires, is cancelled or is refused. */
  admitted: Promise<Admitted>
  cancel: () => void
}

interface Pending {
  invite: Invite
  options: InviteOptions
  state: 'open' | 'busy' | 'used'
  failures: number
  resolve: (a: Admitted) => void
  reject: (e: Error) => void
  timer: ReturnType<typeof setTimeout>
}

type Refuse = (code: JoinErrorCode, message: string) => Promise<void>

export interface JoinService {
  invite: (options: InviteOptions) => Promise<OpenInvite>
  stop: () => Promise<void>
}

export interface JoinServiceInit {
  libp2p: Libp2pNode
  account: Account
  /** This device's signing key, base64url. */
  signingKey: string
  /** Addresses other devices can dial this one on (without /p2p/). */
  addrs: () => string[]
  /** Private mode: the swarm key a joining device must use to reach this one. */
  swarmKey?: () => Uint8Array
}

export const createJoinService = async (init: JoinServiceInit): Promise<JoinService> => {
  const { libp2p, account } = init
  const pending = new Map<string, Pending>()
  /** Spent invites (id -> expiry, ms), so a reuse is told so rather than "unknown". */
  const spent = new Map<string, number>()
  const gate = helloGate(WAITING_ROOM)

  /** Reads the hello of a new stream, in the waiting room; undefined when the stream was answered or dropped. */
  const awaitHello = async (channel: MessageChannel, peer: string, refuse: Refuse): Promise<string | undefined> => {
    const evicted = new AbortController()
    const leave = gate.enter(peer, () => { evicted.abort() })
    if (leave === undefined) {
      await refuse('BUSY', 'this peer has too many join streams waiting; try again')
      return undefined
    }
    try {
      // Out of the room as soon as the first message (or nothing) came, whatever it was.
      const hello = await channel.receive(AbortSignal.any([evicted.signal, AbortSignal.timeout(HELLO_TIMEOUT_MS)])).finally(leave)
      if (hello.t === 'hello') return hello.invite
      await refuse('PROTOCOL_ERROR', 'expected hello')
    } catch (err) {
      if (evicted.signal.aborted) await refuse('BUSY', 'the inviting device has too many join streams waiting; try again')
      else if (isOrbitAccountError(err) && err.code === 'PROTOCOL_ERROR') await refuse('PROTOCOL_ERROR', err.message)
      // Silent for too long, or gone: owed no answer.
      else channel.drop('no hello')
    }
    return undefined
  }

  const handle = async (stream: Stream, connection: Connection): Promise<void> => {
    const channel = messageChannel(stream)
    const step = (): AbortSignal => AbortSignal.timeout(STEP_TIMEOUT_MS)
    const refuse: Refuse = async (code, message) => {
      await channel.send({ t: 'error', code, message }, step()).catch(() => {})
      await channel.close()
    }
    const id = await awaitHello(channel, connection.remotePeer.toString(), refuse)
    if (id === undefined) return
    // Only a hello that names an open invite goes on, and it holds that invite: one
    // session per invite, so sessions are bounded by the invites this device opened.
    let entry: Pending | undefined
    try {
      entry = pending.get(id)
      for (const [spentId, expires] of spent) if (expires < Date.now()) spent.delete(spentId)
      if (entry === undefined && spent.has(id)) return await refuse('INVITE_USED', 'the invite was already used: invites are single-use')
      if (entry === undefined) return await refuse('INVITE_REJECTED', 'this device has no such invite: a wrong, mistyped or expired invite')
      if (Date.now() > entry.invite.expires * 1000) return await refuse('INVITE_EXPIRED', 'the invite has expired: ask for a new one')
      if (entry.state === 'busy') {
        entry = undefined
        return await refuse('BUSY', 'another device is joining with this invite right now; try again')
      }
      if (entry.state !== 'open') {
        entry = undefined
        return await refuse('INVITE_USED', 'the invite was already used: invites are single-use')
      }
      entry.state = 'busy'
      const nonce = base64urlEncode(randomBytes(NONCE_BYTES))
      await channel.send({ t: 'challenge', nonce, account: account.address, inviter: { device: account.device, signingKey: init.signingKey }, confirm: entry.options.confirm !== undefined }, step())
      const request = await channel.receive(step())
      if (request.t !== 'request') return await refuse('PROTOCOL_ERROR', 'expected a join request')
      const transcript: Transcript = { inviteId: id, account: account.address, inviterDevice: account.device, inviterNonce: nonce, joinerNonce: request.nonce, joiner: request.device }
      if (!macEquals(request.mac, requestMac(entry.invite.secret, transcript))) {
        entry.failures++
        entry.state = entry.failures >= MAX_FAILED_PROOFS ? 'used' : 'open'
        return await refuse('INVITE_REJECTED', 'the join request does not prove the invite secret')
      }
      // From here on the invite is spent, whatever happens.
      entry.state = 'used'
      const joiner: DeviceDescriptor = request.device
      if (entry.options.confirm !== undefined) {
        const code = shortCode(entry.invite.secret, init.signingKey, joiner.signingKey)
        await channel.send({ t: 'confirming', code }, step())
        const untilExpiry = Math.max(0, entry.invite.expires * 1000 - Date.now())
        let expiry: ReturnType<typeof setTimeout> | undefined
        const ok = await Promise.race([
          entry.options.confirm({ device: joiner.device, name: joiner.name, code }),
          new Promise<boolean>((resolve) => { expiry = setTimeout(() => resolve(false), untilExpiry) })
        ]).finally(() => clearTimeout(expiry))
        if (!ok) {
          entry.reject(new ConfirmationRejectedError(`the join of ${joiner.name} (${joiner.device}) was not confirmed; nothing was admitted`))
          return await refuse('CONFIRMATION_REJECTED', 'the inviting device did not confirm the join')
        }
      }
      const heads = await account.admit(joiner, entry.options.role)
      await channel.send({ t: 'admitted', role: entry.options.role, ...heads, mac: admittedMac(entry.invite.secret, transcript, entry.options.role) }, step())
      entry.resolve({ device: joiner.device, name: joiner.name, role: entry.options.role })
      await channel.close()
    } catch (err) {
      if (entry?.state === 'busy') entry.state = 'open'
      await refuse(isOrbitAccountError(err) && err.code === 'PROTOCOL_ERROR' ? 'PROTOCOL_ERROR' : 'JOIN_FAILED', isOrbitAccountError(err) ? err.message : 'the join failed on the inviting device')
    } finally {
      if (entry?.state === 'used') {
        clearTimeout(entry.timer)
        pending.delete(inviteId(entry.invite.secret))
        spent.set(inviteId(entry.invite.secret), entry.invite.expires * 1000)
        // No-op when the device was admitted; otherwise the invite is spent without one.
        entry.reject(new JoinFailedError('the invite was spent without admitting a device (wrong proofs, a refused confirmation or a failed admission)'))
      }
    }
  }

  await libp2p.handle(JOIN_PROTOCOL, (stream, connection) => { void handle(stream, connection) }, { maxInboundStreams: MAX_STREAMS_PER_CONNECTION })

  return {
    invite: async (options) => {
      const secret = newInviteSecret()
      const expiresMs = Date.now() + options.ttlMs
      const addrs = init.addrs()
      const invite: Invite = { v: 1, account: account.address, peerId: libp2p.peerId.toString(), addrs, secret, expires: Math.floor(expiresMs / 1000), mode: account.info().mode }
      if (invite.mode === 'private' && init.swarmKey !== undefined) invite.swarmKey = init.swarmKey()
      const text = encodeInvite(invite)
      const id = inviteId(secret)
      let resolve!: (a: Admitted) => void
      let reject!: (e: Error) => void
      const admitted = new Promise<Admitted>((res, rej) => { resolve = res; reject = rej })
      admitted.catch(() => {})
      const timer = setTimeout(() => {
        pending.delete(id)
        reject(new InviteExpiredError('the invite expired before a device used it'))
      }, options.ttlMs)
      pending.set(id, { invite, options, state: 'open', failures: 0, resolve, reject, timer })
      return {
        text,
        invite,
        expires: new Date(invite.expires * 1000),
        admitted,
        cancel: () => {
          clearTimeout(timer)
          pending.delete(id)
          reject(new InviteExpiredError('the invite was cancelled'))
        }
      }
    },
    stop: async () => {
      for (const [id, p] of pending) {
        clearTimeout(p.timer)
        p.reject(new InviteExpiredError('the inviting device stopped'))
        pending.delete(id)
      }
      await libp2p.unhandle(JOIN_PROTOCOL).catch(() => {})
    }
  }
}
