/**
 * The recovery words in generated histories (test/acl/histories.ts). The founder sets
 * them right after genesis, or later a device is asked to (an admin: it counts; a member:
 * it does not). The person holding them admits, revokes and rotates (giving the words a
 * lockbox, or forgetting to), and replaces them with new words, signed by the old ones.
 * Devices and thieves attack them: revoke them, replace them with a key of their own,
 * admit them as a device. A thief who kept the OLD words back-dates ops from before
 * their replacement (or just goes on using them): revocations, accomplices, rotations,
 * sometimes a replacement too.
 */
import { renameOp, revokeOp } from '../../acl/ops.ts'
import type { AccountState, DeviceDescriptor, RecoveryDescriptor, RegistryEntry } from '../../acl/types.ts'
import type { DeviceId } from '../../src/types.ts'
import { addPayload, fakeDeviceId, recoveryKeyFrom, recoveryPayload } from './helpers.ts'
import type { Rng } from './helpers.ts'
import { backDated, highestEpoch, randomDevice, randomRotation } from './history-builder.ts'
import type { Builder } from './history-builder.ts'

export interface Words {
  /** The person's keys, oldest first: the last is what the person holds now. */
  readonly keys: RecoveryDescriptor[]
  /** The op setting the first key that counted in its own view; null until then. */
  setting: RegistryEntry | null
  /** Replacements that counted in their own view: the words they replaced may turn thief. */
  readonly replacements: RegistryEntry[]
}

/** A recovery op for a key whose id is not derived from its signing key. */
const forgedWords = (rng: Rng, epoch: number): unknown => recoveryPayload({ ...recoveryKeyFrom(rng), device: fakeDeviceId(rng) }, epoch)

/** Back-dated ops of a thief holding replaced words (and of its accomplices). */
export interface OldWordsTheft {
  /** The replaced key, which the thief kept. */
  key: DeviceId
  /** Its replacement (signed by `key`), which counted in its own view. */
  replacement: RegistryEntry
  /** None of them is in the replacement's causal past (some may have it in theirs). */
  ops: RegistryEntry[]
  accomplices: DeviceId[]
  /** The thief back-dated a replacement of its own: two concurrent successors of one key. */
  fork: boolean
}

export const newWords = (rng: Rng): Words => ({ keys: [recoveryKeyFrom(rng)], setting: null, replacements: [] })

const held = (words: Words): RecoveryDescriptor => words.keys[words.keys.length - 1] as RecoveryDescriptor

const epochOf = (view: AccountState): number => view.epoch?.epoch ?? 0

/** Mostly the current heads, sometimes a stale or partial view (concurrent with the rest). */
const someHeads = (rng: Rng, b: Builder): string[] => rng.chance(0.75)
  ? b.log.heads()
  : [...new Set(Array.from({ length: 1 + rng.int(2) }, () => rng.pick(b.log.entries).hash))]

/** Appends an op setting the person's first key, by `author`; records it if it counts in its own view. */
const setWords = (b: Builder, author: DeviceDescriptor, words: Words, epoch: number, heads?: readonly string[]): void => {
  const entry = b.append(author, recoveryPayload(words.keys[0] as RecoveryDescriptor, epoch), heads)
  if (b.countsInOwnView(entry)) words.setting = entry
}


/** What the person does with the words `key`, knowing `view`. May add a rescue device to `devices`. */
const wordsPayload = (
  rng: Rng, view: AccountState, key: RecoveryDescriptor, devices: DeviceDescriptor[]
): { payload: unknown, next?: RecoveryDescriptor } => {
  const active = devices.filter(d => view.devices[d.device]?.status === 'active')
  const roll = rng.int(100)
  if (roll < 28) {
    // A device not admitted yet, or a new machine (the account taken back).
    const fresh = devices.filter(d => view.devices[d.device] === undefined)
    const device = fresh.length > 0 && rng.chance(0.7) ? rng.pick(fresh) : randomDevice(rng, `rescue ${rng.int(1000)}`)
    if (!devices.includes(device)) devices.push(device)
    return { payload: addPayload(device, rng.chance(0.8) ? 'admin' : 'member', epochOf(view)) }
  }
  if (roll < 50) {
    const target = active.length > 0 && rng.chance(0.85) ? rng.pick(active) : rng.pick(devices)
    return { payload: revokeOp({ device: target.device }) }
  }
  if (roll < 75) {
    // Sometimes the words forget their own lockbox: the account then asks for another rotation.
    return { payload: randomRotation(rng, highestEpoch(view) + 1, rng.chance(0.8) ? [...active, key] : active) }
  }
  if (roll < 94) {
    const next = recoveryKeyFrom(rng)
    return { payload: recoveryPayload(next, epochOf(view)), next }
  }
  return { payload: renameOp({ device: rng.pick(devices).device, name: `named by the words ${rng.int(1000)}` }) }
}

/**
 * One step of the person holding the words, on `heads` (default: mostly the current
 * heads); before they are set, a device is asked to set them.
 */
export const wordsStep = (rng: Rng, b: Builder, words: Words, devices: DeviceDescriptor[], heads = someHeads(rng, b)): void => {
  const view = b.view(heads)
  if (words.setting === null) {
    const active = devices.filter(d => view.devices[d.device]?.status === 'active')
    const members = active.filter(d => view.devices[d.device]?.role === 'member')
    const author = members.length > 0 && rng.chance(0.4) ? rng.pick(members) : rng.pick(active.length > 0 ? active : devices)
    // Sometimes a key whose id is not its own comes first.
    if (rng.chance(0.2)) b.append(author, forgedWords(rng, epochOf(view)), heads)
    setWords(b, author, words, epochOf(view), heads)
    return
  }
  const key = held(words)
  const { payload, next } = wordsPayload(rng, view, key, devices)
  const entry = b.append(key.device, payload, heads)
  if (next !== undefined && b.countsInOwnView(entry)) {
    words.replacements.push(entry)
    words.keys.push(next)
  }
}

/**
 * A device's op against the recovery key it knows: revoke it, replace it with a key of
 * its own, admit it as a device, or set a key whose id is not its own. With no key in
 * view, sometimes it sets one of its own (racing a concurrent setting). Undefined: no attack.
 */
export const attackWords = (rng: Rng, view: AccountState): unknown => {
  const epoch = epochOf(view)
  const forged = (): unknown => forgedWords(rng, epoch)
  const known = view.recovery ?? (view.retiredRecovery.length > 0 ? rng.pick(view.retiredRecovery) : null)
  if (known === null) return rng.chance(0.4) ? rng.chance(0.4) ? forged() : recoveryPayload(recoveryKeyFrom(rng), epoch) : undefined
  const roll = rng.int(100)
  if (roll < 35) return revokeOp({ device: known.device })
  if (roll < 65) return recoveryPayload(recoveryKeyFrom(rng), epoch)
  if (roll < 92) return addPayload({ device: known.device, name: 'sneaky', signingKey: known.signingKey, boxKey: known.boxKey }, 'admin', epoch)
  return forged()
}

/** One back-dated op of the old words (`byKey`) or of an accomplice they admitted. */
const oldWordsPayload = (
  rng: Rng, view: AccountState, byKey: boolean, crew: readonly DeviceDescriptor[], devices: readonly DeviceDescriptor[], forked: boolean
): { payload: unknown, accomplice?: DeviceDescriptor, fork?: boolean } => {
  const active = devices.filter(d => view.devices[d.device]?.status === 'active')
  const roll = rng.int(100)
  if (roll < 30 && active.length > 0) return { payload: revokeOp({ device: rng.pick(active).device }) }
  if (roll < 55) {
    const accomplice = randomDevice(rng, `old words accomplice ${rng.int(1000)}`)
    return { payload: addPayload(accomplice, 'admin', epochOf(view)), accomplice }
  }
  if (roll < 80) {
    const holders = [...crew, ...(view.recovery === null ? [] : [view.recovery]), ...(rng.chance(0.5) ? active : [])]
    return { payload: randomRotation(rng, highestEpoch(view) + 1, holders) }
  }
  if (roll < 92 && byKey && !forked) return { payload: recoveryPayload(recoveryKeyFrom(rng), epochOf(view)), fork: true }
  return { payload: renameOp({ device: rng.pick(devices).device, name: `old words ${rng.int(1000)}` }) }
}

/**
 * The thief holding the words `replacement` replaced appends 2-4 ops: on heads from before
 * the replacement, or (not bothering to back-date) on the current heads.
 */
export const stealOldWords = (rng: Rng, b: Builder, replacement: RegistryEntry, devices: readonly DeviceDescriptor[]): OldWordsTheft => {
  const { heads: start, time } = rng.chance(0.3) ? { heads: b.log.heads(), time: () => undefined } : backDated(rng, b, replacement)
  let heads = start
  const theft: OldWordsTheft = { key: replacement.author as DeviceId, replacement, ops: [], accomplices: [], fork: false }
  const crew: DeviceDescriptor[] = []
  for (let i = 0, n = 2 + rng.int(3); i < n; i++) {
    const accomplice = crew.length > 0 && rng.chance(0.4) ? rng.pick(crew) : undefined
    const made = oldWordsPayload(rng, b.view(heads), accomplice === undefined, crew, devices, theft.fork)
    const entry = b.append(accomplice ?? theft.key, made.payload, heads, time())
    theft.ops.push(entry)
    heads = [entry.hash]
    theft.fork ||= made.fork === true
    if (made.accomplice !== undefined) {
      crew.push(made.accomplice)
      theft.accomplices.push(made.accomplice.device)
    }
  }
  return theft
}
