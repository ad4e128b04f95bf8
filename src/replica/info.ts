/**
 * The replica's handshake: a replica answers who it is for this account, its X25519
 * public key (the libp2p connection authenticates its peer id), so an admin can register
 * it. The key is public: anyone may ask. Browser-ready.
 */
import { lpStream } from '@libp2p/utils'
import type { Connection } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { Libp2pNode } from '../orbit/orbitdb.ts'
import { base64urlDecode, base64urlEncode, utf8Decode, utf8Encode } from '../crypto/bytes.ts'
import { ProtocolError } from '../errors.ts'

export const REPLICA_INFO_PROTOCOL = '/orbit-account/replica-info/1.0.0'
const MAX_BYTES = 512
const ASK_MS = 10_000

export interface ReplicaInfo {
  /** The replica's libp2p peer id (authenticated by the connection). */
  peer: string
  /** Its X25519 public key, base64url. */
  boxKey: string
}

/** Serves this node's box key on the handshake protocol; returns a stop function. */
export const serveReplicaInfo = async (libp2p: Libp2pNode, boxPublicKey: Uint8Array): Promise<() => Promise<void>> => {
  const answer = utf8Encode(JSON.stringify({ v: 1, boxKey: base64urlEncode(boxPublicKey) }))
  await libp2p.handle(REPLICA_INFO_PROTOCOL, (stream) => {
    void (async () => {
      await lpStream(stream, { maxDataLength: MAX_BYTES }).write(answer, { signal: AbortSignal.timeout(ASK_MS) })
      await stream.close({ signal: AbortSignal.timeout(ASK_MS) })
    })().catch(() => { stream.abort(new Error('replica info answer failed')) })
  }, { maxInboundStreams: 2 })
  return async () => { await libp2p.unhandle(REPLICA_INFO_PROTOCOL).catch(() => {}) }
}

/** Dials the replica at `addr` (a multiaddr with /p2p/) and asks for its box key. */
export const askReplicaInfo = async (libp2p: Libp2pNode, addr: string, signal = AbortSignal.timeout(ASK_MS)): Promise<ReplicaInfo> => {
  const connection = await libp2p.dial(multiaddr(addr), { signal }) as Connection
  const stream = await connection.newStream(REPLICA_INFO_PROTOCOL, { signal })
  try {
    const bytes = (await lpStream(stream, { maxDataLength: MAX_BYTES }).read({ signal })).subarray()
    const o = JSON.parse(utf8Decode(bytes, 'replica info')) as { v?: unknown, boxKey?: unknown }
    if (o.v !== 1 || typeof o.boxKey !== 'string' || base64urlDecode(o.boxKey, 'boxKey').length !== 32) throw new ProtocolError('malformed replica info')
    return { peer: connection.remotePeer.toString(), boxKey: o.boxKey }
  } finally {
    await stream.close().catch(() => {})
  }
}
