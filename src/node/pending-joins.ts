/**
 * A device admits the join requests left at the account's registered replicas while no
 * device answered (src/replica/join-requests.ts): when it is connected to a registered
 * replica, now and every few seconds, it fetches the pending requests and checks each
 * itself, never trusting the replica (the invitation recorded, usable by this device now,
 * and the invitation key's signature of exactly this admission), then writes the
 * admission with the proof, as if the joiner had asked it directly.
 */
import type { Account } from '../account/account.ts'
import { usableInvitation } from '../account/invitations.ts'
import { verifyAdmission } from '../../acl/invitation.ts'
import type { Libp2pNode } from '../orbit/orbitdb.ts'
import { fetchPendingRequests } from '../join/replica-request.ts'
import { multiaddr } from '@multiformats/multiaddr'

const EVERY_MS = 3000
const ASK_MS = 10_000

export interface PendingJoinsOptions {
  /** Told of each device admitted from a replica's request. */
  onAdmitted?: (device: { device: string, name: string }) => void
}

/** One round: fetch from every connected registered replica, admit what checks. */
const round = async (libp2p: Libp2pNode, account: Account, signal: AbortSignal, options: PendingJoinsOptions): Promise<void> => {
  const connected = new Set(libp2p.getConnections().filter((c) => c.status === 'open').map((c) => c.remotePeer.toString()))
  const replicas = Object.values(account.state().replicas).filter((r) => r.removedIn === undefined && connected.has(r.peer))
  for (const r of replicas) {
    const requests = await fetchPendingRequests(libp2p, r.addrs.map((a) => multiaddr(`${a}/p2p/${r.peer}`)), AbortSignal.any([signal, AbortSignal.timeout(ASK_MS)])).catch(() => [])
    for (const request of requests) {
      if (signal.aborted) return
      try {
        const invitation = usableInvitation(account.state(), account.device, request.invitation, Date.now())
        // A --confirm invite is admitted only by its inviter after its person confirmed, in a live session: never from a replica.
        if (invitation.confirm) continue
        if (!verifyAdmission(invitation.key, request.proof, request.invitation, request.device, invitation.role)) continue
        await account.admit(request.device, invitation.role, { id: request.invitation, proof: request.proof })
        options.onAdmitted?.({ device: request.device.device, name: request.device.name })
      } catch {
        // Not admissible by this device now (used, expired, --confirm, not active): another round or device.
      }
    }
  }
}

/** Starts admitting requests left at replicas; returns a stop function. */
export const admitPendingJoins = (libp2p: Libp2pNode, account: Account, options: PendingJoinsOptions = {}): () => void => {
  const stopped = new AbortController()
  let running = false
  const tick = async (): Promise<void> => {
    if (running || stopped.signal.aborted) return
    running = true
    try {
      await round(libp2p, account, stopped.signal, options)
    } catch {
      // The node stopping, or a replica going away: tried again next round.
    } finally {
      running = false
    }
  }
  const timer = setInterval(() => { void tick() }, EVERY_MS)
  // As soon as a registered replica is connected, not only at the next tick.
  const onConnect = (): void => { setTimeout(() => { void tick() }, 200) }
  libp2p.addEventListener('peer:connect', onConnect)
  void tick()
  return () => {
    stopped.abort()
    clearInterval(timer)
    libp2p.removeEventListener('peer:connect', onConnect)
  }
}
