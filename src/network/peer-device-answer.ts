/**
 * A device's answer to "which device of the account is this peer?" (browser-ready; the
 * asking side, which remembers the answers on disk, is src/node/peer-devices.ts). A
 * libp2p peer id is not a device id (each node has its own peer key), so a device proves
 * it: asked over PEER_DEVICE_PROTOCOL, it answers with its signing key and a signature
 * over its own peer id, and only to peers that have synced its account's registry (they
 * know the account's devices already; a stranger learns nothing). Node devices and the
 * web app both answer.
 */
import { lpStream } from '@libp2p/utils'
import type { Account } from '../account/account.ts'
import type { Libp2pNode } from '../orbit/orbitdb.ts'
import type { DeviceSecrets } from '../../identity/keystore.ts'
import { sign as fastSign } from '../../identity/fast-ed25519.ts'
import { base64urlEncode, utf8Encode } from '../crypto/bytes.ts'

export const PEER_DEVICE_PROTOCOL = '/orbit-account/peer-device/1.0.0'
/** The largest answer read or written. */
export const PEER_DEVICE_MAX_BYTES = 1024
/** How long a question, or the writing of its answer, may take: an answer may wait ANSWER_WAIT_MS for the registry to sync, and this leaves the dial and the signing room on a loaded machine. */
export const PEER_DEVICE_ASK_MS = 6000
/** How long an answer waits for the asking peer to have synced the registry here. */
const ANSWER_WAIT_MS = 2000

/** What a device signs: its node's peer id. */
export const peerDeviceStatement = (peerId: string): Uint8Array => utf8Encode(`orbit-account/peer-device/v1\n${peerId}`)

export interface PeerDeviceProof { device: string, signingKey: string, sig: string }

/**
 * Answers the peers that ask which device this node is (until `startPeerDevices(...).stop()`),
 * once the account is open (call the function returned) and only those that have synced
 * its registry: they know the account's devices already; a stranger learns nothing.
 */
export const answerPeerDevice = async (libp2p: Libp2pNode, secrets: DeviceSecrets): Promise<(account: Account) => void> => {
  const answer: PeerDeviceProof = {
    device: secrets.device,
    signingKey: base64urlEncode(secrets.signing.publicKey),
    // Natively where the platform can: at a daemon's start, the JavaScript Ed25519's first use would cost ~50 ms.
    sig: base64urlEncode(await fastSign(secrets.signing.secretKey, peerDeviceStatement(libp2p.peerId.toString())))
  }
  let account: Account | undefined
  /** Whether `peerId` synced the registry with this node, waiting a little (its sync and the question may cross). */
  const syncedWith = async (peerId: string): Promise<boolean> => {
    for (const deadline = Date.now() + ANSWER_WAIT_MS; Date.now() < deadline;) {
      if (account?.syncedPeers('registry').includes(peerId) === true) return true
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    return false
  }
  await libp2p.handle(PEER_DEVICE_PROTOCOL, (stream, connection) => {
    void (async () => {
      if (!await syncedWith(connection.remotePeer.toString())) throw new Error('not a peer of this account')
      const lp = lpStream(stream, { maxDataLength: PEER_DEVICE_MAX_BYTES })
      await lp.write(utf8Encode(JSON.stringify(answer)), { signal: AbortSignal.timeout(PEER_DEVICE_ASK_MS) })
      await stream.close({ signal: AbortSignal.timeout(PEER_DEVICE_ASK_MS) })
    })().catch(() => { stream.abort(new Error('peer-device answer failed')) })
  }, { maxInboundStreams: 2 })
  return (a) => { account = a }
}
