/**
 * Node factory (Node.js): libp2p 3 + a lean Helia 6 + OrbitDB 4, everything persisted
 * under one directory. No public bootstrap, no HTTP routers, no trustless gateways:
 * devices find each other by the addresses they remember or are given.
 */
import { mkdir, readFile, writeFile, rename, chmod } from 'node:fs/promises'
import { join } from 'node:path'
import { createLibp2p, type Libp2pOptions } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { gossipsub } from '@libp2p/gossipsub'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { Helia } from '@helia/utils'
import { bitswap } from '@helia/block-brokers'
import { LevelBlockstore } from 'blockstore-level'
import { deleteWithoutLock } from './direct-delete.ts'
import { LevelDatastore } from 'datastore-level'
import type { Libp2pNode, HeliaNode } from '../orbit/orbitdb.ts'
import type { SwarmGuard } from './swarm-guard.ts'
import { isWebRTCDirect, webRTCDirectFor } from './webrtc-direct.ts'

export interface NodeOptions {
  /** Directory holding the node's persistent state (peer key, blocks, datastore). */
  directory: string
  /**
   * Multiaddrs to listen on; an empty list means dial-only. A WebRTC-direct one
   * (/ip4/<addr>/udp/<port>/webrtc-direct) uses the certificate kept in `directory`;
   * in private mode those are left out (see `transportsFor`).
   */
  listen?: string[]
  /** Private mode: connect only to peers that hold this swarm key (a libp2p private network). */
  swarmKey?: Uint8Array
}

export interface StartedNode {
  helia: HeliaNode
  libp2p: Libp2pNode
  /** Private mode: the swarm key gate (its key can change while the node runs). */
  swarm?: SwarmGuard
  /**
   * Gives back the disk of deleted blocks: LevelDB only marks a delete, and the space
   * comes back when the files holding the old data are compacted.
   */
  compactBlocks: () => Promise<void>
  stop: () => Promise<void>
}

/** Loads the node's libp2p key, or makes one (owner-only file) on first start. */
const loadPeerKey = async (directory: string): Promise<PrivateKey> => {
  const path = join(directory, 'peer.key')
  try {
    return privateKeyFromProtobuf(new Uint8Array(await readFile(path)))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const key = await generateKeyPair('Ed25519')
  const tmp = `${path}.tmp`
  await writeFile(tmp, privateKeyToProtobuf(key), { mode: 0o600 })
  await rename(tmp, path)
  await chmod(path, 0o600)
  return key
}

/**
 * TCP and WebSockets always; WebRTC-direct (dial, and listen with the node's stable
 * certificate when asked) unless private. A WebRTC connection is upgraded without the
 * connection protector (@libp2p/webrtc skips it: DTLS and Noise only), so in private
 * mode it would let in peers that lack the swarm key: a private node neither listens
 * on it nor dials it.
 */
const transportsFor = async (directory: string, listen: string[], privateMode: boolean): Promise<NonNullable<Libp2pOptions['transports']>> => {
  if (privateMode) return [tcp(), webSockets()]
  return [tcp(), webSockets(), await webRTCDirectFor(directory, listen.some(isWebRTCDirect))]
}

export const startNode = async (options: NodeOptions): Promise<StartedNode> => {
  const { directory } = options
  await mkdir(directory, { recursive: true, mode: 0o700 })
  const privateKey = await loadPeerKey(directory)
  // Loaded in private mode only: @libp2p/pnet costs ~0.15 s to load.
  const swarm = options.swarmKey !== undefined ? (await import('./swarm-guard.ts')).createSwarmGuard(options.swarmKey) : undefined
  const listen = (options.listen ?? []).filter((a) => swarm === undefined || !isWebRTCDirect(a))
  const transports = await transportsFor(directory, listen, swarm !== undefined)
  const datastore = new LevelDatastore(join(directory, 'datastore'))
  const blockstore = new LevelBlockstore(join(directory, 'blocks'))
  await datastore.open()
  await blockstore.open()

  const config: Libp2pOptions<{ identify: ReturnType<ReturnType<typeof identify>>, pubsub: ReturnType<ReturnType<typeof gossipsub>> }> = {
    privateKey,
    datastore: datastore as unknown as Libp2pOptions['datastore'],
    addresses: { listen },
    transports,
    ...(swarm !== undefined ? { connectionProtector: swarm.protector } : {}),
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: {
      // Loopback and private addresses are where a person's own devices live.
      denyDialMultiaddr: () => false
    },
    services: {
      identify: identify(),
      pubsub: gossipsub({ allowPublishToZeroTopicPeers: true, emitSelf: false })
    }
  }
  const libp2p = await createLibp2p(config)
  const helia = new Helia({
    libp2p,
    // libp2p 3 and helia 6 pin different majors of interface-datastore; the runtime
    // contract is the same, only the declared types differ.
    datastore: datastore as unknown as ConstructorParameters<typeof Helia>[0]['datastore'],
    blockstore,
    blockBrokers: [bitswap()],
    routers: []
  })
  deleteWithoutLock(helia, blockstore)
  await helia.start()

  const stop = async (): Promise<void> => {
    await helia.stop()
    await libp2p.stop()
    await blockstore.close()
    await datastore.close()
  }
  // Every key is '/' and a base32 multihash (blockstore-level): all of them lie in ['/', '0').
  // The Level it types is classic-level on Node, which has compactRange.
  const levelDb = blockstore.db as unknown as { compactRange: (start: string, end: string) => Promise<void> }
  const compactBlocks = async (): Promise<void> => { await levelDb.compactRange('/', '0') }
  return { helia: helia as unknown as HeliaNode, libp2p: libp2p as unknown as Libp2pNode, ...(swarm !== undefined ? { swarm } : {}), compactBlocks, stop }
}
