/**
 * The Node.js side of an account: its directory (keystore, config, lock, what it
 * remembers of the network), its network node and its OrbitDB instance.
 * `createAccount`, `joinAccount` and `openAccount` are what the CLI, the daemon and
 * Node programs call.
 */
import { rm, stat } from 'node:fs/promises'
// For its effect: the core's cipher runs natively on large inputs.
import './native-aead.ts'
import './native-deflate.ts'
import { multiaddr } from '@multiformats/multiaddr'
import type { Account, BuildOptions } from '../account/account.ts'
import type { Swarm } from '../account/swarm.ts'
import { createAccountCore, openAccountCore } from '../account/open.ts'
import { joinAccountCore } from '../account/join.ts'
import { recoverAccountCore } from '../account/recovery.ts'
import { recoveryKeysFromWords } from '../account/recovery-words.ts'
import { useAccountAccessControllers } from '../account/access-registration.ts'
import { generateDeviceKeys, deviceIdFromSigningKey } from '../../identity/keys.ts'
import { createDeviceIdentities } from '../../identity/identities.ts'
import { decodeKeystore, encodeKeystore, type DeviceSecrets } from '../../identity/keystore.ts'
import { readKeystoreFile, writeKeystoreFile } from '../../identity/keystore-fs.ts'
import { base64urlEncode, randomBytes } from '../crypto/bytes.ts'
import { AccountExistsError, InvalidArgumentError, InvalidInviteError, JoinFailedError, NoAccountError, OrbitAccountError, StoreLockedError } from '../errors.ts'
import { createOrbitDB, parseAddress, type OrbitDB } from '../orbit/orbitdb.ts'
import { startNode, type StartedNode } from '../network/node.ts'
import { createJoinService, type InviteOptions, type JoinService, type OpenInvite } from '../join/inviter.ts'
import { askOrLeave } from '../join/admission.ts'
import { admitPendingJoins } from './pending-joins.ts'
import { parseInvite } from '../invite/invite.ts'
import { inviteAddrs } from '../invite/addrs.ts'
import type { Mode } from '../types.ts'
import { MODES } from '../types.ts'
import { acquireLock, isLevelLocked, type LockInfo, type StoreLock } from './lock.ts'
import { accountPaths, type AccountPaths } from './paths.ts'
import { makeOwnerOnly, ownerOnlyDir } from './permissions.ts'
import { epochMemory, readConfig, writeConfig, type EpochMemory } from './config.ts'
import { retiredLogSweeper } from '../account/retired-logs.ts'
import { logFiles } from './log-files.ts'
import type { EpochRecord } from '../../acl/types.ts'
import { rememberPeerOf, rememberPeers } from './network-memory.ts'
import { followSwarm, readSwarmFile } from './swarm-file.ts'
import { watchInviter } from './inviter-watch.ts'
import { dialReplicas, registerReplicaAt } from './replicas.ts'
import { startPeerDevices, type PeerDevices } from './peer-devices.ts'
import { answerPeerDevice } from '../network/peer-device-answer.ts'
import { checkQuotas, type Quotas } from '../store/quota.ts'
import { stateFiles } from './state-files.ts'
import { stateKey, type StateStore } from '../store/state-store.ts'
export { readConfig, type AccountConfig } from './config.ts'

/** The sealed state files of this device in `paths` (one key per account, from its box key). */
const storeOf = (paths: AccountPaths, secrets: DeviceSecrets) => (account: string): StateStore => stateFiles(paths.state, stateKey(secrets.box.secretKey, account))

export interface NodeAccount extends Account {
  paths: AccountPaths
  node: StartedNode
  peerId: () => string
  addrs: () => string[]
  peers: () => string[]
  /** The device of the account a connected peer proved to be; undefined for a replica or any other peer. */
  peerDevice: PeerDevices['of']
  /** Waits (at most `ms`) for the peers that synced to say which device they are. */
  settlePeers: (ms: number) => Promise<void>
  /** Registers the replica at `addr` (a multiaddr with /p2p/; this device must be an admin); resolves with its peer id. */
  addReplica: (addr: string) => Promise<string>
  /** Opens an invite served by this device until it is used or expires. */
  invite: (options: InviteOptions) => Promise<OpenInvite>
  /** Dials `addrs` and waits (at most `ms`) until the reachable ones have exchanged heads of `log` (default: the data log) with this device. */
  syncWith: (addrs: string[], ms: number, log?: 'registry' | 'data') => Promise<string[]>
}

export interface DirOptions {
  dir: string
  passphrase?: string
  /** Multiaddrs to listen on (none: dial-only, as for a one-shot command). */
  listen?: string[]
  role?: LockInfo['role']
  /** Private mode: how long connections made with a replaced swarm key stay open (ms). */
  swarmGraceMs?: number
  /**
   * Private mode, opening: use this swarm key (from \`orbit-account swarm-key\` on another
   * device) instead of the stored one: a device that was away when another was revoked.
   */
  swarmKey?: Uint8Array
  /** Opening: automatic compaction's thresholds, or false for none (default: src/account/compaction.ts). */
  compaction?: BuildOptions['compaction']
}

/** How long to keep waiting for the remaining peers once one has synced the data log. */
const SYNC_GRACE_MS = 1000

// eslint-disable-next-line no-control-regex
const NAME_RE = /^[^\u0000-\u001f\u007f]{1,64}$/

const exists = async (path: string): Promise<boolean> => {
  try {
    await stat(path)
    return true
  } catch {
    return false
  }
}

const lockedError = (paths: AccountPaths, err: unknown): unknown =>
  isLevelLocked(err) && !(err instanceof StoreLockedError)
    ? new StoreLockedError(`the account store in ${paths.dir} is open in another process`, { cause: err })
    : err

export interface Started { node: StartedNode, orbitdb: OrbitDB }

export const startServices = async (paths: AccountPaths, secrets: DeviceSecrets, listen: string[], swarmKey?: Uint8Array): Promise<Started> => {
  useAccountAccessControllers()
  const node = await startNode({ directory: paths.node, listen, ...(swarmKey !== undefined ? { swarmKey } : {}) })
  try {
    const { identities, identity } = await createDeviceIdentities({ ipfs: node.helia, signing: secrets.signing })
    const orbitdb = await createOrbitDB({ ipfs: node.helia, identities, identity, directory: paths.orbitdb })
    return { node, orbitdb }
  } catch (err) {
    await node.stop()
    throw err
  }
}

/** Takes the lock, starts the node and OrbitDB, runs `open`; undoes all of it if anything fails. */
const withServices = async (
  paths: AccountPaths, options: DirOptions, secrets: () => Promise<DeviceSecrets>, open: (s: Started, secrets: DeviceSecrets, onEpoch: (epoch: EpochRecord) => void) => Promise<Account>,
  swarm?: { key: Uint8Array, pinned?: boolean }
): Promise<NodeAccount> => {
  const lock = await acquireLock(paths.lock, options.role ?? 'command')
  try {
    const deviceSecrets = await secrets()
    const started = await startServices(paths, deviceSecrets, options.listen ?? [], swarm?.key)
    try {
      const answerFor = await answerPeerDevice(started.node.libp2p, deviceSecrets)
      const memory = epochMemory(paths)
      const account = await open(started, deviceSecrets, memory.onEpoch)
      answerFor(account)
      const peerDevices = await startPeerDevices({ libp2p: started.node.libp2p, account, memoryPath: paths.peers }).catch(async (err: unknown) => {
        await account.close().catch(() => {})
        throw err
      })
      return wrap(account, paths, started, deviceSecrets, lock, { graceMs: options.swarmGraceMs, pinned: swarm?.pinned === true }, peerDevices, memory)
    } catch (err) {
      await started.orbitdb.stop().catch(() => {})
      await started.node.stop().catch(() => {})
      throw err
    }
  } catch (err) {
    await lock.release()
    throw lockedError(paths, err)
  }
}

const wrap = (account: Account, paths: AccountPaths, started: Started, secrets: DeviceSecrets, lock: StoreLock, swarm: { graceMs: number | undefined, pinned: boolean }, peerDevices: PeerDevices, memory: EpochMemory): NodeAccount => {
  const { node, orbitdb } = started
  let closing: Promise<void> | undefined
  // Logs of epochs long left: their disk given back now and after each move.
  const retired = retiredLogSweeper({ orbitdb, account: account.address, stores: logFiles(orbitdb.directory, node), state: () => account.state(), configured: async () => (await readConfig(paths)).dataLog })
  memory.onWritten(retired.sweep)
  retired.sweep()
  const stopSwarm = followSwarm(node, account, paths.swarm, swarm)
  const libp2p = node.libp2p
  const addrs = (): string[] => libp2p.getMultiaddrs().map((a) => a.toString())
  const startJoins = async (): Promise<JoinService> => await createJoinService({
    libp2p,
    account,
    signingKey: base64urlEncode(secrets.signing.publicKey),
    addrs: () => inviteAddrs(addrs()),
    ...(node.swarm !== undefined ? { swarmKey: node.swarm.key } : {})
  })
  // A device that listens (a daemon) answers joins for the invitations recorded in the registry, whoever made them.
  let joins: Promise<JoinService> | undefined = libp2p.getMultiaddrs().length > 0 ? startJoins() : undefined
  joins?.catch(() => {})
  const stopDialingReplicas = dialReplicas(libp2p, account)
  // Join requests left at a registered replica while no device answered: admitted here once checked.
  const stopAdmitting = admitPendingJoins(libp2p, account)
  // Peers that hold this account are remembered, so devices find each other after restarts (not a revoked device's).
  const stopRemembering = account.onSync((peerId) => {
    if (!peerDevices.isRevoked(peerId)) void rememberPeerOf(libp2p, paths.peers, peerId).catch(() => {})
  })
  return {
    ...account,
    paths,
    node,
    peerId: () => libp2p.peerId.toString(),
    addrs,
    peers: () => libp2p.getPeers().map((p) => p.toString()),
    peerDevice: peerDevices.of,
    settlePeers: peerDevices.settle,
    addReplica: async (addr) => await registerReplicaAt(libp2p, account, addr),
    invite: async (options) => {
      // A device that joins a long log replicates it entry by entry: start from a snapshot instead.
      await account.compactIfLarge()
      joins ??= startJoins()
      return await (await joins).invite(options)
    },
    syncWith: async (targets, ms, which = 'data') => {
      const synced = new Set<string>(account.syncedPeers(which))
      const registrySynced = new Set<string>(account.syncedPeers('registry'))
      const stop = account.onSync((peerId, log) => {
        if (log === which) synced.add(peerId)
        if (log === 'registry') registrySynced.add(peerId)
      })
      try {
        const reached = (await Promise.all(targets.map(async (t) => {
          try {
            const conn = await libp2p.dial(multiaddr(t), { signal: AbortSignal.timeout(ms) }) as { remotePeer: { toString: () => string } }
            return conn.remotePeer.toString()
          } catch {
            return undefined
          }
        }))).filter((p): p is string => p !== undefined)
        const deadline = Date.now() + ms
        // A peer that shares the registry but never this data log (a revoked device, one
        // still in an older epoch) is not waited for long once another peer has synced it.
        let graceEnds: number | undefined
        while (reached.some((p) => !synced.has(p)) && Date.now() < deadline) {
          if (which === 'data' && reached.every((p) => registrySynced.has(p)) && reached.some((p) => synced.has(p))) {
            graceEnds ??= Date.now() + SYNC_GRACE_MS
            if (Date.now() > graceEnds) break
          }
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
        return [...new Set(reached)]
      } finally {
        stop()
      }
    },
    // Once: a second close waits for the first (stopping the node's native transports twice is not safe).
    close: async () => {
      closing ??= (async () => {
        try {
          stopRemembering()
          stopDialingReplicas()
          stopAdmitting()
          stopSwarm()
          const sweeping = retired.stop()
          await peerDevices.stop()
          await (await joins?.catch(() => undefined))?.stop()
          await account.close()
          await memory.flush()
          await sweeping
          await orbitdb.stop()
          await node.stop()
        } finally {
          await lock.release()
        }
      })()
      await closing
    }
  }
}

const checkName = (name: string): void => {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new InvalidArgumentError('device name must be 1 to 64 characters without control characters')
  }
}

export const newSecrets = async (paths: AccountPaths, name: string, passphrase: string | undefined): Promise<DeviceSecrets> => {
  const keys = generateDeviceKeys()
  const secrets: DeviceSecrets = { version: 1, device: deviceIdFromSigningKey(keys.signing.publicKey), name, signing: keys.signing, box: keys.box }
  await writeKeystoreFile(paths.keystore, await encodeKeystore(secrets, passphrase !== undefined ? { passphrase } : {}))
  return secrets
}

const checkNoAccount = async (paths: AccountPaths): Promise<void> => {
  if (await exists(paths.config)) throw new AccountExistsError(`an account already exists in ${paths.dir}`)
}

/**
 * Creates an account in `dir` with this machine as its first device. `recoveryWords`
 * (from `generateRecoveryWords()`; show them to the person once, never store them) set
 * the account's recovery key. `quotas`: the per-device quotas every peer applies
 * (src/store/quota.ts; default DEFAULT_QUOTAS), fixed for the account's life.
 */
export const createAccount = async (options: DirOptions & { name: string, mode?: Mode, recoveryWords?: string, quotas?: Quotas }): Promise<NodeAccount> => {
  const paths = accountPaths(options.dir)
  const mode = options.mode ?? 'encrypted'
  if (!(MODES as readonly string[]).includes(mode)) throw new InvalidArgumentError(`mode must be one of ${MODES.join(', ')}`)
  checkName(options.name)
  if (options.quotas !== undefined) checkQuotas(options.quotas)
  const recovery = options.recoveryWords !== undefined ? recoveryKeysFromWords(options.recoveryWords).descriptor : undefined
  await checkNoAccount(paths)
  await ownerOnlyDir(paths.dir)
  return await withServices(paths, options, async () => {
    await checkNoAccount(paths)
    return await newSecrets(paths, options.name, options.passphrase)
  }, async ({ orbitdb }, secrets, onEpoch) => {
    const account = await createAccountCore({ orbitdb, secrets, mode, store: storeOf(paths, secrets), onEpoch, ...(recovery !== undefined ? { recovery } : {}), ...(options.quotas !== undefined ? { quotas: options.quotas } : {}) })
    const info = account.info()
    await writeConfig(paths, { version: 1, account: info.account, device: info.device, name: info.name, mode, dataLog: account.state().epoch?.dataLog })
    return account
  // Private mode: a key nobody holds until the account names its own (derived from its first group key).
  }, mode === 'private' ? { key: randomBytes(32) } : undefined)
}

/** Joins the account of `invite` with this machine as a new device, and syncs it. */
export interface JoinOptions {
  invite: string
  name: string
  signal?: AbortSignal
  onCode?: (code: string) => void
  onProgress?: (message: string) => void
  /** How long to wait for the inviting device to come back if it goes away mid-sync (ms; default 30 s). */
  inviterReturnMs?: number
}

export const joinAccount = async (options: DirOptions & JoinOptions): Promise<NodeAccount> => {
  const paths = accountPaths(options.dir)
  const invite = parseInvite(options.invite, { now: Date.now() })
  checkName(options.name)
  if (invite.mode === 'private' && invite.swarmKey === undefined) throw new InvalidInviteError('this invite is for a private account but carries no swarm key: ask for a new invite')
  await checkNoAccount(paths)
  await ownerOnlyDir(paths.dir)
  const inviterGone = new AbortController()
  const signal = AbortSignal.any([options.signal ?? new AbortController().signal, inviterGone.signal, AbortSignal.timeout(Math.max(60_000, invite.expires * 1000 - Date.now() + 60_000))])
  let stopWatching = (): void => {}
  try {
    return await withServices(paths, options, async () => {
      await checkNoAccount(paths)
      return await newSecrets(paths, options.name, options.passphrase)
    }, async ({ node, orbitdb }, secrets, onEpoch) => {
      options.onProgress?.(`asking ${invite.peerId} to admit this device`)
      const device = { device: secrets.device, name: secrets.name, signingKey: base64urlEncode(secrets.signing.publicKey), boxKey: base64urlEncode(secrets.box.publicKey) }
      // The replicas the invite names serve the account too (and take a join request when no device answers).
      const replicaAddrs = (invite.replicas ?? []).flatMap((r) => r.addrs.map((a) => `${a}/p2p/${r.peerId}`))
      for (const r of invite.replicas ?? []) void node.libp2p.dial(r.addrs.map((a) => multiaddr(`${a}/p2p/${r.peerId}`)), { signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]) }).catch(() => {})
      const outcome = await askOrLeave({ libp2p: node.libp2p, invite, device, signal, onCode: options.onCode, onProgress: options.onProgress })
      await rememberPeers(paths.peers, [...invite.addrs.map((a) => `${a}/p2p/${invite.peerId}`), ...replicaAddrs])
      let heads = { registryHeads: [] as string[], dataHeads: [] as string[] }
      if ('admission' in outcome) {
        heads = outcome.admission
        // The sync comes from the inviter: if it goes away now, try to reach it again, then give up.
        stopWatching = watchInviter(node.libp2p, invite.peerId, invite.addrs, {
          returnMs: options.inviterReturnMs,
          onProgress: options.onProgress,
          onGone: (reason) => { inviterGone.abort(reason) }
        })
      } else {
        // The admission arrives in the registry, synced from the replica, once a device of the account comes online.
        options.onProgress?.(`left a join request at the replica ${outcome.leftAt}; waiting for a device of the account to admit it`)
      }
      const account = await joinAccountCore({ orbitdb, secrets, store: storeOf(paths, secrets), onEpoch, address: invite.account, registryHeads: heads.registryHeads, dataHeads: heads.dataHeads, signal, ...(options.onProgress !== undefined ? { onProgress: options.onProgress } : {}), ...(invite.swarmKey !== undefined ? { swarmKey: invite.swarmKey } : {}) })
      stopWatching()
      // No device named its data heads: take what the replica holds before returning, as a normal join does.
      if ('leftAt' in outcome) await waitDataFrom(account, outcome.leftAt, signal)
      await writeConfig(paths, { version: 1, account: invite.account, device: secrets.device, name: secrets.name, mode: invite.mode, dataLog: account.state().epoch?.dataLog })
      return account
    }, invite.swarmKey !== undefined ? { key: invite.swarmKey } : undefined)
  } catch (err) {
    stopWatching()
    // Nothing usable here: leave the directory as it was, so a join can be tried again.
    if (!(await exists(paths.config))) await rm(paths.keystore, { force: true })
    if (err instanceof OrbitAccountError) throw err
    throw new JoinFailedError(`the join did not finish: ${(err as Error).message}. If the inviting device admitted this one before it went away, ` +
      'it lists an unfinished device: revoke it there (by its id, see `orbit-account devices`) and ask for a new invite', { cause: err })
  }
}

/** How long a join through a replica waits for the replica's data log (it syncs later anyway). */
const REPLICA_DATA_WAIT_MS = 20_000

const waitDataFrom = async (account: Account, peer: string, signal: AbortSignal): Promise<void> => {
  const until = Date.now() + REPLICA_DATA_WAIT_MS
  while (!account.syncedPeers('data').includes(peer) && Date.now() < until && !signal.aborted) await new Promise((resolve) => setTimeout(resolve, 50))
}

export interface RecoverOptions {
  /** The account's address (its registry's). */
  address: string
  /** The 24 recovery words (any case and spacing). */
  words: string
  name: string
  /** Multiaddrs of peers that hold the account's logs: a device or a replica. */
  peers?: string[]
  /** Revoke every other device once this one is admitted. */
  revokeOthers?: boolean
  signal?: AbortSignal
  onProgress?: (message: string) => void
  /** How long to wait for a peer to serve the app data once admitted (default 20 s; it syncs later anyway). */
  dataWaitMs?: number
}

/**
 * Brings the account at `address` to this machine with the recovery words, as a new
 * admin device: syncs from `peers` (a replica is enough), admits itself with an op signed
 * by the recovery key, and, with `revokeOthers`, revokes every other device.
 */
export const recoverAccount = async (options: DirOptions & RecoverOptions): Promise<NodeAccount> => {
  const paths = accountPaths(options.dir)
  checkName(options.name)
  try {
    parseAddress(options.address)
  } catch (err) {
    throw new InvalidArgumentError(`not an account address: ${String(options.address).slice(0, 80)}`, { cause: err })
  }
  const keys = recoveryKeysFromWords(options.words)
  const peers = (options.peers ?? []).map((p) => {
    try {
      return multiaddr(p)
    } catch (err) {
      throw new InvalidArgumentError(`not a multiaddr: ${p}`, { cause: err })
    }
  })
  await checkNoAccount(paths)
  await ownerOnlyDir(paths.dir)
  const signal = AbortSignal.any([options.signal ?? new AbortController().signal, AbortSignal.timeout(120_000)])
  try {
    const account = await withServices(paths, options, async () => {
      await checkNoAccount(paths)
      return await newSecrets(paths, options.name, options.passphrase)
    }, async ({ node, orbitdb }, secrets, onEpoch) => {
      options.onProgress?.(`dialing ${peers.length} peer(s)`)
      await Promise.all(peers.map(async (p) => await node.libp2p.dial(p, { signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]) }).catch(() => {})))
      const account = await recoverAccountCore({ orbitdb, secrets, store: storeOf(paths, secrets), onEpoch, address: options.address, keys, signal, ...(options.onProgress !== undefined ? { onProgress: options.onProgress } : {}), ...(options.dataWaitMs !== undefined ? { dataWaitMs: options.dataWaitMs } : {}) })
      await writeConfig(paths, { version: 1, account: account.address, device: secrets.device, name: secrets.name, mode: account.info().mode, dataLog: account.state().epoch?.dataLog })
      await rememberPeers(paths.peers, options.peers ?? [])
      return account
    }, options.swarmKey !== undefined ? { key: options.swarmKey, pinned: true } : undefined)
    if (options.revokeOthers === true) {
      const others = account.devices().filter((d) => d.status === 'active' && d.device !== account.device)
      for (const d of others) {
        options.onProgress?.(`revoking ${d.name} (${d.device})`)
        await account.revoke(d.device)
      }
    }
    return account
  } catch (err) {
    // Nothing usable here: leave the directory as it was, so a recovery can be tried again.
    if (!(await exists(paths.config))) await rm(paths.keystore, { force: true })
    throw err
  }
}

/** Opens the account in `dir` (its keystore, its node, its logs). */
export const openAccount = async (options: DirOptions): Promise<NodeAccount> => {
  const paths = accountPaths(options.dir)
  // Before anything reads it: a directory of another user is refused here, with a clear error.
  await makeOwnerOnly(paths.dir)
  const config = await readConfig(paths)
  // Private mode: the stored swarm key, and one given by hand (which the node starts on).
  const stored = config.mode === 'private' ? await readSwarmFile(paths.swarm) : undefined
  const given: Swarm | undefined = config.mode === 'private' && options.swarmKey !== undefined ? { epoch: -1, key: options.swarmKey } : undefined
  const swarm = stored ?? given
  if (config.mode === 'private' && swarm === undefined) {
    throw new NoAccountError(`${paths.swarm} (this private account's swarm key) is missing: get the key with \`orbit-account swarm-key\` on another device and pass it with --swarm-key-file <file> or --swarm-key - (stdin)`)
  }
  return await withServices(paths, options,
    async () => await decodeKeystore(await readKeystoreFile(paths.keystore), options.passphrase),
    async ({ orbitdb }, secrets, onEpoch) => await openAccountCore({
      orbitdb,
      secrets,
      store: storeOf(paths, secrets),
      address: config.account,
      ...(config.dataLog !== undefined ? { previous: config.dataLog } : {}),
      onEpoch,
      ...(swarm !== undefined ? { swarm } : {}),
      ...(options.compaction !== undefined ? { compaction: options.compaction } : {})
    }), swarm !== undefined ? { key: (given ?? swarm).key, pinned: given !== undefined } : undefined)
}
