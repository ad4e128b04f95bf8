/**
 * What a device remembers about the network between runs (Node.js file adapter):
 * the addresses it listened on (so its port stays the same across restarts and other
 * devices find it again) and the peers it reached (dialled again at every start).
 */
import { readFile, rename, writeFile } from 'node:fs/promises'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Libp2pNode } from '../orbit/orbitdb.ts'

export interface NetworkMemory {
  listen: string[]
  peers: string[]
}

const MAX_PEERS = 64

export const readNetworkMemory = async (path: string): Promise<NetworkMemory> => {
  try {
    const o = JSON.parse(await readFile(path, 'utf8')) as Partial<NetworkMemory>
    const strings = (v: unknown): string[] => Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []
    return { listen: strings(o.listen), peers: strings(o.peers) }
  } catch {
    return { listen: [], peers: [] }
  }
}

export const writeNetworkMemory = async (path: string, memory: NetworkMemory): Promise<void> => {
  const tmp = `${path}.tmp`
  const peers = [...new Set(memory.peers)].slice(-MAX_PEERS)
  await writeFile(tmp, JSON.stringify({ listen: [...new Set(memory.listen)], peers }, null, 2) + '\n', { mode: 0o600 })
  await rename(tmp, path)
}

/**
 * The listen addresses to remember: the ones asked for, with each port 0 replaced by
 * the port the node got for that transport (so the next start keeps the same ports,
 * whatever the machine's addresses are then).
 */
export const listenAddrsToRemember = (asked: string[], bound: string[]): string[] =>
  asked.map((spec) => {
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

/** Adds peers (full multiaddrs with /p2p/) to what is remembered; writes are serialized. */
export const rememberPeers = async (path: string, peers: string[]): Promise<void> => {
  const task = writing.then(async () => {
    const memory = await readNetworkMemory(path)
    const fresh = peers.filter((p) => !memory.peers.includes(p))
    if (fresh.length === 0) return
    await writeNetworkMemory(path, { listen: memory.listen, peers: [...memory.peers, ...fresh] })
  })
  writing = task.catch(() => {})
  await task
}

/** Remembers every address the peer store holds for `peerId` (a peer that synced this account). */
export const rememberPeerOf = async (libp2p: Libp2pNode, path: string, peerId: string): Promise<void> => {
  const peer = await libp2p.peerStore.get(peerIdFromString(peerId))
  await rememberPeers(path, peer.addresses.map((a) => `${a.multiaddr.toString()}/p2p/${peerId}`))
}

/** Replaces the remembered listen addresses. */
export const rememberListen = async (path: string, listen: string[]): Promise<void> => {
  const task = writing.then(async () => {
    const memory = await readNetworkMemory(path)
    await writeNetworkMemory(path, { listen, peers: memory.peers })
  })
  writing = task.catch(() => {})
  await task
}
