/**
 * What a device remembers about the network between runs (Node.js file adapter):
 * the addresses it listened on (so its port stays the same across restarts and other
 * devices find it again), the peers it reached (dialled again at every start), and
 * which device of the account each peer proved to be (for `status`, and to forget a
 * peer once its device is revoked).
 */
import { readFile, rename, writeFile } from 'node:fs/promises'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Libp2pNode } from '../orbit/orbitdb.ts'

/** A device of the account, as a peer proved it is (see peer-devices.ts). */
export interface PeerDevice { device: string, name: string }

export interface NetworkMemory {
  listen: string[]
  peers: string[]
  /** libp2p peer id -> the device it proved to be. */
  devices: Record<string, PeerDevice>
}

const MAX_PEERS = 64

/**
 * Whether another machine (or this one) can dial `addr`: a wildcard host (0.0.0.0, ::)
 * is where a node listens on every interface, never where it can be reached.
 */
export const isDialable = (addr: string): boolean => !/^\/ip4\/0\.0\.0\.0\/|^\/ip6\/(::|0:0:0:0:0:0:0:0|::0)\//.test(addr)

const peerOf = (addr: string): string | undefined => /\/p2p\/([^/]+)$/.exec(addr)?.[1]

const devicesOf = (v: unknown): Record<string, PeerDevice> => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return {}
  const out: Record<string, PeerDevice> = {}
  for (const [peer, d] of Object.entries(v as Record<string, unknown>)) {
    const { device, name } = (typeof d === 'object' && d !== null ? d : {}) as Partial<PeerDevice>
    if (typeof device === 'string' && typeof name === 'string') out[peer] = { device, name }
  }
  return out
}

export const readNetworkMemory = async (path: string): Promise<NetworkMemory> => {
  try {
    const o = JSON.parse(await readFile(path, 'utf8')) as Partial<Record<keyof NetworkMemory, unknown>>
    const strings = (v: unknown): string[] => Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []
    // Undialable addresses kept by an older version are dropped as they are read.
    return { listen: strings(o.listen), peers: strings(o.peers).filter(isDialable), devices: devicesOf(o.devices) }
  } catch {
    return { listen: [], peers: [], devices: {} }
  }
}

export const writeNetworkMemory = async (path: string, memory: NetworkMemory): Promise<void> => {
  const tmp = `${path}.tmp`
  const peers = [...new Set(memory.peers.filter(isDialable))].slice(-MAX_PEERS)
  // Only the devices of peers still remembered (or connected now and then): bounded like the peers.
  const devices = Object.fromEntries(Object.entries(memory.devices).slice(-MAX_PEERS))
  await writeFile(tmp, JSON.stringify({ listen: [...new Set(memory.listen)], peers, devices }, null, 2) + '\n', { mode: 0o600 })
  await rename(tmp, path)
}

/**
 * The listen addresses to remember: the ones asked for, with each port 0 replaced by
 * the port the node got for that transport (so the next start keeps the same ports,
 * whatever the machine's addresses are then).
 */
export const listenAddrsToRemember = (asked: string[], bound: string[]): string[] =>
  asked.map((spec) => {
    const udp = /^(\/ip[46]\/[^/]+\/udp\/)0\/webrtc-direct$/.exec(spec)
    if (udp !== null) {
      // WebRTC-direct: the certhash that follows the port is not part of what to listen on.
      const port = bound.map((addr) => /\/udp\/(\d+)\/webrtc-direct\//.exec(addr)?.[1]).find((p) => p !== undefined)
      return port === undefined ? spec : `${udp[1] ?? ''}${port}/webrtc-direct`
    }
    const m = /^(\/ip[46]\/[^/]+\/tcp\/)0(\/ws)?$/.exec(spec)
    if (m === null) return spec
    const ws = m[2] !== undefined
    for (const addr of bound) {
      const b = /\/tcp\/(\d+)(\/ws)?(\/p2p\/[^/]+)?$/.exec(addr)
      if (b !== null && (b[2] !== undefined) === ws) return `${m[1] ?? ''}${b[1] ?? '0'}${ws ? '/ws' : ''}`
    }
    return spec
  })

let writing: Promise<void> = Promise.resolve()

/** Changes what is remembered (read, `change`, write when it returns a new memory); writes are serialized. */
const update = async (path: string, change: (memory: NetworkMemory) => NetworkMemory | undefined): Promise<void> => {
  const task = writing.then(async () => {
    const next = change(await readNetworkMemory(path))
    if (next !== undefined) await writeNetworkMemory(path, next)
  })
  writing = task.catch(() => {})
  await task
}

/** Adds peers (full multiaddrs with /p2p/) to what is remembered; undialable ones are never stored. */
export const rememberPeers = async (path: string, peers: string[]): Promise<void> => {
  await update(path, (memory) => {
    const fresh = peers.filter((p) => isDialable(p) && !memory.peers.includes(p))
    return fresh.length === 0 ? undefined : { ...memory, peers: [...memory.peers, ...fresh] }
  })
}

/** Remembers every address the peer store holds for `peerId` (a peer that synced this account). */
export const rememberPeerOf = async (libp2p: Libp2pNode, path: string, peerId: string): Promise<void> => {
  const peer = await libp2p.peerStore.get(peerIdFromString(peerId))
  await rememberPeers(path, peer.addresses.map((a) => `${a.multiaddr.toString()}/p2p/${peerId}`))
}

/** Remembers which device `peerId` proved to be. */
export const rememberPeerDevice = async (path: string, peerId: string, device: PeerDevice): Promise<void> => {
  await update(path, (memory) => {
    const known = memory.devices[peerId]
    if (known?.device === device.device && known.name === device.name) return undefined
    const devices = { ...memory.devices }
    // Re-inserted last: the most recent are the ones kept.
    delete devices[peerId]
    devices[peerId] = device
    return { ...memory, devices }
  })
}

/**
 * Forgets every peer that proved to be one of `revoked` (device ids): its addresses
 * (no more dialing a revoked device) and what it was. Resolves with the peers forgotten.
 */
export const forgetDevices = async (path: string, revoked: Set<string>): Promise<string[]> => {
  let gone: string[] = []
  await update(path, (memory) => {
    gone = Object.entries(memory.devices).filter(([, d]) => revoked.has(d.device)).map(([peer]) => peer)
    if (gone.length === 0) return undefined
    const devices = Object.fromEntries(Object.entries(memory.devices).filter(([peer]) => !gone.includes(peer)))
    return { ...memory, peers: memory.peers.filter((a) => !gone.includes(peerOf(a) ?? '')), devices }
  })
  return gone
}

/** Replaces the remembered listen addresses. */
export const rememberListen = async (path: string, listen: string[]): Promise<void> => {
  await update(path, (memory) => ({ ...memory, listen }))
}
