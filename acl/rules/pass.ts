/**
 * One pass of the registry rules over the causal order, for a given set of accepted
 * revocations. Ops of a device revoked by an accepted revocation R are void unless they
 * are in R's causal past; every other op counts only if it passes the rules for its type.
 *
 * Each rule returns undefined when satisfied, or the reason the op does not count. Every
 * rule reads only the op, its causal past and the state built from ops before it in the
 * causal order, so a pass is a deterministic function of (entries, accepted revocations).
 *
 * With `accepted === null` the pass is optimistic: no revocation is applied, and revoke
 * ops that pass their rules are only collected as candidates, with the admissions their
 * author's authority rests on (see rules/revocation.ts).
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
  Lockboxes,
  RegistryEntry,
  RegistryOp,
  RenameOp,
  RevokeOp,
  RotateOp
} from '../types.ts'
import { show } from './graph.ts'
import type { CausalGraph } from './graph.ts'

/** A registry entry whose payload was parsed once: the op, or why it is not a valid op. */
export type ParsedEntry =
  | { readonly entry: RegistryEntry, readonly op: RegistryOp }
  | { readonly entry: RegistryEntry, readonly error: string }

/** An admission that an author's authority rests on: the add entry and who signed it. */
export interface Admission {
  readonly hash: string
  readonly author: DeviceId
}

/** A revoke op that passed its rules. */
export interface Revocation {
  readonly hash: string
  readonly author: DeviceId
  readonly target: DeviceId
  /** Position in the causal order. */
  readonly index: number
  /** The author's seniority (0 for the founder). */
  readonly seniority: number
  /** The author's admission, its adder's admission, ... up to (not including) the genesis. */
  readonly chain: readonly Admission[]
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
  /** Accepted revocations by entry hash; null for the optimistic pass. */
  readonly accepted: ReadonlyMap<string, Revocation> | null
  /** Why candidate revocations were not accepted, by entry hash. */
  readonly verdicts: ReadonlyMap<string, string>
}

export interface PassResult {
  /** Devices and `initialized`; epochs are settled afterwards (rules/epochs.ts). */
  readonly state: AccountState
  /** Why each op that does not count does not count, by entry hash. */
  readonly reasons: Map<string, string>
  /** Revoke ops that passed their rules, accepted or not. */
  readonly candidates: readonly Revocation[]
  /** Hashes of the revocations applied (accepted and passing their rules). */
  readonly applied: ReadonlySet<string>
  /** The genesis epoch and every rotation that passed its rules, in causal order. */
  readonly rotations: readonly EpochRecord[]
  /** Lockboxes carried by applied adds, in causal order. */
  readonly addedLockboxes: readonly AddedLockbox[]
}

/** The state of an account whose registry holds no valid genesis yet. */
export const initialState = (params: AccountParams): AccountState => ({
  params: { founder: params.founder, founderSigningKey: params.founderSigningKey, mode: params.mode },
  initialized: false,
  devices: {},
  epoch: null,
  epochs: [],
  addedLockboxes: {},
  supersededEpochs: [],
  needsRotation: false,
  rotationReason: null,
  ignored: []
})

type Verdict = string | undefined
const OK: Verdict = undefined

interface Context {
  readonly params: AccountParams
  readonly graph: CausalGraph
  readonly state: AccountState
  readonly accepted: ReadonlyMap<string, Revocation> | null
  readonly verdicts: ReadonlyMap<string, string>
  /** Accepted revocations by revoked device, in causal order. */
  readonly voiders: ReadonlyMap<string, readonly Revocation[]>
  /** Applied revocations by revoked device, in causal order. */
  readonly revocations: Map<string, string[]>
  /** Devices whose first add was voided: device -> that add's hash. */
  readonly voidedAdmissions: Map<string, string>
  readonly candidates: Revocation[]
  readonly applied: Set<string>
  readonly rotations: EpochRecord[]
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
// Voiding: an accepted revocation R of Y voids every op of Y that is not in R's causal past.

const mustNotBeVoided = (ctx: Context, entry: RegistryEntry): Verdict => {
  for (const r of ctx.voiders.get(entry.author) ?? []) {
    if (entry.hash !== r.hash && !ctx.graph.isAncestor(entry.hash, r.hash)) {
      return `voided by revocation ${r.hash} of ${r.target}: not in its causal past`
    }
  }
  return OK
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

/** Rules shared by every op except genesis: causal authority of the author. */
const mustHaveCausalAuthority = (ctx: Context, entry: RegistryEntry): Verdict => check(
  () => mustFollowGenesis(ctx, entry),
  () => mustBeAdmittedInCausalPast(ctx, entry)
)

const mustBeAdmin = (ctx: Context, entry: RegistryEntry, action: string): Verdict =>
  authorOf(ctx, entry)?.role === 'admin' ? OK : `only an admin may ${action}; author ${show(entry.author)} is not an admin`

const mustBeSelfOrAdmin = (ctx: Context, entry: RegistryEntry, device: DeviceId, action: string): Verdict =>
  entry.author === device ? OK : mustBeAdmin(ctx, entry, action)

const mustBeNewDevice = (ctx: Context, device: DeviceId): Verdict =>
  deviceRecord(ctx, device) === undefined ? OK : `device ${device} is already known`

const mustBeKnownDevice = (ctx: Context, device: DeviceId): Verdict =>
  deviceRecord(ctx, device) !== undefined ? OK : `device ${device} is not known`

const mustBeKnownInCausalPast = (ctx: Context, entry: RegistryEntry, device: DeviceId): Verdict => {
  const record = deviceRecord(ctx, device)
  return record !== undefined && ctx.graph.isAncestor(record.admittedIn, entry.hash)
    ? OK
    : `device ${device} is not known in the causal past of this revocation`
}

/** The applied revocation of `device` in the causal past of `entry`, if any. */
const revocationInCausalPast = (ctx: Context, entry: RegistryEntry, device: string): string | undefined =>
  ctx.revocations.get(device)?.find(r => ctx.graph.isAncestor(r, entry.hash))

const mustNotBeRevokedAlready = (ctx: Context, entry: RegistryEntry, device: DeviceId): Verdict => {
  const revocation = revocationInCausalPast(ctx, entry, device)
  return revocation === undefined ? OK : `device ${device} was already revoked by ${revocation}`
}

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

// ---------------------------------------------------------------------------------------
// Op handlers: check the rules, then apply. Return the reason when the op does not count.

const applyGenesis = (ctx: Context, entry: RegistryEntry, op: GenesisOp): Verdict => {
  const verdict = check(
    () => mustBeAuthoredByFounder(ctx, entry),
    () => mustDescribeFounder(ctx, op),
    () => mustMatchMode(ctx, op),
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

const applyAdd = (ctx: Context, entry: RegistryEntry, op: AddOp): Verdict => {
  const verdict = check(
    () => mustBeAdmin(ctx, entry, 'add devices'),
    () => mustBeNewDevice(ctx, op.device.device),
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

/** The admissions `device`'s authority rests on, nearest first, up to the founder. */
const admissionChain = (ctx: Context, device: DeviceRecord): Admission[] => {
  const chain: Admission[] = []
  for (let d: DeviceRecord | undefined = device; d !== undefined && d.addedBy !== null;) {
    chain.push({ hash: d.admittedIn, author: d.addedBy })
    const adder: DeviceRecord | undefined = deviceRecord(ctx, d.addedBy)
    // Adders are strictly more senior, so the walk ends; the guard is for safety only.
    if (adder === undefined || adder.seniority >= d.seniority) break
    d = adder
  }
  return chain
}

const applyRevoke = (ctx: Context, entry: RegistryEntry, op: RevokeOp): Verdict => {
  const verdict = check(
    () => mustBeKnownInCausalPast(ctx, entry, op.device),
    () => mustBeSelfOrAdmin(ctx, entry, op.device, 'revoke another device'),
    () => mustNotBeRevokedAlready(ctx, entry, op.device)
  )
  if (verdict !== undefined) return verdict
  const author = authorOf(ctx, entry) as DeviceRecord
  ctx.candidates.push({
    hash: entry.hash,
    author: author.device,
    target: op.device,
    index: ctx.graph.indexOf(entry.hash),
    seniority: author.seniority,
    chain: admissionChain(ctx, author)
  })
  if (ctx.accepted === null) return OK
  if (!ctx.accepted.has(entry.hash)) {
    return ctx.verdicts.get(entry.hash) ?? 'revocation not accepted: it did not hold when concurrent revocations were resolved'
  }
  const target = deviceRecord(ctx, op.device) as DeviceRecord
  const list = ctx.revocations.get(op.device)
  if (list === undefined) ctx.revocations.set(op.device, [entry.hash])
  else list.push(entry.hash)
  if (target.status === 'active') {
    target.status = 'revoked'
    target.revokedIn = entry.hash
    target.revokedBy = author.device
  }
  ctx.applied.add(entry.hash)
  return OK
}

const applyRotate = (ctx: Context, entry: RegistryEntry, op: RotateOp): Verdict => {
  const verdict = check(
    () => mustBeAdmin(ctx, entry, 'rotate the epoch'),
    () => mustBeNextEpoch(ctx, entry, op.epoch),
    () => mustNotGiveKeysToRevoked(ctx, entry, op.lockboxes)
  )
  if (verdict !== undefined) return verdict
  ctx.rotations.push({
    epoch: asEpoch(op.epoch),
    dataLog: op.dataLog,
    lockboxes: { ...op.lockboxes },
    startedIn: entry.hash,
    startedBy: entry.author,
    cut: [...op.cut]
  })
  return OK
}

const applyOp = (ctx: Context, entry: RegistryEntry, op: RegistryOp): Verdict => {
  const voided = mustNotBeVoided(ctx, entry)
  if (voided !== undefined) {
    if (op.type === 'add' && !ctx.voidedAdmissions.has(op.device.device)) ctx.voidedAdmissions.set(op.device.device, entry.hash)
    return voided
  }
  if (op.type === 'genesis') return applyGenesis(ctx, entry, op)
  const verdict = mustHaveCausalAuthority(ctx, entry)
  if (verdict !== undefined) return verdict
  switch (op.type) {
    case 'add': return applyAdd(ctx, entry, op)
    case 'rename': return applyRename(ctx, entry, op)
    case 'revoke': return applyRevoke(ctx, entry, op)
    case 'rotate': return applyRotate(ctx, entry, op)
    default: {
      const unhandled: never = op
      throw new Error(`unhandled op ${JSON.stringify(unhandled)}`)
    }
  }
}

/** Applies every entry in causal order under the given accepted revocations. */
export const runPass = (input: PassInput): PassResult => {
  const voiders = new Map<string, Revocation[]>()
  for (const r of [...(input.accepted?.values() ?? [])].sort((a, b) => a.index - b.index)) {
    const list = voiders.get(r.target)
    if (list === undefined) voiders.set(r.target, [r])
    else list.push(r)
  }
  const ctx: Context = {
    params: input.params,
    graph: input.graph,
    state: initialState(input.params),
    accepted: input.accepted,
    verdicts: input.verdicts,
    voiders,
    revocations: new Map(),
    voidedAdmissions: new Map(),
    candidates: [],
    applied: new Set(),
    rotations: [],
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
    candidates: ctx.candidates,
    applied: ctx.applied,
    rotations: ctx.rotations,
    addedLockboxes: ctx.addedLockboxes
  }
}
