/**
 * The two clients of a replica's join-request protocol (src/replica/join-requests.ts):
 * a joiner that no device answered leaves its request there, and a device of the
 * account fetches the pending ones (it checks each itself: src/node/pending-joins.ts).
 * Browser-ready.
 */
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import type { DeviceDescriptor } from '../../acl/types.ts'
import { signAdmission } from '../../acl/invitation.ts'
import { InviteExpiredError, InviteRejectedError, InviteUsedError, InviterBusyError, JoinFailedError, ProtocolError, type OrbitAccountError } from '../errors.ts'
import { inviteId, type Invite } from '../invite/invite.ts'
import type { Libp2pNode } from '../orbit/orbitdb.ts'
import { utf8Decode, utf8Encode } from '../crypto/bytes.ts'
import { isDescriptor, JOIN_REQUEST_PROTOCOL, MAX_MESSAGE_BYTES, type PendingRequest } from '../replica/join-requests.ts'
import { ROLES, type Role } from '../types.ts'

const STEP_MS = 10_000
/** The most a list of pending requests may weigh (a replica's default bound, with room). */
const MAX_LIST_BYTES = 128 * 1024

type Message = Record<string, unknown>

const refusal = (code: unknown, message: unknown): OrbitAccountError => {
  const text = `the replica refused the join request: ${typeof message === 'string' ? message.slice(0, 300) : 'no reason given'}`
  switch (code) {
    case 'INVITE_USED': return new InviteUsedError(text)
    case 'INVITE_EXPIRED': return new InviteExpiredError(text)
    case 'INVITE_REJECTED': return new InviteRejectedError(text)
    case 'BUSY': return new InviterBusyError(text)
    default: return new ProtocolError(text)
  }
}

const exchange = async (libp2p: Libp2pNode, target: Parameters<Libp2pNode['dialProtocol']>[0], signal: AbortSignal, talk: (send: (o: object) => Promise<void>, read: (max?: number) => Promise<Message>) => Promise<void>): Promise<void> => {
  const stream = await libp2p.dialProtocol(target, JOIN_REQUEST_PROTOCOL, { signal })
  try {
    const step = (): AbortSignal => AbortSignal.any([signal, AbortSignal.timeout(STEP_MS)])
    const send = async (o: object): Promise<void> => { await lpStream(stream, { maxDataLength: MAX_MESSAGE_BYTES }).write(utf8Encode(JSON.stringify(o)), { signal: step() }) }
    const read = async (max = MAX_MESSAGE_BYTES): Promise<Message> => {
      const o: unknown = JSON.parse(utf8Decode((await lpStream(stream, { maxDataLength: max }).read({ signal: step() })).subarray(), 'replica answer'))
      if (typeof o !== 'object' || o === null) throw new ProtocolError('the replica sent a malformed answer')
      const m = o as Message
      if (m.t === 'error') throw refusal(m.code, m.message)
      return m
    }
    await talk(send, read)
  } finally {
    await stream.close().catch(() => {})
  }
}

/**
 * Leaves this device's join request at the first of the invite's replicas that takes it;
 * resolves with that replica's peer id. A refusal on the invite itself (used, expired,
 * unknown, a wrong secret) is thrown as such; unreachable replicas as JoinFailedError.
 */
export const leaveJoinRequest = async (libp2p: Libp2pNode, invite: Invite, device: DeviceDescriptor, signal: AbortSignal): Promise<string> => {
  const id = inviteId(invite.secret)
  let last: unknown
  for (const replica of invite.replicas ?? []) {
    try {
      await exchange(libp2p, replica.addrs.map((a) => multiaddr(`${a}/p2p/${replica.peerId}`)), signal, async (send, read) => {
        await send({ t: 'ask', invitation: id })
        const answer = await read()
        const role = answer.role
        if (answer.t !== 'role' || !(ROLES as readonly unknown[]).includes(role)) throw new ProtocolError('the replica did not say the invite\'s role')
        await send({ t: 'leave', device, proof: signAdmission(invite.secret, id, device, role as Role) })
        if ((await read()).t !== 'left') throw new ProtocolError('the replica did not take the join request')
      })
      return replica.peerId
    } catch (err) {
      if (err instanceof InviteUsedError || err instanceof InviteExpiredError || err instanceof InviteRejectedError) throw err
      last = err
    }
  }
  throw new JoinFailedError(`no replica of the invite took the join request: ${(last as Error | undefined)?.message ?? 'the invite names none'}`, { cause: last })
}

/** The join requests the replica `peer` (connected, or dialable from the peer store) holds; checked by the caller. */
export const fetchPendingRequests = async (libp2p: Libp2pNode, peer: Parameters<Libp2pNode['dialProtocol']>[0], signal: AbortSignal): Promise<PendingRequest[]> => {
  let requests: PendingRequest[] = []
  await exchange(libp2p, peer, signal, async (send, read) => {
    await send({ t: 'list' })
    const answer = await read(MAX_LIST_BYTES)
    if (answer.t !== 'pending' || !Array.isArray(answer.requests)) throw new ProtocolError('the replica sent no list of join requests')
    const items: unknown[] = answer.requests
    requests = items.filter((r): r is PendingRequest => {
      const o = r as Partial<PendingRequest> | null
      return typeof o === 'object' && o !== null && typeof o.invitation === 'string' && typeof o.proof === 'string' && isDescriptor(o.device)
    })
  })
  return requests
}
