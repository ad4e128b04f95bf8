/**
 * Which revocations count. Revocations are final: a revoke op R counts when, on the
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
 */
import type { DeviceId } from '../../src/types.ts'
import type { AccountParams, RegistryEntry, RevokeOp } from '../types.ts'
import { show } from './graph.ts'
import type { CausalGraph } from './graph.ts'
import { runPass } from './pass.ts'
import type { ParsedEntry, Revocation } from './pass.ts'

export interface Counted {
  /** The revocations that count, by entry hash. */
  readonly counted: Map<string, Revocation>
  /** Why each other revoke op does not count, by entry hash. */
  readonly verdicts: Map<string, string>
}

/** Why `op` does not count on the state of `entry`'s causal past, or undefined when it counts. */
const judge = (
  params: AccountParams, graph: CausalGraph, past: readonly ParsedEntry[], counted: ReadonlyMap<string, Revocation>,
  entry: RegistryEntry, op: RevokeOp
): string | undefined => {
  const { state } = runPass({ params, graph, parsed: past, counted, verdicts: new Map() })
  if (!state.initialized) return 'no valid genesis in the causal past of this op'
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

/**
 * Verdicts of revoke ops whose whole causal past was known, by entry hash: they never
 * change, so a caller that reduces the same growing log again (the registry database,
 * with content-addressed hashes) may keep them. Undefined: the revocation counts.
 */
export type VerdictCache = Map<string, string | undefined>

/** Renames change nothing a revocation's judgement reads: a pass over a past skips them. */
const judgedOn = (p: ParsedEntry): boolean => !('op' in p) || p.op.type !== 'rename'

/** Decides, in causal order, which revoke ops count. */
export const countRevocations = (params: AccountParams, graph: CausalGraph, parsed: readonly ParsedEntry[], cache?: VerdictCache): Counted => {
  const counted = new Map<string, Revocation>()
  const verdicts = new Map<string, string>()
  parsed.forEach((p, index) => {
    if (!('op' in p) || p.op.type !== 'revoke') return
    const hash = p.entry.hash
    const cacheable = cache !== undefined && graph.isComplete(hash)
    let why: string | undefined
    if (cacheable && cache.has(hash)) {
      why = cache.get(hash)
    } else {
      const past = parsed.slice(0, index).filter(q => judgedOn(q) && graph.isAncestor(q.entry.hash, hash))
      why = judge(params, graph, past, counted, p.entry, p.op)
      if (cacheable) cache.set(hash, why)
    }
    if (why === undefined) counted.set(hash, { hash, author: p.entry.author as DeviceId, target: p.op.device, index })
    else verdicts.set(hash, why)
  })
  return { counted, verdicts }
}
