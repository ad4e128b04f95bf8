/**
 * Registered replicas, on a device: register one by its address (a handshake gets its
 * peer id and X25519 key), and keep dialing the registered ones, so a device that joined
 * after the replica was met, or whose other devices are off, still syncs through it.
 */
import { multiaddr } from '@multiformats/multiaddr'
import type { Account } from '../account/account.ts'
import { InvalidArgumentError } from '../errors.ts'
import type { Libp2pNode } from '../orbit/orbitdb.ts'
import { askReplicaInfo } from '../replica/info.ts'
import { swarmEpochOf } from '../account/swarm.ts'
import { base64urlDecode, base64urlEncode } from '../crypto/bytes.ts'
import { lockboxAad, sealTo } from '../crypto/lockbox.ts'

/** How often the registered replicas this device is not connected to are dialed. */
const DIAL_EVERY_MS = 5000
const DIAL_TIMEOUT_MS = 5000

/** `addr` without its /p2p/ part, and that part. */
const splitPeer = (addr: string): { base: string, peer: string | undefined } => {
  const m = /^(.*)\/p2p\/([^/]+)$/.exec(addr)
  return m === null ? { base: addr, peer: undefined } : { base: m[1] ?? '', peer: m[2] }
}

/** Registers the replica at `addr` (a multiaddr ending in /p2p/<peer id>); returns its peer id. */
export const registerReplicaAt = async (libp2p: Libp2pNode, account: Account, addr: string): Promise<string> => {
  try {
    multiaddr(addr)
  } catch {
    throw new InvalidArgumentError(`'${addr}' is not a multiaddr (like /ip4/192.168.1.30/tcp/4002/p2p/12D3KooW...)`)
  }
  const { base, peer } = splitPeer(addr)
  if (peer === undefined || base === '') throw new InvalidArgumentError(`'${addr}' must end in /p2p/<peer id> (the replica prints its addresses when it starts)`)
  const info = await askReplicaInfo(libp2p, addr)
  if (info.peer !== peer) throw new InvalidArgumentError(`the peer at ${base} is ${info.peer}, not ${peer}`)
  await account.registerReplica({ peer, addrs: [base], boxKey: info.boxKey })
  return peer
}

/**
 * Private mode: seals the current swarm key to each registered replica that has no box
 * of it yet (never a group key), so a replica follows a revocation by itself. Any active
 * device that holds the current swarm key does it; the registry keeps the first box.
 */
const sealSwarmToReplicas = async (account: Account): Promise<void> => {
  const state = account.state()
  const swarm = account.swarm()
  const current = swarmEpochOf(state)
  if (swarm === undefined || current === undefined || swarm.epoch !== current.epoch) return
  if (state.devices[account.device]?.status !== 'active') return
  for (const r of Object.values(state.replicas)) {
    if (r.removedIn !== undefined || (r.swarm !== undefined && r.swarm.epoch >= swarm.epoch)) continue
    const box = sealTo(base64urlDecode(r.boxKey, 'boxKey'), swarm.key, lockboxAad(account.address, swarm.epoch, r.peer))
    await account.recordSwarmBox({ peer: r.peer, epoch: swarm.epoch, box: base64urlEncode(box) })
  }
}

/** Dials the registered replicas this device is not connected to, now and every few seconds; returns a stop function. */
export const dialReplicas = (libp2p: Libp2pNode, account: Account): () => void => {
  const stopped = new AbortController()
  let running = false
  const round = async (): Promise<void> => {
    if (running || stopped.signal.aborted) return
    running = true
    try {
      await sealSwarmToReplicas(account).catch(() => {})
      const connected = new Set(libp2p.getConnections().filter((c) => c.status === 'open').map((c) => c.remotePeer.toString()))
      const replicas = Object.values(account.state().replicas).filter((r) => r.removedIn === undefined && !connected.has(r.peer))
      await Promise.all(replicas.map(async (r) => {
        const targets = r.addrs.map((a) => multiaddr(`${a}/p2p/${r.peer}`))
        await libp2p.dial(targets, { signal: AbortSignal.any([stopped.signal, AbortSignal.timeout(DIAL_TIMEOUT_MS)]) }).catch(() => {})
      }))
    } catch {
      // A malformed address in the registry, or a node stopping: tried again next round.
    } finally {
      running = false
    }
  }
  void round()
  const timer = setInterval(() => { void round() }, DIAL_EVERY_MS)
  // A revocation moved the swarm: seal the new key to the replicas at once, within the grace of their old connections.
  const stopSwarm = account.onSwarm(() => { void sealSwarmToReplicas(account).catch(() => {}) })
  return () => {
    stopped.abort()
    clearInterval(timer)
    stopSwarm()
  }
}
