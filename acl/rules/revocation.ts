/**
 * Which revocations (and recovery ops) count. Revocations are final: a revoke op R counts when, on the
 * state of R's own causal past alone, its author is an active device and either names
 * itself or is an admin (or is the recovery key), and the device it names is active. Nothing outside R's causal
 * past (a later, concurrent or back-dated op, whoever signed it) can change that, so a
 * revocation that counted once counts forever, on every peer.
 *
 * Why not let seniority settle concurrent revocations: a stolen device can always make
 * an op look concurrent by pointing at old heads, so any rule that lets a revoked
 * device's concurrent op win lets a thief undo its own revocation. A stolen admin's
 * back-dated revocation of others still counts (denial of service, repaired by another
 * admin or the recovery words); it never brings the thief back.
 *
 * The state of R's past is a pass over R's ancestors under the revocations counted
 * among them, which were decided before R (they come earlier in the causal order).
 *
 * Recovery ops (setting or replacing the recovery key) are judged the same way, so a
 * back-dated revocation cannot void the words: a set counts when its author is an active
 * admin and there is no key in its past, a replacement when it is signed by the key
 * current in its past (rules/recovery.ts settles the counted ones into one chain).
 */
import type { DeviceId } from '../../src/types.ts'
import { deviceIdFromSigningKey } from '../../identity/keys.ts'
import { base64urlDecode } from '../../src/crypto/bytes.ts'
import type { AccountParams, AccountState, EpochRecord, GenesisOp, RecoveryDescriptor, RecoveryOp, RegistryEntry, RevokeOp } from '../types.ts'
import { show } from './graph.ts'
import { isSealed } from '../genesis.ts'
import type { CausalGraph } from './graph.ts'
import { passWithRecovery } from './pass.ts'
import type { ParsedEntry, Revocation } from './pass.ts'
import type { CountedRecovery } from './recovery.ts'

export interface Counted {
  /** The revocations that count, by entry hash. */
  readonly counted: Map<string, Revocation>
  /** The recovery ops that count, by entry hash. */
  readonly countedRecovery: Map<string, CountedRecovery>
  /** Why each other revoke or recovery op does not count, by entry hash. */
  readonly verdicts: Map<string, string>
}

const judgeRevocation = (state: AccountState, graph: CausalGraph, entry: RegistryEntry, op: RevokeOp): string | undefined => {
  const target = Object.hasOwn(state.devices, op.device) ? state.devices[op.device] : undefined
  // The recovery key may revoke any device; nothing revokes the recovery key (it is no device).
  if (state.recovery !== null && entry.author === state.recovery.device && graph.isAncestor(state.recovery.setIn, entry.hash)) {
    if (target === undefined) return `device ${op.device} is not known in the causal past of this revocation`
    return target.status === 'revoked' ? `device ${op.device} was already revoked by ${target.revokedIn ?? ''}` : undefined
  }
  const author = Object.hasOwn(state.devices, entry.author) ? state.devices[entry.author] : undefined
  if (author === undefined) return `author ${show(entry.author)} is not a device of this account in the causal past of this revocation`
  if (author.status === 'revoked') {
    return `voided by revocation ${author.revokedIn ?? ''} of ${author.device}: not in its causal past`
  }
  if (op.device !== author.device && author.role !== 'admin') {
    return `only an admin may revoke another device; author ${author.device} is not an admin`
  }
  if (target === undefined) return `device ${op.device} is not known in the causal past of this revocation`
  if (target.status === 'revoked') return `device ${op.device} was already revoked by ${target.revokedIn ?? ''}`
  return undefined
}

const ownId = (key: RecoveryDescriptor): boolean => {
  try {
    return deviceIdFromSigningKey(base64urlDecode(key.signingKey, 'signingKey')) === key.device
  } catch {
    return false
  }
}

/** The recovery key a valid first genesis sets, if any. */
const genesisRecovery = (params: AccountParams, entry: RegistryEntry, op: GenesisOp, counted: ReadonlyMap<string, CountedRecovery>): RecoveryDescriptor | undefined => {
  const key = op.recovery
  if (key === undefined || [...counted.values()].some(r => r.atGenesis)) return undefined
  const valid = entry.author === params.founder && op.founder.device === params.founder && op.founder.signingKey === params.founderSigningKey &&
    op.mode === params.mode && key.device !== params.founder && ownId(key) && isSealed(params, op)
  return valid ? key : undefined
}

/** No device can set a key over an existing one, nor replace it: only the current key replaces itself. */
const judgeRecovery = (state: AccountState, rotations: readonly EpochRecord[], graph: CausalGraph, entry: RegistryEntry, op: RecoveryOp): string | undefined => {
  const current = state.recovery
  if (current === null) {
    const author = Object.hasOwn(state.devices, entry.author) ? state.devices[entry.author] : undefined
    if (author?.status !== 'active' || author.role !== 'admin') return `only an admin may set the recovery key; author ${show(entry.author)} is not an active admin`
  } else if (entry.author !== current.device || !graph.isAncestor(current.setIn, entry.hash)) {
    return `only the current recovery key ${current.device} may replace it, not ${show(entry.author)}`
  }
  if (!ownId(op.key)) return `recovery key id ${op.key.device} is not derived from its signing key`
  const id = op.key.device
  if (Object.hasOwn(state.devices, id) || current?.device === id || state.retiredRecovery.some(r => r.device === id)) return `id ${id} is already in use in this account`
  if (!rotations.some(e => e.epoch === op.epoch)) {
    return `epoch ${op.epoch} was not started in the causal past of this op`
  }
  return undefined
}

/**
 * Verdicts of revoke ops whose whole causal past was known, by entry hash: they never
 * change, so a caller that reduces the same growing log again (the registry database,
 * with content-addressed hashes) may keep them. Undefined: the revocation counts.
 */
export type VerdictCache = Map<string, string | undefined>

/** Renames change nothing a revocation's judgement reads: a pass over a past skips them. */
const judgedOn = (p: ParsedEntry): boolean => !('op' in p) || p.op.type !== 'rename'

/** Decides, in causal order, which revoke and recovery ops count. */
export const countRevocations = (params: AccountParams, graph: CausalGraph, parsed: readonly ParsedEntry[], cache?: VerdictCache): Counted => {
  const counted = new Map<string, Revocation>()
  const countedRecovery = new Map<string, CountedRecovery>()
  const verdicts = new Map<string, string>()
  parsed.forEach((p, index) => {
    if (!('op' in p)) return
    if (p.op.type === 'genesis') {
      const g = genesisRecovery(params, p.entry, p.op, countedRecovery)
      if (g !== undefined) countedRecovery.set(p.entry.hash, { hash: p.entry.hash, author: p.entry.author as DeviceId, key: g, index, byKey: false, atGenesis: true })
      return
    }
    if (p.op.type !== 'revoke' && p.op.type !== 'recovery') return
    const op = p.op
    const hash = p.entry.hash
    const cacheable = cache !== undefined && graph.isComplete(hash)
    let why: string | undefined
    if (cacheable && cache.has(hash)) {
      why = cache.get(hash)
    } else {
      const past = parsed.slice(0, index).filter(q => judgedOn(q) && graph.isAncestor(q.entry.hash, hash))
      const { state, rotations } = passWithRecovery({ params, graph, parsed: past, counted, countedRecovery, verdicts: new Map() })
      why = !state.initialized
        ? 'no valid genesis in the causal past of this op'
        : op.type === 'revoke' ? judgeRevocation(state, graph, p.entry, op) : judgeRecovery(state, rotations, graph, p.entry, op)
      if (cacheable) cache.set(hash, why)
    }
    const author = p.entry.author as DeviceId
    if (why !== undefined) verdicts.set(hash, why)
    else if (op.type === 'revoke') counted.set(hash, { hash, author, target: op.device, index })
    // A replacement is signed by a key set before it (in its causal past, so earlier in the order).
    else countedRecovery.set(hash, { hash, author, key: op.key, index, byKey: [...countedRecovery.values()].some(r => r.key.device === author), atGenesis: false })
  })
  return { counted, countedRecovery, verdicts }
}
