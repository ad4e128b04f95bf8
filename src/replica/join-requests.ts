/**
 * Join requests left at a replica (browser-ready core): when no device of the account
 * answers, a joiner leaves here its descriptor and the invitation key's signature of its
 * admission (the proof an `add` carries). The replica holds no key of the account, so it
 * admits nobody: it checks the request against the invitation recorded in the registry it
 * replicates (recorded, unexpired by its clock, unused, not withdrawn, not --confirm, and
 * the proof verifies), keeps at most one per invitation and a bounded total, and hands
 * the pending ones to whoever asks (a device of the account admits them, after checking
 * them itself). What it stores and serves is public anyway once the device is admitted:
 * the new device's id, name and public keys, the invitation id and the proof.
 *
 * One stream, length-prefixed JSON: a joiner sends {t:'ask', invitation}, is told the
 * role the invitation admits to (what it signs), sends {t:'leave', device, proof} and is
 * told {t:'left'} or {t:'error', code, message}; a device sends {t:'list'} and gets
 * {t:'pending', requests}.
 */
import { lpStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import type { AccountState, DeviceDescriptor } from '../../acl/types.ts'
import { verifyAdmission } from '../../acl/invitation.ts'
import { deviceIdFromSigningKey } from '../../identity/keys.ts'
import { base64urlDecode, utf8Decode, utf8Encode, utf8Length } from '../crypto/bytes.ts'
import type { Libp2pNode } from '../orbit/orbitdb.ts'
import type { Role } from '../types.ts'

export const JOIN_REQUEST_PROTOCOL = '/orbit-account/join-request/1.0.0'

/** One message of a joiner or an answer to it; the list answer is bounded by the store's bytes. */
export const MAX_MESSAGE_BYTES = 2048
const STEP_MS = 10_000

export interface PendingRequest { invitation: string, device: DeviceDescriptor, proof: string }

export interface JoinRequestLimits {
  /** Requests kept at once (one per invitation). */
  count: number
  /** Their total size, in bytes of JSON. */
  bytes: number
}

export const DEFAULT_JOIN_REQUEST_LIMITS: JoinRequestLimits = { count: 32, bytes: 32 * 1024 }

export type JoinRequestRefusal = 'INVITE_REJECTED' | 'INVITE_EXPIRED' | 'INVITE_USED' | 'BUSY' | 'PROTOCOL_ERROR'

export interface JoinRequestStore {
  /** Requests held and their total bytes. */
  size: () => { count: number, bytes: number }
  pending: () => PendingRequest[]
  stop: () => Promise<void>
}

/** A descriptor of the right shape whose device id is its signing key's: anything else is refused before it is looked at. */
export const isDescriptor = (d: unknown): d is DeviceDescriptor => {
  if (typeof d !== 'object' || d === null) return false
  const o = d as Record<string, unknown>
  if (typeof o.device !== 'string' || typeof o.name !== 'string' || typeof o.signingKey !== 'string' || typeof o.boxKey !== 'string') return false
  if (o.name.length < 1 || o.name.length > 64 || Object.keys(o).length !== 4) return false
  try {
    return base64urlDecode(o.boxKey, 'boxKey').length === 32 && deviceIdFromSigningKey(base64urlDecode(o.signingKey, 'signingKey')) === o.device
  } catch {
    return false
  }
}

class Refused extends Error {
  readonly code: JoinRequestRefusal
  constructor (code: JoinRequestRefusal, message: string) {
    super(message)
    this.code = code
  }
}

/** The invitation `id` as a replica may take a request for it now; throws Refused. */
const openInvitation = (state: AccountState, id: unknown, now: number): { key: string, role: Role } => {
  if (typeof id !== 'string' || !Object.hasOwn(state.invitations, id)) throw new Refused('INVITE_REJECTED', 'this account has no such invite (or this replica has not synced it yet)')
  const inv = state.invitations[id]!
  if (inv.usedIn !== undefined) throw new Refused('INVITE_USED', 'the invite was already used: invites are single-use')
  if (inv.withdrawnIn !== undefined) throw new Refused('INVITE_REJECTED', 'the invite was withdrawn: ask for a new one')
  if (now > inv.expires * 1000) throw new Refused('INVITE_EXPIRED', 'the invite has expired: ask for a new one')
  if (inv.confirm) throw new Refused('INVITE_REJECTED', 'this invite asks its inviting device to confirm the join: it cannot be left at a replica')
  return { key: inv.key, role: inv.role }
}

const sizeOf = (r: PendingRequest): number => utf8Length(JSON.stringify(r))

/** Serves the protocol on `libp2p` for the registry whose state `state` gives. */
export const serveJoinRequests = async (libp2p: Libp2pNode, state: () => AccountState, limits: JoinRequestLimits = DEFAULT_JOIN_REQUEST_LIMITS): Promise<JoinRequestStore> => {
  const held = new Map<string, PendingRequest>()
  const listBytes = limits.bytes + 2 * limits.count + 64
  /** Drops what no device could admit any more (used, withdrawn, expired). */
  const prune = (): void => {
    for (const [id] of held) {
      try {
        openInvitation(state(), id, Date.now())
      } catch {
        held.delete(id)
      }
    }
  }
  const size = (): { count: number, bytes: number } => ({ count: held.size, bytes: [...held.values()].reduce((n, r) => n + sizeOf(r), 0) })

  const take = (invitation: string, device: unknown, proof: unknown): void => {
    const { key, role } = openInvitation(state(), invitation, Date.now())
    if (!isDescriptor(device) || typeof proof !== 'string' || proof.length > 128) throw new Refused('PROTOCOL_ERROR', 'malformed join request')
    if (!verifyAdmission(key, proof, invitation, device, role)) throw new Refused('INVITE_REJECTED', 'the join request is not signed by the invitation\'s key: a wrong invite secret')
    const request: PendingRequest = { invitation, device, proof }
    const existing = held.get(invitation)
    if (existing !== undefined) {
      // The same joiner asking again is told yes; anyone else, no: one request per invitation.
      if (existing.device.device === device.device && existing.proof === proof) return
      throw new Refused('INVITE_USED', 'a join request for this invite is already waiting here: invites are single-use')
    }
    prune()
    const now = size()
    if (now.count + 1 > limits.count || now.bytes + sizeOf(request) > limits.bytes) throw new Refused('BUSY', 'this replica holds as many join requests as it keeps; try again later')
    held.set(invitation, request)
  }

  const answer = async (stream: Stream): Promise<void> => {
    const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE_BYTES })
    const signal = (): AbortSignal => AbortSignal.timeout(STEP_MS)
    const read = async (): Promise<Record<string, unknown>> => {
      const o: unknown = JSON.parse(utf8Decode((await lp.read({ signal: signal() })).subarray(), 'join request'))
      if (typeof o !== 'object' || o === null) throw new Refused('PROTOCOL_ERROR', 'expected an object')
      return o as Record<string, unknown>
    }
    const send = async (o: object, max = MAX_MESSAGE_BYTES): Promise<void> => {
      await lpStream(stream, { maxDataLength: max }).write(utf8Encode(JSON.stringify(o)), { signal: signal() })
    }
    try {
      const first = await read()
      if (first.t === 'list') {
        prune()
        await send({ t: 'pending', requests: [...held.values()] }, listBytes)
      } else if (first.t === 'ask') {
        const { role } = openInvitation(state(), first.invitation, Date.now())
        await send({ t: 'role', role })
        const leave = await read()
        if (leave.t !== 'leave') throw new Refused('PROTOCOL_ERROR', 'expected a join request')
        take(first.invitation as string, leave.device, leave.proof)
        await send({ t: 'left' })
      } else {
        throw new Refused('PROTOCOL_ERROR', 'unknown message')
      }
    } catch (err) {
      const refusal = err instanceof Refused ? err : new Refused('PROTOCOL_ERROR', 'malformed message')
      await send({ t: 'error', code: refusal.code, message: refusal.message }).catch(() => {})
    }
    await stream.close({ signal: signal() }).catch(() => { stream.abort(new Error('join request answer failed')) })
  }

  await libp2p.handle(JOIN_REQUEST_PROTOCOL, (stream) => { void answer(stream).catch(() => {}) }, { maxInboundStreams: 4 })
  return {
    size: () => { prune(); return size() },
    pending: () => [...held.values()],
    stop: async () => { await libp2p.unhandle(JOIN_REQUEST_PROTOCOL).catch(() => {}) }
  }
}
