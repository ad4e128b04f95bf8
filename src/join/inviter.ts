/**
 * The answering side of a join: open invites, and the libp2p protocol handler that
 * checks a joiner's proof of the secret, expiry and single use, asks a person to confirm
 * when the invite says so, and admits the device into the account. Every invite is
 * recorded in the registry (an `invitation` op), so it stays single-use across restarts
 * and devices; an invite this process did not open (made by a `--detach`ed or restarted
 * process, or by another admin) is answered from the registry: the joiner's signature by
 * the invitation key is checked against the recorded key, and any active device admits.
 */
import type { Connection, Stream } from '@libp2p/interface'
import type { Account } from '../account/account.ts'
import type { DeviceDescriptor, InvitationRecord } from '../../acl/types.ts'
import { base64urlEncode, randomBytes } from '../crypto/bytes.ts'
import { ConfirmationRejectedError, InviteExpiredError, InviteRejectedError, InviteUsedError, JoinFailedError, isOrbitAccountError } from '../errors.ts'
import { invitationPublicKey, signAdmission, verifyAdmission } from '../../acl/invitation.ts'
import { usableInvitation } from '../account/invitations.ts'
import type { Libp2pNode } from '../orbit/orbitdb.ts'
import type { DeviceId, Role } from '../types.ts'
import { encodeInvite, inviteId, newInviteSecret, type Invite } from '../invite/invite.ts'
import { inviteReplicas } from '../invite/addrs.ts'
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

  /** Recorded invitations this device is admitting with now. */
  const busy = new Set<string>()
  /** Withdrawals being written (awaited before the service stops). */
  const withdrawals = new Set<Promise<void>>()

  const handle = async (stream: Stream, connection: Connection): Promise<void> => {
    const channel = messageChannel(stream)
    const step = (): AbortSignal => AbortSignal.timeout(STEP_TIMEOUT_MS)
    const refuse: Refuse = async (code, message) => {
      await channel.send({ t: 'error', code, message }, step()).catch(() => {})
      await channel.close()
    }
    const id = await awaitHello(channel, connection.remotePeer.toString(), refuse)
    if (id === undefined) return
    for (const [spentId, expires] of spent) if (expires < Date.now()) spent.delete(spentId)
    if (spent.has(id)) return await refuse('INVITE_USED', 'the invite was already used: invites are single-use')
    if (pending.has(id)) return await answerOpen(channel, id, step, refuse)
    return await answerRecorded(channel, id, step, refuse)
  }

  /** The registry's answer to an invite this process did not open: refused, or the recorded invitation to admit with. */
  const recorded = async (id: string, refuse: Refuse): Promise<InvitationRecord | undefined> => {
    try {
      return usableInvitation(account.state(), account.device, id, Date.now())
    } catch (err) {
      if (err instanceof InviteUsedError) await refuse('INVITE_USED', err.message)
      else if (err instanceof InviteExpiredError) await refuse('INVITE_EXPIRED', err.message)
      else if (err instanceof InviteRejectedError) await refuse('INVITE_REJECTED', err.message)
      // A --confirm invite whose inviter is not showing it, or this device is not active: another device may answer later.
      else await refuse('BUSY', isOrbitAccountError(err) ? err.message : 'this device cannot admit now')
      return undefined
    }
  }

  /**
   * Admits with a recorded invitation: the joiner proves the secret by the invitation
   * key's signature of the admission, which the `add` carries for every peer to check.
   * One session per invitation on this device (others are told BUSY).
   */
  const answerRecorded = async (channel: MessageChannel, id: string, step: () => AbortSignal, refuse: Refuse): Promise<void> => {
    const invitation = await recorded(id, refuse)
    if (invitation === undefined) return
    if (busy.has(id)) return await refuse('BUSY', 'another device is joining with this invite right now; try again')
    busy.add(id)
    try {
      const nonce = base64urlEncode(randomBytes(NONCE_BYTES))
      await channel.send({ t: 'challenge', nonce, account: account.address, inviter: { device: account.device, signingKey: init.signingKey }, confirm: false, role: invitation.role }, step())
      const request = await channel.receive(step())
      if (request.t !== 'request') return await refuse('PROTOCOL_ERROR', 'expected a join request')
      if (!verifyAdmission(invitation.key, request.proof, id, request.device, invitation.role)) {
        return await refuse('INVITE_REJECTED', 'the join request is not signed by the invitation\'s key')
      }
      const heads = await account.admit(request.device, invitation.role, { id, proof: request.proof })
      await channel.send({ t: 'admitted', role: invitation.role, ...heads }, step())
      await channel.close()
    } catch (err) {
      const code = isOrbitAccountError(err) && (err.code === 'PROTOCOL_ERROR' || err.code === 'INVITE_USED' || err.code === 'INVITE_EXPIRED') ? err.code : 'JOIN_FAILED'
      await refuse(code, isOrbitAccountError(err) ? err.message : 'the join failed on the answering device')
    } finally {
      busy.delete(id)
    }
  }

  /** Admits with an invite this process opened (it holds the secret and, for --confirm, the person to ask). */
  const answerOpen = async (channel: MessageChannel, id: string, step: () => AbortSignal, refuse: Refuse): Promise<void> => {
    // Only a hello that names an open invite goes on, and it holds that invite: one
    // session per invite, so sessions are bounded by the invites this device opened.
    let entry: Pending | undefined
    try {
      entry = pending.get(id)
      if (entry === undefined) return await refuse('INVITE_REJECTED', 'this device has no such invite: a wrong, mistyped or expired invite')
      if (account.state().invitations[id]?.usedIn !== undefined) {
        entry.state = 'used'
        return await refuse('INVITE_USED', 'the invite was already used (through another device): invites are single-use')
      }
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
      await channel.send({ t: 'challenge', nonce, account: account.address, inviter: { device: account.device, signingKey: init.signingKey }, confirm: entry.options.confirm !== undefined, role: entry.options.role }, step())
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
      const heads = await account.admit(joiner, entry.options.role, { id, proof: signAdmission(entry.invite.secret, id, joiner, entry.options.role) })
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
      const replicas = inviteReplicas(Object.values(account.state().replicas), invite)
      if (replicas !== undefined) invite.replicas = replicas
      const text = encodeInvite(invite)
      const id = inviteId(secret)
      // Recorded before it is shown: from then on it is single-use on every device, across restarts.
      await account.recordInvitation({ id, key: invitationPublicKey(secret), role: options.role, expires: invite.expires, confirm: options.confirm !== undefined })
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
          // Withdrawn in the registry too, or a daemon here or elsewhere would still answer it.
          if (pending.delete(id)) withdrawals.add(account.withdrawInvitation(id).catch(() => {}))
          reject(new InviteExpiredError('the invite was cancelled'))
        }
      }
    },
    stop: async () => {
      await Promise.all(withdrawals)
      for (const [id, p] of pending) {
        clearTimeout(p.timer)
        p.reject(new InviteExpiredError('the inviting device stopped'))
        pending.delete(id)
      }
      await libp2p.unhandle(JOIN_PROTOCOL).catch(() => {})
    }
  }
}
