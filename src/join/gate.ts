/**
 * The waiting room of the join protocol (browser-ready): streams that have not yet
 * sent their hello. Anyone who can reach the inviter can open such a stream, so this
 * room is small and holds nothing a joiner needs: a peer may keep only a few streams
 * in it, and when it is full the oldest stream makes way for the newest. A real
 * joiner sends its hello as soon as its stream opens, so it passes through at once;
 * to keep it out, a flood would have to push a full room of streams through in that
 * moment.
 */

export interface GateLimits {
  /** Streams one peer may have waiting for their hello. */
  perPeer: number
  /** Streams waiting for their hello, from all peers. */
  total: number
}

export interface HelloGate {
  /**
   * Lets in a stream of `peer` that waits for its hello. Returns the function to call
   * when it leaves (its hello came, it ended or timed out), or undefined when `peer`
   * already has `perPeer` streams waiting. `evict` is called if a newer stream takes
   * this one's place (the stream has then left: no need to call the returned function).
   */
  enter: (peer: string, evict: () => void) => (() => void) | undefined
  /** Streams waiting now. */
  size: () => number
}

interface Ticket { peer: string, evict: () => void }

export const helloGate = (limits: GateLimits): HelloGate => {
  // A Set iterates in insertion order: its first ticket is the oldest.
  const waiting = new Set<Ticket>()
  const perPeer = new Map<string, number>()

  const leave = (ticket: Ticket): void => {
    if (!waiting.delete(ticket)) return
    const n = (perPeer.get(ticket.peer) ?? 1) - 1
    if (n <= 0) perPeer.delete(ticket.peer)
    else perPeer.set(ticket.peer, n)
  }

  return {
    enter: (peer, evict) => {
      if ((perPeer.get(peer) ?? 0) >= limits.perPeer) return undefined
      while (waiting.size >= limits.total) {
        const oldest = waiting.values().next().value
        if (oldest === undefined) break
        leave(oldest)
        oldest.evict()
      }
      const ticket: Ticket = { peer, evict }
      waiting.add(ticket)
      perPeer.set(peer, (perPeer.get(peer) ?? 0) + 1)
      return () => { leave(ticket) }
    },
    size: () => waiting.size
  }
}
