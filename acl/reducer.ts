/**
 * The registry reducer: entries in, account state out. Pure and deterministic: the
 * result depends only on the SET of entries (not their order, not duplicates), so every
 * device that has seen the same entries agrees on who is a member. Never throws on entry
 * content; every op that does not count is in `ignored`, with the reason.
 *
 * Authority is causal: an op counts only if its author's admission is in the op's causal
 * past and the author has the role the op needs there. Revocations are final: a
 * revocation counts when it is valid on the state of its own causal past, and then
 * nothing can undo it. A counted revocation R of Y voids every other op of Y outside R's
 * causal past (later, concurrent or back-dated alike); a voided add un-admits its
 * device, and with it that device's ops. The reducer works in steps:
 *
 * 1. Graph (rules/graph.ts): the causal DAG of the entries, in a deterministic
 *    topological order (ties broken by clock time, then hash).
 * 2. Final ops (rules/revocation.ts): in causal order, each revoke and recovery op is
 *    judged on a pass over its own causal past (under the ops counted there); the
 *    counted recovery ops settle into one chain of keys (rules/recovery.ts).
 * 3. Final pass (rules/pass.ts): every op in causal order, the counted revocations
 *    applied and the ops they void ignored; rotations must start the next epoch of
 *    their causal past and give no key to a device revoked there; recovery keys set by
 *    devices that this voids are set aside and the pass runs again.
 * 4. Epochs (rules/epochs.ts): concurrent rotations to one epoch number are settled (the
 *    most senior author, then the smaller hash, wins), then `needsRotation`.
 *
 * Invitations (recorded by admins, used by at most one admission, the first in the
 * causal order, which any active device may write with the invite key's proof) and
 * replica records (registered and removed by admins; swarm key boxes for them) are
 * applied in the final pass (rules/pass.ts).
 */
import { InvalidArgumentError } from '../src/errors.ts'
import { MODES } from '../src/types.ts'
import { isCanonicalBase64url, LIMITS, parseOp } from './ops.ts'
import { isDeviceId } from '../identity/keys.ts'
import type { AccountParams, AccountState, DeviceRecord, RegistryEntry } from './types.ts'
import { buildCausalGraph } from './rules/graph.ts'
import type { CausalGraph } from './rules/graph.ts'
import { rotationNeed, settleEpochs } from './rules/epochs.ts'
import { initialState, passWithRecovery } from './rules/pass.ts'
import type { ParsedEntry } from './rules/pass.ts'
import { countRevocations } from './rules/revocation.ts'
import type { VerdictCache } from './rules/revocation.ts'
export type { VerdictCache } from './rules/revocation.ts'

export { buildCausalGraph, isAncestor } from './rules/graph.ts'
export type { CausalGraph } from './rules/graph.ts'
export { initialState } from './rules/pass.ts'
export { lockboxFor, revokedHoldsCurrentKey } from './rules/epochs.ts'

const assertParams = (params: AccountParams): void => {
  if (!isDeviceId(params.founder)) throw new InvalidArgumentError('params.founder must be a device id')
  if (typeof params.founderSigningKey !== 'string' || params.founderSigningKey.length !== LIMITS.keyLength ||
      !isCanonicalBase64url(params.founderSigningKey)) {
    throw new InvalidArgumentError('params.founderSigningKey must be base64url of 32 bytes')
  }
  if (!MODES.includes(params.mode)) throw new InvalidArgumentError(`params.mode must be one of ${MODES.join(', ')}`)
  if (params.genesisKey !== undefined && (typeof params.genesisKey !== 'string' || params.genesisKey.length !== LIMITS.keyLength || !isCanonicalBase64url(params.genesisKey))) {
    throw new InvalidArgumentError('params.genesisKey must be base64url of 32 bytes')
  }
}

/** Parses every placeable entry's payload once. */
const parseEntries = (graph: CausalGraph): ParsedEntry[] => graph.order.map((entry): ParsedEntry => {
  try {
    return { entry, op: parseOp(entry.payload) }
  } catch (e) {
    return { entry, error: e instanceof Error ? e.message : 'invalid registry op' }
  }
})

/**
 * Folds a set of registry entries into the account state. The result does not depend on
 * the order of `entries`, and duplicated entries count once. `cache`: verdicts of
 * revocations kept between calls for one account whose entry hashes are content
 * addresses (the registry database); the result is the same with or without it.
 * @throws InvalidArgumentError only if `params` itself is invalid.
 */
export const reduce = (params: AccountParams, entries: Iterable<RegistryEntry>, cache?: VerdictCache): AccountState => {
  assertParams(params)
  const graph = buildCausalGraph(entries)
  const normalized = initialState(params).params
  const parsed = parseEntries(graph)
  const { counted, countedRecovery, verdicts } = countRevocations(normalized, graph, parsed, cache)
  const { state, reasons, rotations, voidedRotations, addedLockboxes } = passWithRecovery({ params: normalized, graph, parsed, counted, countedRecovery, verdicts })
  settleEpochs(state, graph, rotations, addedLockboxes, reasons)
  // A voided rotation's log may hold writes of active devices, to be carried; its keys
  // given to anyone no longer active are dropped (they give no right to write anywhere).
  for (const r of voidedRotations) {
    const lockboxes = Object.fromEntries(Object.entries(r.lockboxes).filter(([d]) => state.devices[d]?.status === 'active'))
    if (Object.keys(lockboxes).length > 0) state.supersededEpochs.push({ ...r, lockboxes })
  }
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
