/**
 * An open account: the registry, the current epoch's data log, and this device's keys.
 * Browser-ready: it gets an OrbitDB instance and the device secrets from its caller
 * (the Node adapter in src/node/ opens files, locks and the network).
 */
import { unbindAccessContext } from '../../acl/access.ts'
import { addOp, invitationOp, recoveryOp, replicaOp, replicaRemoveOp, revokeOp, swarmBoxOp, withdrawOp, type InvitationInput } from '../../acl/ops.ts'
import { deviceList, revokedHoldsCurrentKey } from '../../acl/reducer.ts'
import type { AccountState, DeviceDescriptor, DeviceRecord, EpochRecord, RecoveryDescriptor } from '../../acl/types.ts'
import type { DeviceSecrets } from '../../identity/keystore.ts'
import { InviteUsedError, NoAccountError, NotAuthorizedError, UnknownDeviceError } from '../errors.ts'
import type { OrbitDB } from '../orbit/orbitdb.ts'
import type { KvDatabase, OpenStats } from '../store/kv-database.ts'
import { lockboxOf, openEpochs, quotasFrom, sealEpochKey, type Epochs } from './epochs.ts'
import { rotate, unfinishedRotation, type RotationProgress } from '../rotation/rotate.ts'
import { checkRevoke, resolveDevice } from '../rotation/revoke.ts'
import type { Change } from '../store/kv-index.ts'
import type { JsonValue } from '../store/limits.ts'
import type { BatchOp } from '../store/batch-write.ts'
import type { AccountAddress, DeviceId, Epoch, Mode, Role } from '../types.ts'
import type { RegistryDatabase } from './registry.ts'
import { swarmEpochOf, swarmKeyFrom, type Swarm } from './swarm.ts'
import { checkRecoveryKey, currentKeyFor, recoveryIdentity } from './recovery-key.ts'
import type { RecoveryKeys } from './recovery-words.ts'
import { checkAdmin, checkCanRecordInvitation, usableInvitation } from './invitations.ts'
import { persistRegistryState } from './registry-state.ts'
import type { StateStore } from '../store/state-store.ts'
import { compactionDue, compactionTimer, DEFAULT_COMPACTION, isSeniorAdmin, type CompactionRule } from './compaction.ts'

export interface AccountInfo {
  account: AccountAddress
  device: DeviceId
  name: string
  mode: Mode
  epoch: Epoch
}

export interface DeviceView {
  device: DeviceId
  name: string
  role: DeviceRecord['role']
  status: DeviceRecord['status']
  addedBy: DeviceId | null
}

export interface Account {
  readonly address: AccountAddress
  readonly device: DeviceId
  info: () => AccountInfo
  put: (key: string, value: JsonValue) => Promise<void>
  /**
   * Writes puts and dels as one batch: all of them show on every device, or none (a
   * watcher sees them together). Every op and this device's quotas for all of them are
   * checked before anything is written; each key at most once (INVALID_ARGUMENT); an
   * empty batch writes nothing.
   */
  batch: (ops: BatchOp[]) => Promise<void>
  /** `batch` of puts: each key of `entries` set to its value. */
  putMany: (entries: Record<string, JsonValue>) => Promise<void>
  get: (key: string) => JsonValue | undefined
  del: (key: string) => Promise<boolean>
  all: (options?: { prefix?: string }) => Record<string, JsonValue>
  /** Calls `listener` for every visible change, local or from peers; returns an unsubscribe function. */
  watch: (listener: (change: Change) => void) => () => void
  devices: () => DeviceView[]
  state: () => AccountState
  /**
   * Admits a device (this device must be an active admin): appends an `add` with the
   * current epoch key sealed to the new device. Returns the heads a joiner waits for.
   */
  admit: (device: DeviceDescriptor, role: Role, invitation?: InvitedBy) => Promise<{ registryHeads: string[], dataHeads: string[] }>
  /** Records an invitation in the registry (this device must be an active admin): single-use on every device, across restarts. */
  recordInvitation: (invitation: InvitationInput) => Promise<void>
  /** Withdraws a recorded invitation (its inviter, or an admin): it admits nobody after that. */
  withdrawInvitation: (id: string) => Promise<void>
  /** Registers a replica (this device must be an active admin): its peer id, addresses and X25519 key. */
  registerReplica: (replica: { peer: string, addrs: string[], boxKey: string }) => Promise<void>
  /** Ends a replica's registration (an active admin); final for that peer id. Private mode: then rotates, moving the swarm key. */
  removeReplica: (peer: string) => Promise<void>
  /** Private mode: records the swarm key of `epoch` sealed to a registered replica (src/node/replicas.ts seals it). */
  recordSwarmBox: (box: { peer: string, epoch: number, box: string }) => Promise<void>
  /** Entries the logs refused since the account opened (outsiders, forgeries), and those kept for a retry. */
  rejected: () => { registry: number, data: number, pending: number }
  /** Peers that have exchanged heads of the registry or the current data log with this device and are still there. */
  syncedPeers: (log: 'registry' | 'data') => string[]
  /** Calls `listener` when a peer has exchanged heads with this device (for the registry or the data log). */
  onSync: (listener: (peerId: string, log: 'registry' | 'data') => void) => () => void
  /** Heads of the registry and the current data log (what a peer must have to be in sync). */
  heads: () => Promise<{ registryHeads: string[], dataHeads: string[] }>
  /**
   * Revokes a device (by id or name): appends `revoke`, then (on an admin) rotates the
   * group key into a new epoch that the revoked device holds no key for.
   */
  revoke: (idOrName: string, options?: { onProgress?: (p: RotationProgress) => void }) => Promise<{ revoked: DeviceId, epoch: Epoch }>
  /**
   * On an admin, starts a new epoch from a snapshot when the current log holds many
   * writes (a device joining then fetches the state in a few large entries, not the
   * whole history). Resolves true when it did.
   */
  compactIfLarge: () => Promise<boolean>
  /** The current data log: its epoch, the writes it holds past its snapshot, and its live keys. */
  logStats: () => { epoch: number, writes: number, keys: number }
  /** How the current data log opened: from its checkpoint or not, and how many log entries that applied. */
  openStats: () => OpenStats
  /** Starts a new epoch without a revocation (compaction: the new log starts from a snapshot). */
  rotate: (options?: { onProgress?: (p: RotationProgress) => void }) => Promise<Epoch>
  /**
   * Sets the recovery key of an account that has none (this device must be an active
   * admin): `key` from `recoveryKeysFromWords(words).descriptor`.
   */
  setRecovery: (key: RecoveryDescriptor) => Promise<void>
  /** Replaces the recovery key with `next`, by an op signed by the current one (`current`, from its words). */
  replaceRecovery: (current: RecoveryKeys, next: RecoveryDescriptor) => Promise<void>
  /** Private mode: the swarm key this device knows (it changes when a revocation rotates the group key). */
  swarm: () => Swarm | undefined
  /** Private mode: calls `listener` when this device learns a newer swarm key. */
  onSwarm: (listener: (swarm: Swarm) => void) => () => void
  close: () => Promise<void>
}

/**
 * The recorded invitation an admission uses and the invitation key's signature of it:
 * with it any active device may admit (acl/rules/pass.ts), once, before the invite expires.
 */
export interface InvitedBy { id: string, proof: string }

export interface CoreOptions {
  orbitdb: OrbitDB
  secrets: DeviceSecrets
  /** Where the device keeps the state it derives from the logs (see BuildOptions.store). */
  store?: (account: string) => StateStore
  /** Told when this device moves to a new epoch (see BuildOptions.onEpoch). */
  onEpoch?: (epoch: EpochRecord) => void
}

export const REGISTRY_NAME = 'orbit-account/registry'

export interface BuildOptions {
  /** The epoch key, when the caller has it (the founder at creation). */
  knownKey?: Uint8Array
  /** The data log this device used last. */
  previous?: string
  /** Told when this device moves to a new epoch (to remember where it is). */
  onEpoch?: (epoch: EpochRecord) => void
  /** Private mode: the swarm key this device used last (or got in its invite, epoch -1). */
  swarm?: Swarm
  /** Where this device keeps the state it derives from the logs, sealed (src/store/state-store.ts); none: replayed at each open. */
  store?: (account: string) => StateStore
  /** Automatic compaction's thresholds (src/account/compaction.ts; tests lower them), or false: none. */
  compaction?: Partial<CompactionRule> | false
}

/** An admin compacts before an invite once the current log holds this many writes. */
const COMPACT_AFTER_WRITES = 1000
/** How long a less senior admin waits before it finishes a rotation the registry asks for. */
const ROTATION_GRACE_MS = 20_000

export const buildAccount = async (orbitdb: OrbitDB, secrets: DeviceSecrets, registry: RegistryDatabase, options: BuildOptions = {}): Promise<Account> => {
  const address = registry.address as AccountAddress
  const state = registry.state()
  if (!state.initialized || state.epoch === null) {
    throw new NoAccountError(`the registry ${address} has no genesis record on this device yet`)
  }
  const mode = state.params.mode
  const current = state.epoch
  const mine = lockboxOf(state, current, secrets.device)
  if (mine === undefined && options.previous === undefined) {
    throw new NotAuthorizedError(`this device holds no key for epoch ${current.epoch} of ${address}`)
  }
  const watchers = new Set<(change: Change) => void>()
  /** Tells automatic compaction that the data changed (set below, once the rule is known). */
  let poke = (): void => {}
  const moved = new Set<() => void>()
  const store = options.store?.(address)
  const epochs = await openEpochs({
    orbitdb, secrets, registry, address, mode,
    ...(store !== undefined ? { store } : {}),
    ...(options.previous !== undefined ? { previous: options.previous } : {}),
    ...(options.knownKey !== undefined ? { knownKey: options.knownKey } : {}),
    ...(options.onEpoch !== undefined ? { onEpoch: options.onEpoch } : {}),
    onCurrent: () => { for (const m of moved) m() },
    onChange: (change) => {
      poke()
      for (const w of watchers) w(change)
    },
    // The app's watchers (a move with none skips telling what changed).
    watched: () => watchers.size > 0
  })
  const data = (): KvDatabase => epochs.current()

  // Rotations: one at a time; finished by this device when the registry asks for one
  // (a revocation without its rotation, e.g. after a crash) and this device is an admin.
  let rotating: Promise<number> | undefined
  let graceTimer: ReturnType<typeof setTimeout> | undefined
  let closed = false
  let revoking = false
  /** Rotates, one rotation at a time; `onlyIfNeeded`: skip it when the registry no longer asks for one. */
  const runRotation = async (onlyIfNeeded: boolean, onProgress?: (p: RotationProgress) => void): Promise<number> => {
    while (rotating !== undefined) await rotating.catch(() => {})
    if (onlyIfNeeded && registry.state().needsRotation !== true) return registry.state().epoch?.epoch ?? 0
    rotating = rotate({ orbitdb, registry, address, mode, device: secrets.device, current: data(), ...(onProgress !== undefined ? { onProgress } : {}), ...(store !== undefined ? { store } : {}) })
    try {
      return await rotating
    } finally {
      rotating = undefined
    }
  }
  /** The rank the grace timer was set for: a device whose rank drops (others revoked) goes sooner. */
  let graceRank = Number.POSITIVE_INFINITY
  const maybeFinishRotation = (): void => {
    const now = registry.state()
    const me = now.devices[secrets.device]
    if (closed || revoking || now.needsRotation !== true || me?.status !== 'active' || rotating !== undefined) return
    // Admins first; a member only for a rotation a revocation calls for (there may be no admin left).
    if (me.role !== 'admin' && !revokedHoldsCurrentKey(now)) return
    const byRank = (d: DeviceRecord): number => (d.role === 'admin' ? 0 : 1)
    const ranked = Object.values(now.devices).filter((d) => d.status === 'active' && (d.role === 'admin' || me.role !== 'admin'))
      .sort((a, b) => byRank(a) - byRank(b) || a.seniority - b.seniority)
    const rank = ranked.findIndex((d) => d.device === secrets.device)
    if (graceTimer !== undefined) {
      if (rank >= graceRank) return
      clearTimeout(graceTimer)
    }
    graceRank = rank
    graceTimer = setTimeout(() => {
      graceTimer = undefined
      graceRank = Number.POSITIVE_INFINITY
      if (!closed) void runRotation(true).catch(() => {})
    }, rank <= 0 ? 0 : ROTATION_GRACE_MS * rank)
  }

  // Private mode: the swarm key moves forward when a rotation leaves a device out.
  let swarm: Swarm | undefined = mode === 'private' ? options.swarm : undefined
  const swarmListeners = new Set<(s: Swarm) => void>()
  const updateSwarm = (): void => {
    if (mode !== 'private') return
    const named = swarmEpochOf(registry.state())
    if (named === undefined || (swarm !== undefined && swarm.epoch >= named.epoch)) return
    const key = epochs.keyOf(named)
    if (key instanceof Uint8Array) swarm = { epoch: named.epoch, key: swarmKeyFrom(key, address) }
    // Joined after that epoch began: the invite's key is that epoch's swarm key.
    else if (swarm?.epoch === -1) swarm = { epoch: named.epoch, key: swarm.key }
    else return
    const known = swarm
    for (const listener of swarmListeners) listener(known)
  }
  updateSwarm()

  // Entries refused because their writer's admission had not arrived yet are retried
  // as soon as the registry admits someone new; a new epoch is followed.
  let knownDevices = Object.keys(state.devices).length
  const stopPersisting = persistRegistryState(registry, store)
  const stopFollowing = registry.onState((next) => {
    const n = Object.keys(next.devices).length
    if (n !== knownDevices) {
      knownDevices = n
      void registry.retryPending().then(async () => { await data().retryPending() })
    }
    void epochs.follow().catch(() => {})
    updateSwarm()
    maybeFinishRotation()
  })
  maybeFinishRotation()

  // Automatic compaction (compaction.ts): the senior admin starts a snapshot epoch once
  // the current log is mostly history; checked after every visible change, local or not.
  const rule = options.compaction === false ? undefined : { ...DEFAULT_COMPACTION, ...options.compaction }
  const compactionNow = (): boolean => {
    const now = registry.state()
    const me = now.devices[secrets.device]
    if (rule === undefined || closed || revoking || rotating !== undefined || graceTimer !== undefined || now.needsRotation === true) return false
    if (me?.status !== 'active' || me.role !== 'admin' || !isSeniorAdmin(now, secrets.device)) return false
    // Not yet moved to the newest epoch: this log's count is not the current one's.
    if (now.epoch?.epoch !== data().epoch) return false
    // The device nearest its writes quota (a new log gives every device fresh room).
    const busiest = Math.max(0, ...Object.values(now.devices).filter((d) => d.status === 'active').map((d) => data().quotaUsage(d.signingKey).writes))
    return compactionDue(rule, data().writesSinceStart(), data().size(), busiest, quotasFrom(registry).writes)
  }
  const autoCompaction = compactionTimer(rule?.checkMs ?? DEFAULT_COMPACTION.checkMs ?? 0, compactionNow, async () => {
    await waitForEpoch(epochs, await runRotation(false))
  })
  if (rule !== undefined) {
    poke = () => { autoCompaction.poke() }
    autoCompaction.poke()
  }
  // This device started the current epoch and stopped before its snapshot was whole (a
  // crash between its rotate op and the last part): it rotates again, from its state.
  if (unfinishedRotation(registry.state(), secrets.device, data())) void runRotation(false).catch(() => {})

  const refused = { registry: 0, data: 0 }
  registry.events.on('rejected', () => { refused.registry++ })
  const heads = async (): Promise<{ registryHeads: string[], dataHeads: string[] }> => ({
    registryHeads: (await registry.log.heads()).map((e) => e.hash),
    dataHeads: (await data().log.heads()).map((e) => e.hash)
  })
  const self = (): DeviceRecord | undefined => registry.state().devices[secrets.device]
  const epochNow = (): number => data().epoch

  return {
    address,
    device: secrets.device,
    info: () => ({ account: address, device: secrets.device, name: self()?.name ?? secrets.name, mode, epoch: epochNow() as Epoch }),
    put: async (key, value) => { await epochs.write(async () => { await data().put(key, value) }) },
    batch: async (ops) => { await epochs.write(async () => { await data().batch(ops) }) },
    putMany: async (entries) => { await epochs.write(async () => { await data().putMany(entries) }) },
    get: (key) => data().get(key),
    del: async (key) => await epochs.write(async () => {
      const existed = data().get(key) !== undefined
      await data().del(key)
      return existed
    }),
    all: (options) => Object.fromEntries(data().entries(options?.prefix)),
    watch: (listener) => {
      watchers.add(listener)
      return () => { watchers.delete(listener) }
    },
    devices: () => deviceList(registry.state()).map((d) => ({ device: d.device, name: d.name, role: d.role, status: d.status, addedBy: d.addedBy })),
    state: () => registry.state(),
    heads,
    rejected: () => ({ ...refused, data: refused.data + data().rejectedCount(), pending: registry.pendingCount() + data().pendingCount() }),
    syncedPeers: (log) => [...(log === 'registry' ? registry.peers : data().peers)],
    onSync: (listener) => {
      const onRegistry = (peerId: unknown): void => listener(String(peerId), 'registry')
      const onData = (peerId: unknown): void => listener(String(peerId), 'data')
      registry.events.on('join', onRegistry)
      let db = data()
      db.events.on('join', onData)
      const follow = (): void => {
        db.events.off('join', onData)
        db = data()
        db.events.on('join', onData)
      }
      moved.add(follow)
      return () => {
        moved.delete(follow)
        registry.events.off('join', onRegistry)
        db.events.off('join', onData)
      }
    },
    admit: async (device, role, invitation) => {
      const now = registry.state()
      const me = now.devices[secrets.device]
      if (invitation !== undefined) {
        if (usableInvitation(now, secrets.device, invitation.id, Date.now()).role !== role) throw new NotAuthorizedError(`the invitation is not for the role ${role}`)
      } else if (me === undefined || me.status !== 'active' || me.role !== 'admin') {
        throw new NotAuthorizedError('only an active admin device can admit devices')
      }
      if (now.devices[device.device] !== undefined) throw new NotAuthorizedError(`device ${device.device} is already known to this account`)
      const key = epochs.key()
      const epoch = epochNow()
      const lockbox = sealEpochKey(address, epoch, key, device)
      await registry.append(addOp({ device, role, epoch, lockbox, ...(invitation !== undefined ? { invitation } : {}) }))
      // Another device may have used the invitation first (an admission this one had not seen yet).
      if (invitation !== undefined && registry.state().invitations[invitation.id]?.admitted !== device.device) {
        throw new InviteUsedError('the invite was already used: invites are single-use')
      }
      return await heads()
    },
    recordInvitation: async (invitation) => {
      checkCanRecordInvitation(registry.state(), secrets.device)
      await registry.append(invitationOp(invitation))
    },
    withdrawInvitation: async (id) => {
      await registry.append(withdrawOp({ invitation: id }))
    },
    registerReplica: async (replica) => {
      checkAdmin(registry.state(), secrets.device, 'register a replica')
      await registry.append(replicaOp(replica))
    },
    recordSwarmBox: async (box) => {
      await registry.append(swarmBoxOp(box))
    },
    removeReplica: async (peer) => {
      const now = registry.state()
      checkAdmin(now, secrets.device, 'remove a replica')
      const known = Object.hasOwn(now.replicas, peer) ? now.replicas[peer] : undefined
      if (known === undefined || known.removedIn !== undefined) throw new UnknownDeviceError(`no registered replica ${peer} (see \`orbit-account status\`)`)
      await registry.append(replicaRemoveOp({ peer }))
      // Private mode: the replica was let in with the swarm key; the rotation its removal calls for moves the swarm (swarm.ts).
      if (mode !== 'private') return
      const epoch = await runRotation(true)
      await waitForEpoch(epochs, epoch)
    },
    setRecovery: async (key) => {
      const now = registry.state()
      const me = now.devices[secrets.device]
      if (me?.status !== 'active' || me.role !== 'admin') throw new NotAuthorizedError('only an active admin device can set the recovery key')
      if (now.recovery !== null) throw new NotAuthorizedError('this account has a recovery key: only its words can replace it (recovery rotate)')
      const epoch = epochNow()
      await registry.append(recoveryOp({ key, epoch, lockbox: sealEpochKey(address, epoch, epochs.key(), key) }))
    },
    replaceRecovery: async (current, next) => {
      const now = registry.state()
      checkRecoveryKey(now, current)
      const { epoch, key } = currentKeyFor(now, address, current)
      await registry.appendAs(await recoveryIdentity(orbitdb, current), recoveryOp({ key: next, epoch, lockbox: sealEpochKey(address, epoch, key, next) }))
    },
    revoke: async (idOrName, options) => {
      const now = registry.state()
      const target = resolveDevice(now, idOrName)
      checkRevoke(now, secrets.device, target)
      revoking = true
      try {
        await registry.append(revokeOp({ device: target.device }))
        const me = registry.state().devices[secrets.device]
        if (target.device === secrets.device || me?.role !== 'admin') return { revoked: target.device, epoch: epochNow() as Epoch }
        const epoch = await runRotation(true, options?.onProgress)
        await waitForEpoch(epochs, epoch)
        return { revoked: target.device, epoch: epoch as Epoch }
      } finally {
        revoking = false
        maybeFinishRotation()
      }
    },
    compactIfLarge: async () => {
      const me = registry.state().devices[secrets.device]
      if (me?.status !== 'active' || me.role !== 'admin' || data().writesSinceStart() < COMPACT_AFTER_WRITES) return false
      const epoch = await runRotation(false)
      await waitForEpoch(epochs, epoch)
      return true
    },
    logStats: () => ({ epoch: data().epoch, writes: data().writesSinceStart(), keys: data().size() }),
    openStats: () => data().openStats(),
    rotate: async (options) => {
      const epoch = await runRotation(false, options?.onProgress)
      await waitForEpoch(epochs, epoch)
      return epoch as Epoch
    },
    swarm: () => swarm,
    onSwarm: (listener) => {
      swarmListeners.add(listener)
      return () => { swarmListeners.delete(listener) }
    },
    close: async () => {
      closed = true
      swarmListeners.clear()
      if (graceTimer !== undefined) clearTimeout(graceTimer)
      autoCompaction.stop()
      stopFollowing()
      await rotating?.catch(() => {})
      await epochs.close()
      await stopPersisting()
      await registry.close()
      unbindAccessContext(orbitdb.identity)
    }
  }
}

/** Resolves once this device reads and writes `epoch` (its own rotation: the snapshot is local). */
const waitForEpoch = async (epochs: Epochs, epoch: number): Promise<void> => {
  for (let i = 0; i < 600 && epochs.current().epoch < epoch; i++) {
    await epochs.follow()
    if (epochs.current().epoch < epoch) await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
