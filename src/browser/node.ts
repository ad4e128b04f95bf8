/**
 * Node factory (browser): the twin of src/network/node.ts. libp2p dials out only, over
 * WebSockets and WebRTC-direct (a daemon on the LAN, reached from an HTTPS page with no
 * CA certificate); a lean Helia (bitswap only, no routers or gateways); blocks and the
 * datastore in IndexedDB. No private mode: its swarm-key handshake runs on raw connections,
 * which WebRTC does not give (README, "On a phone or in a browser").
 */
import { createLibp2p, type Libp2pOptions } from 'libp2p'
import { webSockets } from '@libp2p/websockets'
import { webRTCDirect } from '@libp2p/webrtc'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { gossipsub } from '@libp2p/gossipsub'
import { isPrivate } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'
import { Helia } from '@helia/utils'
import { bitswap } from '@helia/block-brokers'
import { IDBBlockstore } from 'blockstore-idb'
import { deleteWithoutLock } from '../network/direct-delete.ts'
import { IDBDatastore } from 'datastore-idb'
import type { Libp2pNode, HeliaNode } from '../orbit/orbitdb.ts'
import { DB_PREFIX } from './idb.ts'

export interface BrowserNode {
  helia: HeliaNode
  libp2p: Libp2pNode
  /** Lets this node dial loopback and private addresses of `peerId` (the account's own devices). */
  allowPeer: (peerId: string) => void
  stop: () => Promise<void>
}

const peerOf = (ma: Multiaddr): string | undefined => ma.getComponents().findLast((c) => c.name === 'p2p')?.value

/** Host names that only mean something on a LAN (mDNS, home routers, single labels). */
const LOCAL_NAME = /(^|\.)(localhost|local|lan|home|internal|intranet|home\.arpa)$|^[^.]+$/i

/** A loopback or private IP, or a DNS name of the LAN (a public name that resolves to a private IP is not caught). */
const isLocal = (ma: Multiaddr): boolean => {
  if (isPrivate(ma)) return true
  const name = ma.getComponents().find((c) => c.name.startsWith('dns'))?.value
  return name !== undefined && LOCAL_NAME.test(name)
}

/**
 * The browser's default gater refuses every private address (a page must not probe the
 * LAN for whoever serves it). The account's own devices live there, so their peers may
 * be dialled at any address; any other peer only at public ones.
 */
export const ownPeersGater = (allowed: ReadonlySet<string>): (ma: Multiaddr) => boolean => (ma) => {
  if (!isLocal(ma)) return false
  const peer = peerOf(ma)
  return peer === undefined || !allowed.has(peer)
}

export const startBrowserNode = async (): Promise<BrowserNode> => {
  const datastore = new IDBDatastore(`${DB_PREFIX}/datastore`)
  const blockstore = new IDBBlockstore(`${DB_PREFIX}/blocks`)
  await datastore.open()
  await blockstore.open()
  const allowed = new Set<string>()
  const config: Libp2pOptions<{ identify: ReturnType<ReturnType<typeof identify>>, pubsub: ReturnType<ReturnType<typeof gossipsub>> }> = {
    datastore: datastore as unknown as Libp2pOptions['datastore'],
    addresses: { listen: [] },
    transports: [webSockets(), webRTCDirect()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: ownPeersGater(allowed) },
    services: {
      identify: identify(),
      pubsub: gossipsub({ allowPublishToZeroTopicPeers: true, emitSelf: false })
    }
  }
  const libp2p = await createLibp2p(config)
  const helia = new Helia({
    libp2p,
    // As in src/network/node.ts: the same runtime contract under different declared majors.
    datastore: datastore as unknown as ConstructorParameters<typeof Helia>[0]['datastore'],
    blockstore: blockstore as unknown as ConstructorParameters<typeof Helia>[0]['blockstore'],
    blockBrokers: [bitswap()],
    routers: []
  })
  deleteWithoutLock(helia, blockstore)
  await helia.start()
  return {
    helia: helia as unknown as HeliaNode,
    libp2p: libp2p as unknown as Libp2pNode,
    allowPeer: (peerId) => { allowed.add(peerId) },
    stop: async () => {
      await helia.stop()
      await libp2p.stop()
      await blockstore.close()
      await datastore.close()
    }
  }
}
