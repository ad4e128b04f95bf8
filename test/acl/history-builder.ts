/**
 * The pieces the history generators share (test/acl/histories.ts for devices and thieves,
 * test/acl/recovery-histories.ts for the recovery words): a log under construction with
 * the views of its authors, and random devices and rotations.
 */
import { rotateOp } from '../../acl/ops.ts'
import { reduce } from '../../acl/reducer.ts'
import type { AccountParams, AccountState, DeviceDescriptor, RegistryEntry } from '../../acl/types.ts'
import type { DeviceId } from '../../src/types.ts'
import { fakeDeviceId, fakeKey, fakeLockbox, pastOf, registry } from './helpers.ts'
import type { Rng } from './helpers.ts'

export const randomDevice = (rng: Rng, name: string): DeviceDescriptor =>
  ({ device: fakeDeviceId(rng), name, signingKey: fakeKey(rng), boxKey: fakeKey(rng) })

export const highestEpoch = (view: AccountState): number =>
  Math.max(0, ...view.epochs.map(e => e.epoch), ...view.supersededEpochs.map(e => e.epoch))

/** A rotation to `epoch` with a fake lockbox for each holder (devices or recovery keys: anything with an id). */
export const randomRotation = (rng: Rng, epoch: number, holders: ReadonlyArray<{ device: DeviceId }>): unknown => rotateOp({
  epoch,
  dataLog: `/orbitdb/zdpuEpoch${epoch}x${rng.int(1e6)}`,
  lockboxes: Object.fromEntries(holders.map(d => [d.device, fakeLockbox(rng)])),
  cut: [`c${rng.int(50)}`]
})

/** A log under construction, with the views of its authors. */
export class Builder {
  readonly log = registry()
  readonly byHash = new Map<string, RegistryEntry>()
  readonly params: AccountParams
  constructor (params: AccountParams) {
    this.params = params
  }

  /** `author`: a device, or a recovery key's id (it signs as itself). */
  append (author: DeviceDescriptor | DeviceId, payload: unknown, after?: readonly string[], time?: number): RegistryEntry {
    const entry = this.log.append(author, payload, { after, time })
    this.byHash.set(entry.hash, entry)
    return entry
  }

  /** True if `entry` is `than` or has it in its causal past. */
  isAfter (entry: RegistryEntry, than: RegistryEntry): boolean {
    return pastOf(this.byHash, [entry.hash]).includes(than)
  }

  /** The state of the causal past of `heads`, inclusive: what a device that saw them knows. */
  view (heads: readonly string[]): AccountState {
    return reduce(this.params, pastOf(this.byHash, heads))
  }

  /** True if `entry` counts in its own view (the state of its causal past, inclusive). */
  countsInOwnView (entry: RegistryEntry): boolean {
    return !this.view([entry.hash]).ignored.some(i => i.hash === entry.hash)
  }
}

/**
 * Where a thief's back-dated ops go: the heads `target` was written on, or an older cut
 * of them, sometimes with an entry concurrent with `target` (seen by the thief, not by
 * `target`'s author). Returns the parents and a clock that may lie.
 */
export const backDated = (rng: Rng, b: Builder, target: RegistryEntry): { heads: string[], time: () => number | undefined } => {
  const before = pastOf(b.byHash, target.next)
  let heads: string[] = rng.chance(0.6) || before.length === 0
    ? [...target.next]
    : [...new Set([rng.pick(before).hash, rng.pick(before).hash])]
  const concurrent = b.log.entries.filter(e => !before.includes(e) && !b.isAfter(e, target))
  if (concurrent.length > 0 && rng.chance(0.3)) heads = [...new Set([...heads, rng.pick(concurrent).hash])]
  // Early (sorted first among concurrent entries) or far ahead (sorted last).
  const clock = rng.int(10)
  return { heads, time: () => clock < 3 ? rng.int(3) : clock < 4 ? 1e9 + rng.int(3) : undefined }
}
