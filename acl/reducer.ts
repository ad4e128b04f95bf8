/**
 * The registry reducer: entries in, account state out. Pure and deterministic: the
 * result depends only on the SET of entries (not their order, not duplicates), so every
 * device that has seen the same entries agrees on who is a member. Never throws on entry
 * content; every op that does not count is in `ignored`, with the reason.
 *
 * Authority is causal: an op counts only if its author's admission is in the op's causal
 * past (an ancestor), and the author has the role the op needs. A counted revocation R
 * of Y voids every op of Y that is not in R's causal past (later, concurrent or
 * back-dated alike); a voided add un-admits its device, and with it that device's ops.
 * Because a revocation can void ops that come before it in any order, the reducer works
 * in steps:
 *
 * 1. Graph (rules/graph.ts): the causal DAG of the entries, in a deterministic
 *    topological order (ties broken by clock time, then hash).
 * 2. Optimistic pass (rules/pass.ts): apply every op in that order with no revocation
 *    counted; collect the revocations that pass their own rules (known target, admin or
 *    self, only the founder revokes the founder) as candidates, with the chain of
 *    admissions their author's authority rests on.
 * 3. Resolution (rules/revocation.ts): a candidate R defeats a candidate C if R would
 *    void C or an admission in C's chain. Accept undefeated candidates, reject those
 *    defeated by accepted ones, and break the remaining cycles (mutual revocations) in
 *    favour of the most senior author (founder first, then by admission order).
 * 4. Final pass: apply every op again, voiding per the accepted revocations; rotations
 *    must start the next epoch of their causal past and give no key to a device revoked
 *    there. If an accepted revocation no longer holds in this pass (it rested on an op
 *    that is now void), it is set aside and steps 3-4 run again: each round sets at least one
 *    aside, so this ends.
 * 5. Epochs (rules/epochs.ts): concurrent rotations to one epoch number are settled (the
 *    most senior author, then the smaller hash, wins), then `needsRotation`.
 */
import { InvalidArgumentError } from '../src/errors.ts'
import { MODES } from '../src/types.ts'
import { isCanonicalBase64url, LIMITS, parseOp } from './ops.ts'
import { isDeviceId } from '../identity/keys.ts'
import type { AccountParams, AccountState, DeviceRecord, RegistryEntry } from './types.ts'
import { buildCausalGraph } from './rules/graph.ts'
import type { CausalGraph } from './rules/graph.ts'
import { rotationNeed, settleEpochs } from './rules/epochs.ts'
import { initialState, runPass } from './rules/pass.ts'
import type { ParsedEntry, PassResult } from './rules/pass.ts'
import { resolveRevocations } from './rules/revocation.ts'

export { buildCausalGraph, isAncestor } from './rules/graph.ts'
export type { CausalGraph } from './rules/graph.ts'
export { initialState } from './rules/pass.ts'
export { lockboxFor } from './rules/epochs.ts'

const assertParams = (params: AccountParams): void => {
  if (!isDeviceId(params.founder)) throw new InvalidArgumentError('params.founder must be a device id')
  if (typeof params.founderSigningKey !== 'string' || params.founderSigningKey.length !== LIMITS.keyLength ||
      !isCanonicalBase64url(params.founderSigningKey)) {
    throw new InvalidArgumentError('params.founderSigningKey must be base64url of 32 bytes')
  }
  if (!MODES.includes(params.mode)) throw new InvalidArgumentError(`params.mode must be one of ${MODES.join(', ')}`)
}

/** Parses every placeable entry's payload once. */
const parseEntries = (graph: CausalGraph): ParsedEntry[] => graph.order.map((entry): ParsedEntry => {
  try {
    return { entry, op: parseOp(entry.payload) }
  } catch (e) {
    return { entry, error: e instanceof Error ? e.message : 'invalid registry op' }
  }
})

/** Steps 2 to 4: the final pass, under the revocations that count. */
const passWithRevocations = (params: AccountParams, graph: CausalGraph, parsed: readonly ParsedEntry[]): PassResult => {
  const input = { params, graph, parsed, verdicts: new Map<string, string>() }
  const { candidates } = runPass({ ...input, accepted: null })
  const setAside = new Set<string>()
  for (;;) {
    const { accepted, verdicts } = resolveRevocations(graph, candidates.filter(c => !setAside.has(c.hash)))
    const result = runPass({ ...input, accepted, verdicts })
    const failed = [...accepted.keys()].filter(hash => !result.applied.has(hash))
    if (failed.length === 0) return result
    for (const hash of failed) setAside.add(hash)
  }
}

/**
 * Folds a set of registry entries into the account state. The result does not depend on
 * the order of `entries`, and duplicated entries count once.
 * @throws InvalidArgumentError only if `params` itself is invalid.
 */
export const reduce = (params: AccountParams, entries: Iterable<RegistryEntry>): AccountState => {
  assertParams(params)
  const graph = buildCausalGraph(entries)
  const normalized = initialState(params).params
  const { state, reasons, rotations, addedLockboxes } = passWithRevocations(normalized, graph, parseEntries(graph))
  settleEpochs(state, graph, rotations, addedLockboxes, reasons)
  const reason = rotationNeed(state)
  state.needsRotation = reason !== null
  state.rotationReason = reason
  state.ignored.push(...graph.rejected)
  for (const entry of graph.order) {
    const why = reasons.get(entry.hash)
    if (why !== undefined) state.ignored.push({ hash: entry.hash, reason: why })
  }
  return state
}

/** The devices of an account, founder first, then in order of admission. */
export const deviceList = (state: AccountState): DeviceRecord[] =>
  Object.values(state.devices).sort((a, b) => a.seniority - b.seniority)

/** The active devices of an account, in order of seniority. */
export const activeDevices = (state: AccountState): DeviceRecord[] =>
  deviceList(state).filter(d => d.status === 'active')
