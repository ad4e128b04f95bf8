/**
 * The Node.js side of a blind replica: its directory (its own keys, which are no
 * device's and open no lockbox; a lock; the peers it met), its node, and the replica
 * itself, opened as soon as a device that holds the account can be reached.
 */
import { stat } from 'node:fs/promises'
import { decodeKeystore } from '../../identity/keystore.ts'
import { readKeystoreFile } from '../../identity/keystore-fs.ts'
import { isValidAddress } from '../orbit/orbitdb.ts'
import { openReplicaCore, type Replica } from '../replica/replica.ts'
import { InvalidArgumentError } from '../errors.ts'
import { acquireLock } from './lock.ts'
import { accountPaths, type AccountPaths } from './paths.ts'
import { ownerOnlyDir } from './permissions.ts'
import { newSecrets, startServices, type Started } from './account-dir.ts'
import { rememberPeerOf } from './network-memory.ts'
import { readSwarmFile, SWARM_GRACE_MS, writeSwarmFile } from './swarm-file.ts'
import type { Swarm } from '../account/swarm.ts'
import type { StartedNode } from '../network/node.ts'
import { serveReplicaInfo } from '../replica/info.ts'
import { retiredLogSweeper } from '../account/retired-logs.ts'
import { logFiles } from './log-files.ts'
import { serveJoinRequests, type JoinRequestLimits, type JoinRequestStore } from '../replica/join-requests.ts'
import { base64urlDecode } from '../crypto/bytes.ts'
import { lockboxAad, openBox } from '../crypto/lockbox.ts'

export interface ServedReplica {
  paths: AccountPaths
  started: Started
  peerId: () => string
  addrs: () => string[]
  /** Resolves with the replica once the registry could be fetched from a device. */
  ready: Promise<Replica>
  /** The join requests it holds for the account's devices (none until ready). */
  joinRequests: () => { count: number, bytes: number }
  close: () => Promise<void>
}

/** How often the replica tries to fetch the registry while no device that has it is reachable. */
const RETRY_MS = 2000

/** How often a private replica compares the swarm its registry names with the key it has. */
const SWARM_CHECK_MS = 2000

/** What to do to let a replica back in after a revocation (said in its notes). */
const NEW_KEY_HOW = 'Run `orbit-account swarm-key` on one of them and restart this replica with `serve <address> --swarm-key-file <file>` (or `--swarm-key -` to read it on stdin)'

/**
 * The new swarm key sealed to this replica in the registry (a registered replica, private
 * mode: src/node/replicas.ts), if there is one for `epoch`.
 */
const boxedSwarmKey = (r: Replica, me: { peer: string, boxSecretKey: Uint8Array }, epoch: number): Uint8Array | undefined => {
  const record = r.state().replicas[me.peer]
  if (record?.swarm?.epoch !== epoch || record.removedIn !== undefined) return undefined
  try {
    return openBox(me.boxSecretKey, base64urlDecode(record.swarm.box, 'box'), lockboxAad(r.address, epoch, me.peer))
  } catch {
    return undefined
  }
}

/**
 * Private mode: a replica holds no group key, so it cannot derive the swarm key that a
 * revocation moves to. It learns the epoch its key belongs to (the swarm its registry
 * names when it first synced). When the registry names a newer one, a registered replica
 * finds the new key sealed to it there and moves to it as the devices do. Otherwise it
 * does with its old key what the devices do: the connections made with it stay open for
 * the grace period (the devices online then fetch the rotation, and seal the new key to
 * it if it is registered), then it closes them and refuses every new one, so the revoked
 * device, which still holds that key, cannot reach it. It is unreachable until it is
 * restarted with the new key, and says so. Already stale when it starts (restarted
 * without the new key), it refuses at once: the grace is long over.
 * Returns a stop function.
 */
const watchSwarmEpoch = (r: Replica, swarm: Swarm, path: string, node: StartedNode, graceMs: number, me: { peer: string, boxSecretKey: Uint8Array }, onNote?: (note: string) => void): () => void => {
  const guard = node.swarm
  let known = swarm.epoch
  /** The epoch of the key the guard holds. */
  let holding = swarm.epoch
  let first = true
  // A key given by hand belongs to the swarm the registry names once a peer let this node in (and had time to sync).
  let inSince: number | undefined
  let lockOut: ReturnType<typeof setTimeout> | undefined
  let closeOld: ReturnType<typeof setTimeout> | undefined
  const shut = (): void => {
    guard?.refuseAll()
    void Promise.all(node.libp2p.getConnections().map(async (c) => { await c.close().catch(() => {}) }))
  }
  const check = async (): Promise<void> => {
    const now = r.swarmEpoch()
    const atStart = first
    first = false
    if (known === -1) inSince = node.libp2p.getPeers().length > 0 ? inSince ?? Date.now() : undefined
    if (now !== null && now > holding && holding !== -1) {
      const key = boxedSwarmKey(r, me, now)
      if (key !== undefined) {
        // Moved by itself: new connections use the new key; those made with the old one end after the grace.
        const old = node.libp2p.getConnections()
        guard?.setKey(key)
        holding = now
        known = now
        clearTimeout(lockOut)
        lockOut = undefined
        // Said as soon as it is so (the key is in use), before the file is written.
        onNote?.(`a device was revoked or a replica removed: this replica moved to the new swarm key (epoch ${now}) sealed to it in the registry`)
        await writeSwarmFile(path, { epoch: now, key })
        closeOld = setTimeout(() => { void Promise.all(old.map(async (c) => { await c.close().catch(() => {}) })) }, atStart ? 0 : graceMs)
        return
      }
    }
    if (now === null || now === known) return
    if (known === -1) {
      if (inSince === undefined || Date.now() - inSince < SWARM_CHECK_MS) return
      known = now
      holding = now
      await writeSwarmFile(path, { epoch: now, key: swarm.key })
      return
    }
    if (now < known) return
    known = now
    const when = atStart ? 'now' : `in ${Math.round(graceMs / 1000)} s`
    // A registered replica expects the new key sealed to it before then: said only when it is not registered.
    const registered = r.state().replicas[me.peer]
    const why = registered?.removedIn !== undefined ? 'this replica was removed' : 'a device was revoked'
    if (registered === undefined || registered.removedIn !== undefined) onNote?.(`${why}, and the account's devices moved to a new swarm key (epoch ${now}): this replica's key is the old one, so ${when} ` +
      `it closes its connections and refuses new ones (${registered?.removedIn !== undefined ? 'it is no longer one of the account\'s replicas' : 'the revoked device holds that key too'}); it is unreachable until given the new key. ` + NEW_KEY_HOW)
    if (atStart) shut()
    else if (lockOut === undefined) lockOut = setTimeout(shut, graceMs)
  }
  void check().catch(() => {})
  const timer = setInterval(() => { void check().catch(() => {}) }, SWARM_CHECK_MS)
  return () => {
    clearInterval(timer)
    clearTimeout(lockOut)
    clearTimeout(closeOld)
  }
}

/** What a replica still waiting for the account says (once). */
const waitingNote = (hasSwarmKey: boolean, connected: number): string =>
  `waiting for a device of the account to connect and send its registry (${connected} peer(s) connected)` + (hasSwarmKey || connected > 0 ? '' : '. ' +
    'If the account is private, its devices let in only peers that hold its swarm key: run `orbit-account swarm-key` on one of them ' +
    'and restart this replica with `serve <address> --swarm-key-file <file>` or `--swarm-key -` (kept here for later starts)')

/**
 * `swarmKey`: the account is private, and this is its swarm key (from `orbit-account
 * swarm-key` on a device); it is kept in the replica's directory for later starts.
 * `swarmGraceMs`: how long connections made with a swarm key that a revocation replaced
 * stay open (the devices' grace period by default; tests shorten it).
 */
export const serveReplica = async (options: { dir: string, address: string, listen: string[], onNote?: (note: string) => void, swarmKey?: Uint8Array, swarmGraceMs?: number, joinRequestLimits?: JoinRequestLimits }): Promise<ServedReplica> => {
  if (!isValidAddress(options.address)) throw new InvalidArgumentError(`'${options.address}' is not an account address (like /orbitdb/zdpu...; see \`orbit-account status\`)`)
  const paths = accountPaths(options.dir)
  await ownerOnlyDir(paths.dir)
  const lock = await acquireLock(paths.lock, 'daemon')
  try {
    const hasKeys = await stat(paths.keystore).then(() => true, () => false)
    const secrets = hasKeys ? await decodeKeystore(await readKeystoreFile(paths.keystore)) : await newSecrets(paths, 'replica', undefined)
    const given = options.swarmKey !== undefined ? { epoch: -1, key: options.swarmKey } : undefined
    if (given !== undefined) await writeSwarmFile(paths.swarm, given)
    const swarm = given ?? await readSwarmFile(paths.swarm)
    const started = await startServices(paths, secrets, options.listen, swarm?.key)
    // An admin registering this replica learns its box key here (`replica add`).
    const stopInfo = await serveReplicaInfo(started.node.libp2p, secrets.box.publicKey)
    let closed = false
    let replica: Replica | undefined
    let stopSwarmWatch: (() => void) | undefined
    let joinRequests: JoinRequestStore | undefined
    // Logs of epochs long left: their disk given back after each move (src/account/retired-logs.ts).
    const retired = retiredLogSweeper({
      orbitdb: started.orbitdb,
      account: options.address,
      stores: logFiles(started.orbitdb.directory, started.node),
      state: () => replica?.state(),
      configured: async () => replica?.dataLog() ?? undefined
    })
    const ready = (async (): Promise<Replica> => {
      // Said once: the same "Failed to load block" every few seconds tells a person nothing.
      let told = false
      for (;;) {
        if (closed) throw new Error('the replica stopped')
        try {
          replica = await openReplicaCore({ orbitdb: started.orbitdb, address: options.address, signal: AbortSignal.timeout(10_000), onMoved: retired.sweep })
          break
        } catch {
          if (!told) options.onNote?.(waitingNote(swarm !== undefined, started.node.libp2p.getPeers().length))
          told = true
          await new Promise((resolve) => setTimeout(resolve, RETRY_MS))
        }
      }
      const r = replica
      // Ready means serving: the registry (with its epoch) has arrived from a device.
      while (r.epoch() === null && !closed) await new Promise((resolve) => setTimeout(resolve, 100))
      retired.sweep()
      r.onSync((peerId) => {
        void rememberPeerOf(started.node.libp2p, paths.peers, peerId).catch(() => {})
      })
      // Joiners that no device answers leave their requests here, checked against the registry (replica/join-requests.ts).
      if (!closed) joinRequests = await serveJoinRequests(started.node.libp2p, () => r.state(), options.joinRequestLimits)
      if (swarm !== undefined && !closed) {
        const me = { peer: started.node.libp2p.peerId.toString(), boxSecretKey: secrets.box.secretKey }
        stopSwarmWatch = watchSwarmEpoch(r, swarm, paths.swarm, started.node, options.swarmGraceMs ?? SWARM_GRACE_MS, me, options.onNote)
      }
      return r
    })()
    ready.catch(() => {})
    return {
      paths,
      started,
      peerId: () => started.node.libp2p.peerId.toString(),
      addrs: () => started.node.libp2p.getMultiaddrs().map((a) => a.toString()),
      ready,
      joinRequests: () => joinRequests?.size() ?? { count: 0, bytes: 0 },
      close: async () => {
        closed = true
        stopSwarmWatch?.()
        await joinRequests?.stop()
        await stopInfo()
        try {
          await retired.stop()
          await replica?.close()
          await started.orbitdb.stop()
          await started.node.stop()
        } finally {
          await lock.release()
        }
      }
    }
  } catch (err) {
    await lock.release()
    throw err
  }
}
