/**
 * While a joining device syncs from the device that admitted it: if that device goes
 * away (a dropped connection, a daemon that died and restarts), dial it again for a
 * while, and give up only if it stays away. The admission is already in the inviter's
 * registry, so a join that gives up leaves an unfinished device listed there.
 */
import { multiaddr } from '@multiformats/multiaddr'
import type { Libp2pNode } from '../orbit/orbitdb.ts'

/** How long a joining device waits for its inviter to come back. */
export const INVITER_RETURN_MS = 30_000
const REDIAL_EVERY_MS = 1000

export interface WatchOptions {
  returnMs?: number | undefined
  onProgress?: ((message: string) => void) | undefined
  /** Called once if the inviter went away and did not come back in time. */
  onGone: (reason: Error) => void
}

/** Watches until the returned function is called. */
export const watchInviter = (libp2p: Libp2pNode, peerId: string, addrs: string[], options: WatchOptions): () => void => {
  const returnMs = options.returnMs ?? INVITER_RETURN_MS
  const stopped = new AbortController()
  const targets = addrs.map((a) => multiaddr(`${a}/p2p/${peerId}`))
  let redialing = false

  const redial = async (): Promise<void> => {
    redialing = true
    const deadline = Date.now() + returnMs
    options.onProgress?.('the inviting device went away; trying to reach it again')
    try {
      while (!stopped.signal.aborted) {
        if (libp2p.getConnections().some((c) => c.remotePeer.toString() === peerId && c.status === 'open')) return
        const left = deadline - Date.now()
        if (left <= 0) {
          options.onGone(new Error(`the inviting device went away before this device had synced, and did not come back within ${Math.round(returnMs / 1000)} s. ` +
            'It lists this device as unfinished: revoke it there (by its id, see `orbit-account devices`) and ask for a new invite'))
          return
        }
        try {
          await libp2p.dial(targets, { signal: AbortSignal.any([stopped.signal, AbortSignal.timeout(Math.min(left, 5000))]) })
          options.onProgress?.('reached the inviting device again')
          return
        } catch {
          await new Promise((resolve) => setTimeout(resolve, Math.min(REDIAL_EVERY_MS, Math.max(0, deadline - Date.now()))))
        }
      }
    } finally {
      redialing = false
    }
  }

  const onDisconnect = (event: CustomEvent): void => {
    if (String(event.detail) !== peerId || redialing || stopped.signal.aborted) return
    void redial()
  }
  libp2p.addEventListener('peer:disconnect', onDisconnect)
  return () => {
    stopped.abort()
    libp2p.removeEventListener('peer:disconnect', onDisconnect)
  }
}
