/**
 * One pass of the registry rules over the causal order, for a given set of counted
 * revocations. A counted revocation always applies (revocations are final); every other
 * op of a device named by a counted revocation R is void unless it is in R's causal
 * past; every other op counts only if it passes the rules for its type.
 *
 * Each rule returns undefined when satisfied, or the reason the op does not count. Every
 * rule reads only the op, its causal past and the state built from ops before it in the
 * causal order, so a pass is a deterministic function of (entries, counted revocations).
 * Which revocations count is decided before, one at a time in causal order, each on the
 * state of its own causal past (rules/revocation.ts).
 */
import { asEpoch } from '../../src/types.ts'
import type { DeviceId } from '../../src/types.ts'
import { isDeviceId } from '../../identity/keys.ts'
import type {
  AccountParams,
  AccountState,
  AddOp,
  DeviceRecord,
  EpochRecord,
  GenesisOp,
  InvitationOp,
  InvitationRecord,
  ReplicaRecord,
  Lockboxes,
  RecoveryOp,
  RecoveryRecord,
  RegistryEntry,
  RegistryOp,
  RenameOp,
  RevokeOp,
  ReplicaOp,
  ReplicaRemoveOp,
  RotateOp,
  SwarmBoxOp,
  WithdrawOp
} from '../types.ts'
import { show } from './graph.ts'
import { isSealed } from '../genesis.ts'
import { verifyAdmission } from '../invitation.ts'
import { resolveRecoveryChain, type CountedRecovery, type RecoveryChain } from './recovery.ts'
import type { CausalGraph } from './graph.ts'

/** A registry entry whose payload was parsed once: the op, or why it is not a valid op. */
export type ParsedEntry =
  | { readonly entry: RegistryEntry, readonly op: RegistryOp }
  | { readonly entry: RegistryEntry, readonly error: string }

/** A revocation that counts. */
export interface Revocation {
  readonly hash: string
  readonly author: DeviceId
  readonly target: DeviceId
  /** Position in the causal order. */
  readonly index: number
}

/** The lockbox an applied add carries, for the epoch it names. */
export interface AddedLockbox {
  readonly hash: string
  readonly epoch: number
  readonly device: DeviceId
  readonly lockbox: string
}

export interface PassInput {
  readonly params: AccountParams
  readonly graph: CausalGraph
  /** Every placeable entry, in causal order. */
  readonly parsed: readonly ParsedEntry[]
  /** The revocations that count (at least those among `parsed`), by entry hash. */
  readonly counted: ReadonlyMap<string, Revocation>
  /** The recovery ops that count (valid on their own causal past), by entry hash. */
  readonly countedRecovery: ReadonlyMap<string, CountedRecovery>
  /** Why the other revoke ops do not count, by entry hash. */
  readonly verdicts: ReadonlyMap<string, string>
}

export interface PassResult {
  /** Devices and `initialized`; epochs are settled afterwards (rules/epochs.ts). */
  readonly state: AccountState
  /** Why each op that does not count does not count, by entry hash. */
  readonly reasons: Map<string, string>
  /** The genesis epoch and every rotation that passed its rules, in causal order. */
  readonly rotations: readonly EpochRecord[]
  /** Rotations void because their author was revoked or un-admitted (their logs may hold honest writes to carry). */
  readonly voidedRotations: readonly EpochRecord[]
  /** Lockboxes carried by applied adds, in causal order. */
  readonly addedLockboxes: readonly AddedLockbox[]
}

/** The state of an account whose registry holds no valid genesis yet. */
export const initialState = (params: AccountParams): AccountState => ({
  params: { founder: params.founder, founderSigningKey: params.founderSigningKey, mode: params.mode, ...(params.genesisKey !== undefined ? { genesisKey: params.genesisKey } : {}) },
  initialized: false,
  devices: {},
  recovery: null,
  retiredRecovery: [],
  epoch: null,
  epochs: [],
  addedLockboxes: {},
  supersededEpochs: [],
  needsRotation: false,
  rotationReason: null,
  invitations: {},
  replicas: {},
  ignored: []
})

type Verdict = string | undefined
const OK: Verdict = undefined

interface Context {
  readonly params: AccountParams
  readonly graph: CausalGraph
  readonly state: AccountState
  readonly counted: ReadonlyMap<string, Revocation>
  readonly verdicts: ReadonlyMap<string, string>
  /** Counted revocations by revoked device, in causal order. */
  readonly voiders: ReadonlyMap<string, readonly Revocation[]>
  /** Counted revocations applied so far, by revoked device, in causal order. */
  readonly revocations: Map<string, string[]>
  /** Devices whose first add was voided: device -> that add's hash. */
  readonly voidedAdmissions: Map<string, string>
  /** The recovery ops that count (valid on their own causal past), by entry hash. */
  readonly countedRecovery: ReadonlyMap<string, CountedRecovery>
  /** The chain of recovery keys settled from the counted recovery ops among these entries. */
  readonly recovery: RecoveryChain
  readonly rotations: EpochRecord[]
  readonly voidedRotations: EpochRecord[]
  readonly addedLockboxes: AddedLockbox[]
  /** Hash of the applied genesis. */
  genesis: string | null
  nextSeniority: number
}

/** The first violated rule, if any. Rules run in order and stop at the first failure. */
const check = (...rules: Array<() => Verdict>): Verdict => {
  for (const rule of rules) {
    const verdict = rule()
    if (verdict !== undefined) return verdict
  }
  return OK
}

const deviceRecord = (ctx: Context, device: string): DeviceRecord | undefined =>
  isDeviceId(device) && Object.hasOwn(ctx.state.devices, device) ? ctx.state.devices[device] : undefined

const authorOf = (ctx: Context, entry: RegistryEntry): DeviceRecord | undefined => deviceRecord(ctx, entry.author)

// ---------------------------------------------------------------------------------------
// Voiding: a counted revocation R of Y voids every other op of Y that is not in R's causal past.

const mustNotBeVoided = (ctx: Context, entry: RegistryEntry): Verdict => {
  for (const r of ctx.voiders.get(entry.author) ?? []) {
    if (entry.hash !== r.hash && !ctx.graph.isAncestor(entry.hash, r.hash)) {
      return `voided by revocation ${r.hash} of ${r.target}: not in its causal past`
    }
  }
  // A replaced recovery key: only what it did before (every one of) its replacements counts.
  for (const replaced of ctx.recovery.replacedIn.get(entry.author) ?? []) {
    if (!ctx.graph.isAncestor(entry.hash, replaced)) {
      return `recovery key ${entry.author} was replaced by ${replaced}, which does not have this op in its causal past`
    }
  }
  if (ctx.recovery.never.has(entry.author)) return `recovery key ${entry.author} came after stolen words: it counts for nothing`
  return OK
}

/** The recovery key (current or replaced) whose id is `id`. */
const recoveryKey = (ctx: Context, id: string): RecoveryRecord | undefined =>
  ctx.state.recovery?.device === id ? ctx.state.recovery : ctx.state.retiredRecovery.find(r => r.device === id)

/**
 * True when `entry` is signed by a recovery key set in its causal past (a replaced key's
 * ops outside its replacement's past are voided before: mustNotBeVoided).
 */
const byRecoveryKey = (ctx: Context, entry: RegistryEntry): boolean => {
  const r = recoveryKey(ctx, entry.author)
  return r !== undefined && !ctx.recovery.never.has(r.device) && ctx.graph.isAncestor(r.setIn, entry.hash)
}

// ---------------------------------------------------------------------------------------
// Rules

const mustBeAuthoredByFounder = (ctx: Context, entry: RegistryEntry): Verdict =>
  entry.author === ctx.params.founder ? OK : `genesis must be authored by the founder, not ${show(entry.author)}`

const mustDescribeFounder = (ctx: Context, op: GenesisOp): Verdict =>
  op.founder.device !== ctx.params.founder
    ? `genesis founder ${op.founder.device} is not the account founder`
    : op.founder.signingKey !== ctx.params.founderSigningKey
      ? 'genesis founder signing key does not match the account founder key'
      : OK

const mustMatchMode = (ctx: Context, op: GenesisOp): Verdict =>
  op.mode === ctx.params.mode ? OK : `genesis mode ${op.mode} does not match the account mode ${ctx.params.mode}`

const mustBeSealed = (ctx: Context, op: GenesisOp): Verdict =>
  isSealed(ctx.params, op) ? OK : 'genesis is not sealed by the account\'s one-time genesis key'

const mustBeFirstGenesis = (ctx: Context): Verdict =>
  ctx.genesis === null ? OK : 'a genesis was already applied'

const mustFollowGenesis = (ctx: Context, entry: RegistryEntry): Verdict =>
  ctx.genesis !== null && ctx.graph.isAncestor(ctx.genesis, entry.hash)
    ? OK
    : 'no valid genesis in the causal past of this op'

const notADevice = (ctx: Context, device: string): string => {
  const voided = ctx.voidedAdmissions.get(device)
  return voided === undefined
    ? `author ${show(device)} is not a device of this account`
    : `author ${device} is not a device of this account: its admission ${voided} was voided`
}

const mustBeAdmittedInCausalPast = (ctx: Context, entry: RegistryEntry): Verdict => {
  const author = authorOf(ctx, entry)
  if (author === undefined) return notADevice(ctx, entry.author)
  return ctx.graph.isAncestor(author.admittedIn, entry.hash)
    ? OK
    : `author ${author.device} was not admitted in the causal past of this op`
}

/** Rules shared by every op except genesis: causal authority of the author (a device, or the recovery key). */
const mustHaveCausalAuthority = (ctx: Context, entry: RegistryEntry): Verdict => check(
  () => mustFollowGenesis(ctx, entry),
  () => byRecoveryKey(ctx, entry) ? OK : mustBeAdmittedInCausalPast(ctx, entry)
)

/** An admin device, or the recovery key (which may admit, revoke and rotate). */
const mustBeAdmin = (ctx: Context, entry: RegistryEntry, action: string): Verdict =>
  authorOf(ctx, entry)?.role === 'admin' || byRecoveryKey(ctx, entry) ? OK : `only an admin may ${action}; author ${show(entry.author)} is not an admin`

const mustBeSelfOrAdmin = (ctx: Context, entry: RegistryEntry, device: DeviceId, action: string): Verdict =>
  entry.author === device ? OK : mustBeAdmin(ctx, entry, action)

const isRecoveryId = (ctx: Context, id: string): boolean => recoveryKey(ctx, id) !== undefined

const mustBeNewDevice = (ctx: Context, device: DeviceId): Verdict =>
  deviceRecord(ctx, device) !== undefined ? `device ${device} is already known`
    : isRecoveryId(ctx, device) ? `${device} is a recovery key, not a device` : OK

/**
 * Nothing brings a revoked device back: an admission of a device counts only in the
 * causal past of every counted revocation naming it (a device must join anew, with a new id).
 */
const mustNotReadmitRevoked = (ctx: Context, entry: RegistryEntry, device: DeviceId): Verdict => {
  const r = (ctx.voiders.get(device) ?? []).find(r => !ctx.graph.isAncestor(entry.hash, r.hash))
  return r === undefined ? OK : `device ${device} was revoked by ${r.hash}: it must join anew with a new id`
}

const mustBeKnownDevice = (ctx: Context, device: DeviceId): Verdict =>
  deviceRecord(ctx, device) !== undefined ? OK : `device ${device} is not known`

/** The counted revocation of `device` in the causal past of `entry`, if any. */
const revocationInCausalPast = (ctx: Context, entry: RegistryEntry, device: string): string | undefined =>
  ctx.revocations.get(device)?.find(r => ctx.graph.isAncestor(r, entry.hash))

/** The highest epoch started (by the genesis or a rotation that counts) in `entry`'s causal past. */
const highestEpochInCausalPast = (ctx: Context, entry: RegistryEntry): number => {
  let highest = -1
  for (const r of ctx.rotations) {
    if (r.epoch > highest && ctx.graph.isAncestor(r.startedIn, entry.hash)) highest = r.epoch
  }
  return highest
}

const mustKnowEpochInCausalPast = (ctx: Context, entry: RegistryEntry, epoch: number): Verdict =>
  ctx.rotations.some(r => r.epoch === epoch && ctx.graph.isAncestor(r.startedIn, entry.hash))
    ? OK
    : `epoch ${epoch} was not started in the causal past of this op`

const mustBeNextEpoch = (ctx: Context, entry: RegistryEntry, epoch: number): Verdict => {
  const highest = highestEpochInCausalPast(ctx, entry)
  return epoch === highest + 1
    ? OK
    : `rotation to epoch ${epoch} must start epoch ${highest + 1} (the highest epoch in its causal past is ${highest})`
}

const mustNotGiveKeysToRevoked = (ctx: Context, entry: RegistryEntry, lockboxes: Lockboxes): Verdict => {
  for (const device of Object.keys(lockboxes).sort()) {
    const revocation = revocationInCausalPast(ctx, entry, device)
    if (revocation !== undefined) {
      return `rotation gives a key to device ${device}, revoked by ${revocation} in its causal past`
    }
  }
  return OK
}

/**
 * A rotation that a revocation calls for: a counted revocation in the causal past of
 * `entry` names a device that holds a lockbox of the highest epoch in that past.
 */
const isCalledForByRevocation = (ctx: Context, entry: RegistryEntry): boolean => {
  const highest = highestEpochInCausalPast(ctx, entry)
  const past = (hash: string): boolean => ctx.graph.isAncestor(hash, entry.hash)
  const holders = new Set<string>()
  for (const r of ctx.rotations) {
    if (r.epoch === highest && past(r.startedIn)) for (const d of Object.keys(r.lockboxes)) holders.add(d)
  }
  for (const a of ctx.addedLockboxes) if (a.epoch === highest && past(a.hash)) holders.add(a.device)
  return [...holders].some(d => revocationInCausalPast(ctx, entry, d) !== undefined)
}

/** Admins rotate; any active device may write the rotation that a revocation calls for. */
const mustBeAdminOrCalledFor = (ctx: Context, entry: RegistryEntry): Verdict =>
  authorOf(ctx, entry)?.role === 'admin' || byRecoveryKey(ctx, entry) || isCalledForByRevocation(ctx, entry)
    ? OK
    : `only an admin may rotate the epoch when no revocation calls for it; author ${show(entry.author)} is not an admin`

const applyGenesis = (ctx: Context, entry: RegistryEntry, op: GenesisOp): Verdict => {
  const verdict = check(
    () => mustBeAuthoredByFounder(ctx, entry),
    () => mustDescribeFounder(ctx, op),
    () => mustMatchMode(ctx, op),
    () => mustBeSealed(ctx, op),
    () => mustBeFirstGenesis(ctx)
  )
  if (verdict !== undefined) return verdict
  ctx.genesis = entry.hash
  ctx.state.initialized = true
  ctx.state.devices[op.founder.device] = {
    ...op.founder,
    role: 'admin',
    status: 'active',
    addedBy: null,
    admittedIn: entry.hash,
    seniority: ctx.nextSeniority++
  }
  ctx.rotations.push({
    epoch: asEpoch(0),
    dataLog: op.dataLog,
    lockboxes: { ...op.lockboxes },
    startedIn: entry.hash,
    startedBy: op.founder.device,
    cut: []
  })
  return OK
}

const invitationOf = (ctx: Context, id: string): InvitationRecord | undefined =>
  Object.hasOwn(ctx.state.invitations, id) ? ctx.state.invitations[id] : undefined

const applyInvitation = (ctx: Context, entry: RegistryEntry, op: InvitationOp): Verdict => {
  const verdict = check(
    () => mustBeAdmin(ctx, entry, 'record invitations'),
    () => invitationOf(ctx, op.id) !== undefined ? `invitation ${op.id} is already recorded` : OK,
    () => Object.values(ctx.state.invitations).some(i => i.key === op.key) ? 'an invitation with this key is already recorded' : OK
  )
  if (verdict !== undefined) return verdict
  ctx.state.invitations[op.id] = {
    id: op.id, key: op.key, role: op.role, expires: op.expires, confirm: op.confirm, by: entry.author as DeviceId, recordedIn: entry.hash
  }
  return OK
}

/**
 * An admission that names an invitation: recorded by an admin in its causal past, unused
 * (the first admission in the causal order uses it), for the role it was made for, asked
 * for by the holder of the invite (the proof), by the inviter itself when the invitation
 * asks a person to confirm, and within the inviter's authority: outside the causal past
 * of a counted revocation of the inviter, its invitations admit nobody (rule 4). Expiry
 * is checked by the device writing the admission, on its clock: peers share no clock.
 */
const mustBeUsableInvitation = (ctx: Context, entry: RegistryEntry, op: AddOp, id: string, proof: string): Verdict => {
  const invitation = invitationOf(ctx, id)
  if (invitation === undefined || !ctx.graph.isAncestor(invitation.recordedIn, entry.hash)) {
    return `invitation ${id} was not recorded by an admin in the causal past of this admission`
  }
  if (invitation.usedIn !== undefined) return `invitation ${id} was already used by ${invitation.usedIn}`
  if (invitation.withdrawnIn !== undefined && ctx.graph.isAncestor(invitation.withdrawnIn, entry.hash)) return `invitation ${id} was withdrawn by ${invitation.withdrawnIn}`
  if (invitation.role !== op.role) return `invitation ${id} is for the role ${invitation.role}, not ${op.role}`
  if (!verifyAdmission(invitation.key, proof, id, op.device, op.role)) return `the admission is not signed by the key of invitation ${id}`
  if (invitation.confirm && entry.author !== invitation.by) return `invitation ${id} needs its inviter ${invitation.by} to confirm: only it may admit with it`
  const r = (ctx.voiders.get(invitation.by) ?? []).find(r => !ctx.graph.isAncestor(entry.hash, r.hash))
  return r === undefined ? OK : `invitation ${id} was made by ${invitation.by}, revoked by ${r.hash}: it admits nobody outside that revocation's causal past`
}

/** Its inviter, or an admin, withdraws an invitation recorded in the causal past; the first withdrawal is kept. */
const applyWithdraw = (ctx: Context, entry: RegistryEntry, op: WithdrawOp): Verdict => {
  const invitation = invitationOf(ctx, op.invitation)
  if (invitation === undefined || !ctx.graph.isAncestor(invitation.recordedIn, entry.hash)) return `invitation ${op.invitation} was not recorded in the causal past of this op`
  const verdict = mustBeSelfOrAdmin(ctx, entry, invitation.by, 'withdraw another device\'s invitation')
  if (verdict !== undefined) return verdict
  invitation.withdrawnIn ??= entry.hash
  return OK
}

const replicaOf = (ctx: Context, peer: string): ReplicaRecord | undefined =>
  Object.hasOwn(ctx.state.replicas, peer) ? ctx.state.replicas[peer] : undefined

/** An admin registers a replica (again: new addresses or key), unless it was removed: removal is final. */
const applyReplica = (ctx: Context, entry: RegistryEntry, op: ReplicaOp): Verdict => {
  const known = replicaOf(ctx, op.peer)
  const verdict = check(
    () => mustBeAdmin(ctx, entry, 'register replicas'),
    () => known?.removedIn !== undefined ? `replica ${op.peer} was removed by ${known.removedIn}: it is never registered again` : OK
  )
  if (verdict !== undefined) return verdict
  ctx.state.replicas[op.peer] = { peer: op.peer, addrs: [...op.addrs], boxKey: op.boxKey, by: entry.author as DeviceId, registeredIn: entry.hash }
  return OK
}

const applyReplicaRemove = (ctx: Context, entry: RegistryEntry, op: ReplicaRemoveOp): Verdict => {
  const known = replicaOf(ctx, op.peer)
  const verdict = check(
    () => mustBeAdmin(ctx, entry, 'remove replicas'),
    () => known === undefined || !ctx.graph.isAncestor(known.registeredIn, entry.hash) ? `replica ${op.peer} was not registered in the causal past of this op` : OK
  )
  if (verdict !== undefined || known === undefined) return verdict
  if (known.removedIn === undefined) {
    known.removedIn = entry.hash
    known.removedAtEpoch = highestEpochInCausalPast(ctx, entry)
  }
  return OK
}

/**
 * A box of the swarm key for a replica registered (and not removed) in the causal past,
 * of an epoch started there; the first box of the highest epoch is kept.
 */
const applySwarmBox = (ctx: Context, entry: RegistryEntry, op: SwarmBoxOp): Verdict => {
  const known = replicaOf(ctx, op.peer)
  const verdict = check(
    () => known === undefined || !ctx.graph.isAncestor(known.registeredIn, entry.hash) ? `replica ${op.peer} was not registered in the causal past of this op` : OK,
    () => known?.removedIn !== undefined && ctx.graph.isAncestor(known.removedIn, entry.hash) ? `replica ${op.peer} was removed by ${known.removedIn}` : OK,
    () => mustKnowEpochInCausalPast(ctx, entry, op.epoch),
    () => known?.swarm !== undefined && known.swarm.epoch >= op.epoch ? `replica ${op.peer} already has a swarm key box for epoch ${known.swarm.epoch}` : OK
  )
  if (verdict !== undefined || known === undefined) return verdict
  known.swarm = { epoch: op.epoch, box: op.box }
  return OK
}

/** Admins admit; any active device may write an admission that an admin's recorded invitation authorized. */
const mustBeAllowedToAdmit = (ctx: Context, entry: RegistryEntry, op: AddOp): Verdict =>
  op.invitation !== undefined && op.proof !== undefined
    ? mustBeUsableInvitation(ctx, entry, op, op.invitation, op.proof)
    : mustBeAdmin(ctx, entry, 'add devices')

const applyAdd = (ctx: Context, entry: RegistryEntry, op: AddOp): Verdict => {
  const verdict = check(
    () => mustBeAllowedToAdmit(ctx, entry, op),
    () => mustBeNewDevice(ctx, op.device.device),
    () => mustNotReadmitRevoked(ctx, entry, op.device.device),
    () => mustKnowEpochInCausalPast(ctx, entry, op.epoch)
  )
  if (verdict !== undefined) return verdict
  ctx.state.devices[op.device.device] = {
    ...op.device,
    role: op.role,
    status: 'active',
    addedBy: entry.author,
    admittedIn: entry.hash,
    seniority: ctx.nextSeniority++
  }
  const invitation = op.invitation !== undefined ? invitationOf(ctx, op.invitation) : undefined
  if (invitation !== undefined) {
    invitation.usedIn = entry.hash
    invitation.admitted = op.device.device
  }
  if (op.lockbox !== '') {
    ctx.addedLockboxes.push({ hash: entry.hash, epoch: op.epoch, device: op.device.device, lockbox: op.lockbox })
  }
  return OK
}

const applyRename = (ctx: Context, entry: RegistryEntry, op: RenameOp): Verdict => {
  const verdict = check(
    () => mustBeKnownDevice(ctx, op.device),
    () => mustBeSelfOrAdmin(ctx, entry, op.device, 'rename another device')
  )
  if (verdict !== undefined) return verdict
  const record = deviceRecord(ctx, op.device) as DeviceRecord
  record.name = op.name
  return OK
}


/**
 * A recovery op applies if it counts (decided on its own causal past, as revocations are:
 * rules/revocation.ts) and it made its key current (rules/recovery.ts settles forks).
 */
const applyRecovery = (ctx: Context, entry: RegistryEntry, op: RecoveryOp): Verdict => {
  if (!ctx.countedRecovery.has(entry.hash)) return ctx.verdicts.get(entry.hash) ?? 'recovery op does not count'
  const why = ctx.recovery.reasons.get(entry.hash)
  if (why !== undefined) return why
  if (op.lockbox !== '') {
    ctx.addedLockboxes.push({ hash: entry.hash, epoch: op.epoch, device: op.key.device, lockbox: op.lockbox })
  }
  return OK
}

/**
 * A revoke op applies if it counts (decided on its own causal past: rules/revocation.ts),
 * whatever happened to its author since: revocations are final.
 */
const applyRevoke = (ctx: Context, entry: RegistryEntry, op: RevokeOp): Verdict => {
  if (!ctx.counted.has(entry.hash)) return ctx.verdicts.get(entry.hash) ?? 'revocation does not count'
  const list = ctx.revocations.get(op.device)
  if (list === undefined) ctx.revocations.set(op.device, [entry.hash])
  else list.push(entry.hash)
  const target = deviceRecord(ctx, op.device)
  if (target !== undefined && target.status === 'active') {
    target.status = 'revoked'
    target.revokedIn = entry.hash
    target.revokedBy = entry.author
  }
  return OK
}

const rotationRecord = (entry: RegistryEntry, op: RotateOp): EpochRecord => ({
  epoch: asEpoch(op.epoch),
  dataLog: op.dataLog,
  lockboxes: { ...op.lockboxes },
  startedIn: entry.hash,
  startedBy: entry.author,
  cut: [...op.cut]
})

const applyRotate = (ctx: Context, entry: RegistryEntry, op: RotateOp): Verdict => {
  const verdict = check(
    () => mustBeAdminOrCalledFor(ctx, entry),
    () => mustBeNextEpoch(ctx, entry, op.epoch),
    () => mustNotGiveKeysToRevoked(ctx, entry, op.lockboxes)
  )
  if (verdict !== undefined) {
    // Built on a rotation that was voided since (a thief's): its log may hold honest writes to carry.
    if (mustBeAdminOrCalledFor(ctx, entry) === undefined && mustBeNextEpoch(ctx, entry, op.epoch) !== undefined) {
      ctx.voidedRotations.push(rotationRecord(entry, op))
    }
    return verdict
  }
  ctx.rotations.push(rotationRecord(entry, op))
  return OK
}

const applyOp = (ctx: Context, entry: RegistryEntry, op: RegistryOp): Verdict => {
  if (op.type === 'revoke') return applyRevoke(ctx, entry, op)
  if (op.type === 'recovery') return applyRecovery(ctx, entry, op)
  const voided = mustNotBeVoided(ctx, entry)
  if (voided !== undefined) {
    if (op.type === 'add' && !ctx.voidedAdmissions.has(op.device.device)) ctx.voidedAdmissions.set(op.device.device, entry.hash)
    if (op.type === 'rotate') ctx.voidedRotations.push(rotationRecord(entry, op))
    return voided
  }
  if (op.type === 'genesis') return applyGenesis(ctx, entry, op)
  const verdict = mustHaveCausalAuthority(ctx, entry)
  if (verdict !== undefined) {
    if (op.type === 'rotate' && ctx.voidedAdmissions.has(entry.author)) ctx.voidedRotations.push(rotationRecord(entry, op))
    return verdict
  }
  switch (op.type) {
    case 'add': return applyAdd(ctx, entry, op)
    case 'rename': return applyRename(ctx, entry, op)
    case 'rotate': return applyRotate(ctx, entry, op)
    case 'invitation': return applyInvitation(ctx, entry, op)
    case 'withdraw': return applyWithdraw(ctx, entry, op)
    case 'replica': return applyReplica(ctx, entry, op)
    case 'replica-remove': return applyReplicaRemove(ctx, entry, op)
    case 'swarm-box': return applySwarmBox(ctx, entry, op)
    default: {
      const unhandled: never = op
      throw new Error(`unhandled op ${JSON.stringify(unhandled)}`)
    }
  }
}

/** Applies every entry in causal order under the given counted revocations. */
export const runPass = (input: PassInput): PassResult => {
  // Only the counted revocations among these entries void anything (a pass over one
  // revocation's causal past must not see the revocations outside it).
  const present = new Set(input.parsed.map(p => p.entry.hash))
  const voiders = new Map<string, Revocation[]>()
  for (const r of [...input.counted.values()].filter(r => present.has(r.hash)).sort((a, b) => a.index - b.index)) {
    const list = voiders.get(r.target)
    if (list === undefined) voiders.set(r.target, [r])
    else list.push(r)
  }
  const recovery = resolveRecoveryChain([...input.countedRecovery.values()].filter(r => present.has(r.hash)))
  const state = initialState(input.params)
  state.recovery = recovery.current
  state.retiredRecovery = recovery.retired
  const ctx: Context = {
    params: input.params,
    graph: input.graph,
    state,
    counted: input.counted,
    verdicts: input.verdicts,
    voiders,
    revocations: new Map(),
    voidedAdmissions: new Map(),
    countedRecovery: input.countedRecovery,
    recovery,
    rotations: [],
    voidedRotations: [],
    addedLockboxes: [],
    genesis: null,
    nextSeniority: 0
  }
  const reasons = new Map<string, string>()
  for (const parsed of input.parsed) {
    const reason = 'error' in parsed ? parsed.error : applyOp(ctx, parsed.entry, parsed.op)
    if (reason !== undefined) reasons.set(parsed.entry.hash, reason)
  }
  return {
    state: ctx.state,
    reasons,
    rotations: ctx.rotations,
    voidedRotations: ctx.voidedRotations,
    addedLockboxes: ctx.addedLockboxes
  }
}

/**
 * A pass whose recovery keys hold. A recovery key set by a device (not at the genesis) counts like any
 * other op of that device: not when the device's admission is void in the whole, nor
 * outside the causal past of a revocation naming it (so a stolen admin cannot back-date
 * a key of its own). Settings that fail this are set aside and the pass runs again:
 * each round sets one aside at least, so this ends.
 */
export const passWithRecovery = (input: PassInput): PassResult => {
  const recovery = new Map(input.countedRecovery)
  const verdicts = new Map(input.verdicts)
  // Only the ops among these entries (a pass over one op's causal past sees no other).
  const present = new Set(input.parsed.map(p => p.entry.hash))
  for (;;) {
    const result = runPass({ ...input, countedRecovery: recovery, verdicts })
    let setAside = false
    for (const r of recovery.values()) {
      if (!present.has(r.hash) || r.byKey || r.atGenesis) continue
      const why = deviceSetFails(input, present, result, r)
      if (why === undefined) continue
      verdicts.set(r.hash, why)
      recovery.delete(r.hash)
      setAside = true
    }
    if (!setAside) return result
  }
}

const deviceSetFails = (input: PassInput, present: ReadonlySet<string>, result: PassResult, r: CountedRecovery): string | undefined => {
  const author = Object.hasOwn(result.state.devices, r.author) ? result.state.devices[r.author] : undefined
  if (author === undefined || author.role !== 'admin' || !input.graph.isAncestor(author.admittedIn, r.hash)) {
    return `author ${r.author} is not an admin of this account in the causal past of this op: its admission was voided`
  }
  const voider = [...input.counted.values()].find(v => v.target === r.author && present.has(v.hash) && !input.graph.isAncestor(r.hash, v.hash))
  return voider === undefined ? undefined : `voided by revocation ${voider.hash} of ${r.author}: not in its causal past`
}
