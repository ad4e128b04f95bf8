/**
 * Which device of the account a connected peer is. A libp2p peer id is not a device
 * id (each node has its own peer key), so a device proves it: asked over
 * PEER_DEVICE_PROTOCOL, it answers with its signing key and a signature over its own
 * peer id (src/network/peer-device-answer.ts). The asker checks the signature, that the key is the device id's (a device
 * key belongs to one account), that the peer id is the connection's, and that the
 * registry lists the device. A device answers from the moment its node starts (a peer
 * asks as soon as it has synced, which can be before the account is open here). A peer that does not answer (a blind replica, anything else) is
 * no device. What was proved is remembered in peers.json; a peer whose device is
 * revoked is forgotten there (its addresses are no longer dialled).
 */
import { multiaddr } from '@multiformats/multiaddr'
import { lpStream } from '@libp2p/utils'
import type { Account } from '../account/account.ts'
import type { Libp2pNode } from '../orbit/orbitdb.ts'
import { deviceIdFromSigningKey } from '../../identity/keys.ts'
import { verify as fastVerify } from '../../identity/fast-ed25519.ts'
import { base64urlDecode, utf8Decode } from '../crypto/bytes.ts'
import { PEER_DEVICE_ASK_MS as ASK_MS, PEER_DEVICE_MAX_BYTES as MAX_BYTES, PEER_DEVICE_PROTOCOL, peerDeviceStatement as statement, type PeerDeviceProof } from '../network/peer-device-answer.ts'
import { forgetDevices, readNetworkMemory, rememberPeerDevice, type PeerDevice } from './network-memory.ts'

/** A peer that did not prove a device is asked again, when it syncs, after this long (it may have been opening its account). */
const RETRY_MS = 15_000
/** The pauses before a peer that did not answer (or named a device not known here yet) is asked again. */
const AGAIN_MS = [1500, 3000, 6000, 12_000, 24_000]
/** How often the registry is looked at for new revocations. */
const REVOKED_CHECK_MS = 2000

const parseProof = (bytes: Uint8Array): PeerDeviceProof | undefined => {
  try {
    const o = JSON.parse(utf8Decode(bytes)) as Partial<PeerDeviceProof>
    return typeof o.device === 'string' && typeof o.signingKey === 'string' && typeof o.sig === 'string' ? { device: o.device, signingKey: o.signingKey, sig: o.sig } : undefined
  } catch {
    return undefined
  }
}

/** The device `proof` names, if it proves that `peerId` is that device (checked natively where the platform can: the JavaScript curve's first use costs ~10 ms). */
export const checkProof = async (proof: PeerDeviceProof, peerId: string): Promise<string | undefined> => {
  try {
    const key = base64urlDecode(proof.signingKey)
    if (deviceIdFromSigningKey(key) !== proof.device) return undefined
    return await fastVerify(base64urlDecode(proof.sig), key, statement(peerId)) ? proof.device : undefined
  } catch {
    return undefined
  }
}

export interface PeerDevices {
  /** The device `peerId` proved to be (in this run or an earlier one), with its name and status now. */
  of: (peerId: string) => (PeerDevice & { status: string }) | undefined
  /** Whether `peerId` proved to be a device the registry has revoked. */
  isRevoked: (peerId: string) => boolean
  /** Asks connected peers not identified yet again (at most every 15 s), and waits (at most `ms`) for the questions under way. */
  settle: (ms: number) => Promise<void>
  stop: () => Promise<void>
}

/** Asks the peers that sync this account which device they are, and remembers it. */
export const startPeerDevices = async (options: { libp2p: Libp2pNode, account: Account, memoryPath: string }): Promise<PeerDevices> => {
  const { libp2p, account, memoryPath } = options

  const known = new Map<string, PeerDevice>(Object.entries((await readNetworkMemory(memoryPath)).devices))
  const asked = new Map<string, number>()
  const pending = new Set<Promise<void>>()
  const stopping = new AbortController()
  const statusOf = (device: string): string | undefined => account.devices().find((d) => d.device === device)?.status
  const revokedIds = (): Set<string> => new Set(account.devices().filter((d) => d.status === 'revoked').map((d) => d.device))

  const ask = async (peerId: string): Promise<void> => {
    const signal = AbortSignal.timeout(ASK_MS)
    const stream = await libp2p.dialProtocol(multiaddr(`/p2p/${peerId}`), PEER_DEVICE_PROTOCOL, { signal })
    try {
      const proof = parseProof((await lpStream(stream, { maxDataLength: MAX_BYTES }).read({ signal })).subarray())
      const device = proof !== undefined ? await checkProof(proof, peerId) : undefined
      const row = account.devices().find((d) => d.device === device)
      // No proof (it was still opening its account, or has not seen this node sync yet), or a device
      // whose admission has not reached this registry yet: asked again.
      if (row === undefined) throw new Error(`peer ${peerId} proved no device known here yet`)
      const found = { device: row.device, name: row.name }
      known.set(peerId, found)
      if (row.status === 'revoked') await forgetDevices(memoryPath, new Set([row.device]))
      else await rememberPeerDevice(memoryPath, peerId, found)
    } finally {
      await stream.close().catch(() => {})
    }
  }
  /** A device still opening its account answers only once it is open: asked again a few times while connected. */
  const askWhileConnected = async (peerId: string): Promise<void> => {
    for (const pause of [0, ...AGAIN_MS]) {
      // A pause ends early when this node stops (a one-shot command does not wait for it).
      if (pause > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, pause)
          stopping.signal.addEventListener('abort', () => { clearTimeout(timer); resolve() }, { once: true })
        })
      }
      if (stopping.signal.aborted || known.has(peerId) || !libp2p.getPeers().some((p) => p.toString() === peerId)) return
      try {
        await ask(peerId)
        return
      } catch {}
    }
  }
  const learn = (peerId: string): void => {
    const last = asked.get(peerId)
    if (known.has(peerId) || (last !== undefined && Date.now() - last < RETRY_MS)) return
    asked.set(peerId, Date.now())
    const task = askWhileConnected(peerId).finally(() => { pending.delete(task) })
    pending.add(task)
  }
  const stopSync = account.onSync((peerId) => { learn(peerId) })
  for (const p of account.syncedPeers('registry')) learn(p)

  // The registry says a device was revoked: its peers are forgotten.
  let revokedCount = -1
  const prune = async (): Promise<void> => {
    const revoked = revokedIds()
    if (revoked.size === revokedCount) return
    revokedCount = revoked.size
    await forgetDevices(memoryPath, revoked)
  }
  const timer = setInterval(() => { void prune().catch(() => {}) }, REVOKED_CHECK_MS)
  await prune().catch(() => {})

  return {
    of: (peerId) => {
      const d = known.get(peerId)
      const status = d !== undefined ? statusOf(d.device) : undefined
      return d !== undefined && status !== undefined ? { device: d.device, name: account.devices().find((r) => r.device === d.device)?.name ?? d.name, status } : undefined
    },
    isRevoked: (peerId) => {
      const d = known.get(peerId)
      return d !== undefined && statusOf(d.device) === 'revoked'
    },
    settle: async (ms) => {
      // Someone wants the names now (`status`): a connected peer not identified yet is asked again
      // (at most every RETRY_MS), since the questions asked when it synced may all have come too early.
      for (const p of libp2p.getPeers()) {
        const peerId = p.toString()
        if (!known.has(peerId) && account.syncedPeers('registry').includes(peerId)) learn(peerId)
      }
      if (pending.size === 0) return
      await Promise.race([Promise.allSettled([...pending]), new Promise((resolve) => setTimeout(resolve, ms).unref())])
    },
    stop: async () => {
      stopping.abort()
      clearInterval(timer)
      stopSync()
      await Promise.race([Promise.allSettled([...pending]), new Promise((resolve) => setTimeout(resolve, 500).unref())])
      // A last look: a revocation made by this run (a `revoke` command) forgets its device's peers now.
      revokedCount = -1
      await prune().catch(() => {})
      await libp2p.unhandle(PEER_DEVICE_PROTOCOL).catch(() => {})
    }
  }
}
