/**
 * Generated registry histories for the revocation property test: adds, revokes,
 * rotations, renames and garbage across 3-5 devices, each device acting on the view it
 * had (random causal parents: up to date, stale, concurrent or back-dated). After a
 * device is revoked in some view, it (the thief) may keep appending ops whose causal
 * parents are old heads from before its revocation: revocations of the founder, of its
 * revoker and of its revoker's adder, admissions of accomplices (who then act too),
 * rotations giving itself a key, renames. About a third of histories have recovery
 * words too (test/acl/recovery-histories.ts): used, replaced, attacked, and stolen.
 * Invitations are recorded by any author (admin or not) and used by any author, mostly
 * with the invite's secret and role, sometimes with a wrong one, twice, or after the
 * inviter's revocation.
 */
import { addOp, genesisOp, invitationOp, renameOp, revokeOp } from '../../acl/ops.ts'
import { invitationPublicKey, signAdmission } from '../../acl/invitation.ts'
import type { AccountParams, AccountState, DeviceDescriptor, RegistryEntry } from '../../acl/types.ts'
import type { DeviceId } from '../../src/types.ts'
import { addPayload, DATA_LOG, fakeLockbox, makeRng, paramsFor, persona, seedOf } from './helpers.ts'
import type { Rng } from './helpers.ts'
import { backDated, Builder, highestEpoch, randomDevice, randomRotation } from './history-builder.ts'
import { attackWords, newWords, stealOldWords, wordsStep } from './recovery-histories.ts'
import type { OldWordsTheft, Words } from './recovery-histories.ts'

/** A revoked device's back-dated ops (and its accomplices'), after its revocation. */
export interface Theft {
  thief: DeviceId
  /** The revocation of the thief: it counted on the state of its own causal past. */
  revocation: RegistryEntry
  /** Every op of the thief and its accomplices, none in the revocation's causal past. */
  ops: RegistryEntry[]
  /** Devices admitted by the thief's back-dated ops (or by another accomplice's). */
  accomplices: DeviceId[]
}

export interface History {
  params: AccountParams
  founder: DeviceDescriptor
  entries: RegistryEntry[]
  byHash: ReadonlyMap<string, RegistryEntry>
  thefts: Theft[]
  /** The person's recovery words (about a third of histories), null when there are none. */
  words: Words | null
  oldWordsThefts: OldWordsTheft[]
}

/** An invitation's secret, derived from its id (so any generated op can use it). */
const invitationSecret = (id: string): Uint8Array => makeRng(seedOf(`invitation ${id}`)).bytes(16)

/**
 * Invitations: recorded by any author (admin or not), and admissions naming one in the
 * author's view, by any author, mostly for a fresh device with the right secret and role.
 */
const invitationPayload = (rng: Rng, view: AccountState, devices: readonly DeviceDescriptor[]): unknown => {
  const recorded = Object.values(view.invitations)
  if (recorded.length === 0 || rng.chance(0.2)) {
    const id = Array.from(rng.bytes(16), b => b.toString(16).padStart(2, '0')).join('')
    return invitationOp({ id, key: invitationPublicKey(invitationSecret(id)), role: rng.chance(0.5) ? 'admin' : 'member', expires: 2_000_000_000, confirm: rng.chance(0.2) })
  }
  const invitation = rng.pick(recorded)
  const fresh = devices.filter(d => view.devices[d.device] === undefined)
  // A device of the history (which then acts), a new one (admitted only), or one already known.
  const device = fresh.length > 0 && rng.chance(0.6) ? rng.pick(fresh) : rng.chance(0.8) ? randomDevice(rng, `invited ${rng.int(1000)}`) : rng.pick(devices)
  const role = rng.chance(0.9) ? invitation.role : rng.pick(['admin', 'member'] as const)
  const secret = rng.chance(0.9) ? invitationSecret(invitation.id) : rng.bytes(16)
  return addOp({ device, role, epoch: view.epoch?.epoch ?? 0, lockbox: fakeLockbox(rng), invitation: { id: invitation.id, proof: signAdmission(secret, invitation.id, device, role) } })
}

/** What `author` appends, knowing `view` (the state of its causal past): mostly honest, sometimes not. */
const nextPayload = (
  rng: Rng, view: AccountState, author: DeviceDescriptor, devices: readonly DeviceDescriptor[], founder: DeviceDescriptor, words: Words | null
): unknown => {
  const attack = words !== null && rng.chance(0.1) ? attackWords(rng, view) : undefined
  if (attack !== undefined) return attack
  if (rng.chance(0.15)) return invitationPayload(rng, view, devices)
  const known = devices.filter(d => view.devices[d.device] !== undefined)
  const active = devices.filter(d => view.devices[d.device]?.status === 'active')
  const roll = rng.int(100)
  if (roll < 24) {
    const fresh = devices.filter(d => view.devices[d.device] === undefined)
    const target = fresh.length > 0 && rng.chance(0.85) ? rng.pick(fresh) : rng.pick(devices)
    const epoch = rng.chance(0.85) ? view.epoch?.epoch ?? 0 : rng.int(4)
    return addPayload(target, rng.chance(0.6) ? 'admin' : 'member', epoch)
  }
  if (roll < 40) {
    const others = known.filter(d => d !== founder)
    const target = rng.chance(0.15) ? author : rng.chance(0.1) || others.length === 0 ? founder : rng.pick(others)
    return revokeOp({ device: target.device })
  }
  if (roll < 66) {
    const epoch = rng.chance(0.88) ? highestEpoch(view) + 1 : rng.int(4)
    // Honest rotations give keys to the active devices and the recovery key; some miss one,
    // some also give keys to revoked or unknown devices, or to replaced recovery keys.
    const roll = rng.int(100)
    const holders = roll < 55 ? active : roll < 65 ? rng.shuffle(active).slice(1) : roll < 90 ? [...known, ...view.retiredRecovery]
      : rng.shuffle(devices).slice(0, 1 + rng.int(devices.length))
    const words = view.recovery !== null && rng.chance(0.85) ? [view.recovery] : []
    return randomRotation(rng, epoch, [...holders, ...words])
  }
  if (roll < 80) {
    const target = rng.chance(0.7) ? author : rng.pick(devices)
    return renameOp({ device: target.device, name: `renamed ${rng.int(1000)}` })
  }
  if (roll < 84) return genesisOp({ mode: 'encrypted', founder, dataLog: DATA_LOG })
  return rng.pick<unknown>([
    null, 'revoke', [], {}, { type: 'revoke', v: 1 }, { type: 'rotate', v: 1, epoch: -1, dataLog: DATA_LOG, lockboxes: {}, cut: [] },
    { type: 'revoke', v: 1, device: 'nobody' }, { type: 'rename', v: 1, device: author.device, name: '\u202e' },
    JSON.parse('{"type":"revoke","v":1,"__proto__":{"device":"x"}}')
  ])
}

/** A revoke entry that counted on its own causal past: its target may turn thief. */
interface Revoked {
  revocation: RegistryEntry
  thief: DeviceDescriptor
}

/** Records `entry` if it is a revocation that counts in its own view. */
const noteRevocation = (b: Builder, devices: readonly DeviceDescriptor[], entry: RegistryEntry, revoked: Revoked[]): void => {
  const payload = entry.payload as { type?: unknown, device?: unknown } | null
  if (payload?.type !== 'revoke') return
  const thief = devices.find(d => d.device === payload.device)
  if (thief !== undefined && b.view([entry.hash]).devices[thief.device]?.revokedIn === entry.hash) {
    revoked.push({ revocation: entry, thief })
  }
}

/** One back-dated op of the thief or an accomplice, on the thief's branch (`view`). */
const theftPayload = (
  rng: Rng, view: AccountState, author: DeviceDescriptor, r: Revoked, crew: readonly DeviceDescriptor[],
  devices: readonly DeviceDescriptor[], founder: DeviceDescriptor
): { payload: unknown, accomplice?: DeviceDescriptor } => {
  const revoker = r.revocation.author
  const active = devices.filter(d => view.devices[d.device]?.status === 'active' && d.device !== author.device)
  const attack = view.recovery !== null && rng.chance(0.15) ? attackWords(rng, view) : undefined
  if (attack !== undefined) return { payload: attack }
  const roll = rng.int(100)
  if (roll < 35) {
    // The founder, the revoker, the revoker's adder, or anyone still active there.
    const targets = [founder.device, revoker, view.devices[revoker]?.addedBy ?? revoker, ...active.map(d => d.device)]
      .filter(t => t !== author.device)
    const target = targets.length === 0 ? founder.device : rng.pick(targets.slice(0, rng.chance(0.7) ? 3 : targets.length))
    return { payload: revokeOp({ device: target }) }
  }
  if (roll < 60) {
    const accomplice = randomDevice(rng, `accomplice ${rng.int(1000)}`)
    return { payload: addPayload(accomplice, 'admin', view.epoch?.epoch ?? 0), accomplice }
  }
  if (roll < 85) {
    // A new epoch for the crew (the thief first), sometimes with the honest devices too, but never the revoker.
    const honest = rng.chance(0.5) ? active.filter(d => d.device !== revoker) : []
    return { payload: randomRotation(rng, highestEpoch(view) + 1, [...crew, ...honest]) }
  }
  const target = rng.pick([author.device, revoker, founder.device])
  return { payload: renameOp({ device: target, name: `stolen ${rng.int(1000)}` }) }
}

/** The thief appends a chain of 2-5 ops on old heads from before its revocation; accomplices join in. */
const steal = (rng: Rng, b: Builder, r: Revoked, devices: readonly DeviceDescriptor[], founder: DeviceDescriptor): Theft => {
  // The heads the revoker saw, or an older cut, maybe with an entry the revoker did not see; a lying clock.
  const { heads: start, time } = backDated(rng, b, r.revocation)
  let heads = start
  const crew: DeviceDescriptor[] = [r.thief]
  const theft: Theft = { thief: r.thief.device, revocation: r.revocation, ops: [], accomplices: [] }
  for (let i = 0, n = 2 + rng.int(4); i < n; i++) {
    const author = crew.length > 1 && rng.chance(0.4) ? rng.pick(crew.slice(1)) : r.thief
    const { payload, accomplice } = theftPayload(rng, b.view(heads), author, r, crew, devices, founder)
    const entry = b.append(author, payload, heads, time())
    theft.ops.push(entry)
    heads = [entry.hash]
    if (accomplice !== undefined) {
      crew.push(accomplice)
      theft.accomplices.push(accomplice.device)
    }
  }
  return theft
}

/** A random history; about two in five have at least one theft. */
export const randomHistory = (rng: Rng): History => {
  const devices = Array.from({ length: 3 + rng.int(3) }, (_, i) => randomDevice(rng, `device ${i}`))
  const founder = devices[0] as DeviceDescriptor
  const params = paramsFor(founder)
  const outsider = persona(`outsider ${rng.int(1e9)}`)
  const b = new Builder(params)
  const revoked: Revoked[] = []
  const thefts: Theft[] = []
  const oldWordsThefts: OldWordsTheft[] = []
  const words = rng.chance(1 / 3) ? newWords(rng) : null
  // Mostly, the words are made at creation, in the genesis (as `create` does); else a device sets them later.
  const atCreation = words !== null && rng.chance(0.7) ? words.keys[0] : undefined
  const lockboxes = { [founder.device]: fakeLockbox(rng), ...(atCreation !== undefined ? { [atCreation.device]: fakeLockbox(rng) } : {}) }
  const genesis = b.append(founder, genesisOp({ mode: 'encrypted', founder, dataLog: DATA_LOG, lockboxes, ...(atCreation !== undefined ? { recovery: atCreation } : {}) }), [])
  if (words !== null && atCreation !== undefined) words.setting = genesis
  // Early on, admit a few devices so that there is someone to revoke.
  for (const d of devices.slice(1)) {
    if (rng.chance(0.8)) b.append(founder, addPayload(d, rng.chance(0.7) ? 'admin' : 'member'))
  }
  const steps = 6 + rng.int(22)
  const thieving = rng.chance(0.6)
  for (let s = 0; s < steps; s++) {
    if (thieving && revoked.length > 0 && rng.chance(0.2)) {
      thefts.push(steal(rng, b, rng.pick(revoked), devices, founder))
      continue
    }
    if (words !== null && words.replacements.length > 0 && rng.chance(0.3)) {
      oldWordsThefts.push(stealOldWords(rng, b, rng.pick(words.replacements), devices))
      continue
    }
    if (words !== null && rng.chance(0.15)) {
      wordsStep(rng, b, words, devices)
      continue
    }
    const author = rng.chance(0.03) ? outsider : rng.pick(devices)
    const hashes = b.log.entries.map(e => e.hash)
    const shape = rng.int(20)
    let after: string[] | undefined
    let time: number | undefined
    if (shape < 8) {
      after = undefined // up to date: the current heads
    } else if (shape < 17) {
      // A stale or partial view: concurrent with what it did not see.
      after = [...new Set(Array.from({ length: 1 + rng.int(2) }, () => rng.pick(hashes)))]
    } else {
      // Back-dated: pointing at early heads, with an early clock.
      after = [rng.pick(hashes.slice(0, Math.max(1, hashes.length >> 2)))]
      time = rng.int(4)
    }
    const parents = after ?? b.log.heads()
    const view = b.view(parents)
    const known = devices.filter(d => view.devices[d.device] !== undefined)
    if (rng.chance(0.08) && known.length >= 2) {
      // A burst of concurrent revocations by different devices: mutual revocations, cycles.
      for (const revoker of rng.shuffle(known).slice(0, 2 + rng.int(2))) {
        const entry = b.append(revoker, revokeOp({ device: rng.pick(known.filter(d => d !== revoker)).device }), parents, time)
        noteRevocation(b, devices, entry, revoked)
      }
      // Sometimes the words act concurrently with them (replacing themselves, say).
      if (words !== null && words.setting !== null && rng.chance(0.4)) wordsStep(rng, b, words, devices, parents)
      continue
    }
    noteRevocation(b, devices, b.append(author, nextPayload(rng, view, author, devices, founder, words), after, time), revoked)
  }
  return { params, founder, entries: b.log.entries, byHash: b.byHash, thefts, words, oldWordsThefts }
}
