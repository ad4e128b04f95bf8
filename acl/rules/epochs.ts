/**
 * Epochs: which rotation wins each epoch number, which lockboxes of adds hold its key,
 * and whether the account needs a new rotation.
 */
import type { DeviceId } from '../../src/types.ts'
import type { AccountState, DeviceRecord, EpochRecord } from '../types.ts'
import { compare, isInCausalPast, show } from './graph.ts'
import type { CausalGraph } from './graph.ts'
import type { AddedLockbox } from './pass.ts'

const seniorityOf = (state: AccountState, device: string): number =>
  Object.hasOwn(state.devices, device) ? (state.devices[device] as DeviceRecord).seniority : Number.MAX_SAFE_INTEGER

/**
 * Concurrent rotations to the same epoch number: the one by the most senior author wins,
 * then the one with the smaller entry hash. (Two rotations to one epoch number are always
 * concurrent: a rotation must start the epoch after the highest in its causal past.)
 * Sets `epochs`, `epoch`, `supersededEpochs` and `addedLockboxes`; records why losers
 * do not count in `reasons`. An add's lockbox is kept only if the winning rotation of the
 * epoch it names is in its causal past: otherwise it holds a losing rotation's key.
 */
export const settleEpochs = (
  state: AccountState, graph: CausalGraph, rotations: readonly EpochRecord[],
  added: readonly AddedLockbox[], reasons: Map<string, string>
): void => {
  const byEpoch = new Map<number, EpochRecord[]>()
  for (const r of rotations) {
    const list = byEpoch.get(r.epoch)
    if (list === undefined) byEpoch.set(r.epoch, [r])
    else list.push(r)
  }
  const rank = (a: EpochRecord, b: EpochRecord): number =>
    seniorityOf(state, a.startedBy) - seniorityOf(state, b.startedBy) || compare(a.startedIn, b.startedIn)
  for (const epoch of [...byEpoch.keys()].sort((a, b) => a - b)) {
    const [winner, ...losers] = (byEpoch.get(epoch) as EpochRecord[]).sort(rank)
    if (winner === undefined) continue
    state.epochs.push(winner)
    for (const loser of losers) {
      reasons.set(loser.startedIn, `concurrent rotation lost to ${winner.startedIn}`)
      state.supersededEpochs.push(loser)
    }
  }
  state.epoch = state.epochs[state.epochs.length - 1] ?? null
  for (const a of added) {
    const winner = state.epochs.find(e => e.epoch === a.epoch)
    if (winner === undefined || !isInCausalPast(graph, winner.startedIn, a.hash)) continue
    const key = String(a.epoch)
    const boxes = state.addedLockboxes[key] ?? {}
    boxes[a.device] = a.lockbox
    state.addedLockboxes[key] = boxes
  }
}

/** The lockbox of `epoch`'s key for `device`: from the rotation that started it, or from the add that admitted it. */
export const lockboxFor = (state: AccountState, epoch: number, device: DeviceId): string | undefined => {
  const record = state.epochs.find(e => e.epoch === epoch)
  if (record === undefined) return undefined
  if (Object.hasOwn(record.lockboxes, device)) return record.lockboxes[device]
  const added = state.addedLockboxes[String(epoch)]
  return added !== undefined && Object.hasOwn(added, device) ? added[device] : undefined
}

const describe = (d: DeviceRecord): string => `${d.device} (${show(d.name)})`

/**
 * True when a revocation calls for a rotation: a revoked device holds a lockbox of the
 * current epoch. Then any active device may rotate, not only an admin.
 */
export const revokedHoldsCurrentKey = (state: AccountState): boolean => {
  const current = state.epoch
  if (current === null) return false
  const holders = [...Object.keys(current.lockboxes), ...Object.keys(state.addedLockboxes[String(current.epoch)] ?? {})]
  return holders.some(id => state.retiredRecovery.some(r => r.device === id) || (Object.hasOwn(state.devices, id) && (state.devices[id] as DeviceRecord).status === 'revoked'))
}

/**
 * Why the account needs a new rotation, or null: the current epoch's key went to a device
 * that is not an active member (revoked, or whose admission was voided), or an active
 * device has no lockbox for it, or (private mode) a replica removed in it holds the swarm
 * key. In public mode lockboxes are membership markers (there is no key), and the same
 * reasoning holds: a data log accepts writes from its epoch's members.
 */
export const rotationNeed = (state: AccountState): string | null => {
  const current = state.epoch
  if (current === null) return null
  const holders = new Set([...Object.keys(current.lockboxes), ...Object.keys(state.addedLockboxes[String(current.epoch)] ?? {})])
  const ordered = [...holders].sort((a, b) => seniorityOf(state, a) - seniorityOf(state, b) || compare(a, b))
  for (const id of ordered) {
    if (state.recovery?.device === id) continue
    if (state.retiredRecovery.some(r => r.device === id)) return `the key of epoch ${current.epoch} was given to the replaced recovery key ${id}`
    if (!Object.hasOwn(state.devices, id)) {
      return `the key of epoch ${current.epoch} was given to ${id}, which is not a device of this account`
    }
    const d = state.devices[id] as DeviceRecord
    if (d.status === 'revoked') {
      return `the key of epoch ${current.epoch} was given to ${describe(d)}, revoked by ${d.revokedIn ?? ''}`
    }
  }
  const devices = Object.values(state.devices).sort((a, b) => a.seniority - b.seniority)
  const keyless = devices.find(d => d.status === 'active' && lockboxFor(state, current.epoch, d.device) === undefined)
  if (keyless !== undefined) return `active device ${describe(keyless)} has no lockbox for epoch ${current.epoch}`
  const recovery = state.recovery
  if (recovery !== null && lockboxFor(state, current.epoch, recovery.device) === undefined) return `the recovery key has no lockbox for epoch ${current.epoch}`
  return replicaHoldingSwarm(state, current.epoch)
}

/**
 * Private mode: a replica removed while `epoch` was current holds the swarm key (it was
 * let in with it), so the next rotation must move the swarm (src/account/swarm.ts).
 */
const replicaHoldingSwarm = (state: AccountState, epoch: number): string | null => {
  if (state.params.mode !== 'private') return null
  const removed = Object.values(state.replicas).filter(r => r.removedAtEpoch === epoch).map(r => r.peer).sort(compare)[0]
  return removed === undefined ? null : `the removed replica ${removed} holds the swarm key of epoch ${epoch}`
}
