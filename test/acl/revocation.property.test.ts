/**
 * Property test: generated histories of adds, revokes, rotations, renames and garbage
 * across 3-5 devices, each device acting on the view it had (random causal parents:
 * up to date, stale, concurrent or back-dated), reduced in random orders with duplicates.
 */
import assert from 'node:assert/strict'
import { genesisOp, renameOp, revokeOp, rotateOp } from '../../acl/ops.ts'
import { buildCausalGraph, deviceList, reduce } from '../../acl/reducer.ts'
import type { AccountParams, AccountState, DeviceDescriptor, RegistryEntry } from '../../acl/types.ts'
import { addPayload, DATA_LOG, fakeDeviceId, fakeKey, fakeLockbox, makeRng, paramsFor, persona, registry } from './helpers.ts'
import type { Rng } from './helpers.ts'

const HISTORIES = 1200
const ORDERS = 3

interface History {
  params: AccountParams
  founder: DeviceDescriptor
  entries: RegistryEntry[]
}

const randomDevice = (rng: Rng, i: number): DeviceDescriptor =>
  ({ device: fakeDeviceId(rng), name: `device ${i}`, signingKey: fakeKey(rng), boxKey: fakeKey(rng) })

/** The entries in the causal past of `heads`, inclusive. */
const pastOf = (byHash: ReadonlyMap<string, RegistryEntry>, heads: readonly string[]): RegistryEntry[] => {
  const seen = new Set<string>()
  const stack = [...heads]
  const out: RegistryEntry[] = []
  for (let hash = stack.pop(); hash !== undefined; hash = stack.pop()) {
    const entry = byHash.get(hash)
    if (seen.has(hash) || entry === undefined) continue
    seen.add(hash)
    out.push(entry)
    stack.push(...entry.next)
  }
  return out
}

const highestEpoch = (view: AccountState): number =>
  Math.max(0, ...view.epochs.map(e => e.epoch), ...view.supersededEpochs.map(e => e.epoch))

/** What `author` appends, knowing `view` (the state of its causal past): mostly honest, sometimes not. */
const nextPayload = (rng: Rng, view: AccountState, author: DeviceDescriptor, devices: readonly DeviceDescriptor[], founder: DeviceDescriptor): unknown => {
  const known = devices.filter(d => view.devices[d.device] !== undefined)
  const active = devices.filter(d => view.devices[d.device]?.status === 'active')
  const roll = rng.int(100)
  if (roll < 24) {
    const fresh = devices.filter(d => view.devices[d.device] === undefined)
    const target = fresh.length > 0 && rng.chance(0.85) ? rng.pick(fresh) : rng.pick(devices)
    const epoch = rng.chance(0.85) ? view.epoch?.epoch ?? 0 : rng.int(4)
    return addPayload(target, rng.chance(0.6) ? 'admin' : 'member', epoch)
  }
  if (roll < 46) {
    const target = rng.chance(0.15) ? author : rng.chance(0.15) ? founder : rng.pick(known.length > 0 ? known : devices)
    return revokeOp({ device: target.device })
  }
  if (roll < 66) {
    const epoch = rng.chance(0.88) ? highestEpoch(view) + 1 : rng.int(4)
    // Honest rotations give keys to the active devices; some also to revoked or unknown ones.
    const roll = rng.int(100)
    const holders = roll < 75 ? active : roll < 90 ? known : rng.shuffle(devices).slice(0, 1 + rng.int(devices.length))
    const lockboxes = Object.fromEntries(holders.map(d => [d.device, fakeLockbox(rng)]))
    return rotateOp({ epoch, dataLog: `/orbitdb/zdpuEpoch${epoch}x${rng.int(1e6)}`, lockboxes, cut: [`c${rng.int(50)}`] })
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

const randomHistory = (rng: Rng): History => {
  const devices = Array.from({ length: 3 + rng.int(3) }, (_, i) => randomDevice(rng, i))
  const founder = devices[0] as DeviceDescriptor
  const params = paramsFor(founder)
  const outsider = persona(`outsider ${rng.int(1e9)}`)
  const log = registry()
  const byHash = new Map<string, RegistryEntry>()
  const append = (author: DeviceDescriptor, payload: unknown, after?: readonly string[], time?: number): void => {
    const entry = log.append(author, payload, { after, time })
    byHash.set(entry.hash, entry)
  }
  append(founder, genesisOp({ mode: 'encrypted', founder, dataLog: DATA_LOG, lockboxes: { [founder.device]: fakeLockbox(rng) } }), [])
  // Early on, admit a few devices so that there is someone to revoke.
  for (const d of devices.slice(1)) {
    if (rng.chance(0.8)) append(founder, addPayload(d, rng.chance(0.7) ? 'admin' : 'member'))
  }
  const steps = 6 + rng.int(22)
  for (let s = 0; s < steps; s++) {
    const author = rng.chance(0.03) ? outsider : rng.pick(devices)
    const hashes = log.entries.map(e => e.hash)
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
    const view = reduce(params, pastOf(byHash, after ?? log.heads()))
    if (rng.chance(0.08) && Object.keys(view.devices).length >= 2) {
      // A burst of concurrent revocations by different devices: mutual revocations, cycles.
      const parents = after ?? log.heads()
      const known = devices.filter(d => view.devices[d.device] !== undefined)
      for (const revoker of rng.shuffle(known).slice(0, 2 + rng.int(2))) {
        append(revoker, revokeOp({ device: rng.pick(known.filter(d => d !== revoker)).device }), parents, time)
      }
      continue
    }
    append(author, nextPayload(rng, view, author, devices, founder), after, time)
  }
  return { params, founder, entries: log.entries }
}

const ancestry = (entries: readonly RegistryEntry[]): ((a: string, b: string) => boolean) => {
  const graph = buildCausalGraph(entries)
  return (a, b) => a === b || graph.isAncestor(a, b)
}

const checkInvariants = (state: AccountState, history: History): void => {
  const { entries } = history
  const inPast = ancestry(entries)
  const ignored = new Map(state.ignored.map(i => [i.hash, i.reason]))
  assert.equal(ignored.size, state.ignored.length, 'each ignored op is listed once')
  for (const { reason } of state.ignored) assert.ok(reason.length > 0)
  const list = deviceList(state)
  assert.deepEqual(list.map(d => d.seniority), list.map((_, i) => i))

  // Epochs: 0..n, one winner each, the current one last.
  assert.deepEqual(state.epochs.map(e => e.epoch), state.epochs.map((_, i) => i))
  assert.equal(state.epoch, state.epochs[state.epochs.length - 1] ?? null)
  for (const lost of state.supersededEpochs) assert.match(ignored.get(lost.startedIn) ?? '', /^concurrent rotation lost to /)
  assert.equal(state.needsRotation, state.rotationReason !== null)

  for (const d of list) {
    if (d.status !== 'revoked') continue
    const revokedIn = d.revokedIn ?? assert.fail(`${d.device} is revoked without revokedIn`)
    // Revoked by an admin or by itself.
    assert.ok(d.revokedBy === d.device || state.devices[d.revokedBy ?? '']?.role === 'admin')
    // No op of a revoked device outside its revocation's causal past is applied.
    for (const e of entries) {
      if (e.author === d.device && !ignored.has(e.hash)) {
        assert.ok(inPast(e.hash, revokedIn), `${e.hash} of revoked ${d.device} applied outside ${revokedIn}'s causal past`)
      }
    }
    // No counted epoch gives a key to a device revoked in its causal past.
    for (const epoch of [...state.epochs, ...state.supersededEpochs]) {
      if (Object.hasOwn(epoch.lockboxes, d.device)) {
        assert.ok(!inPast(revokedIn, epoch.startedIn), `epoch ${epoch.epoch} (${epoch.startedIn}) gives a key to ${d.device}, revoked in its causal past`)
      }
    }
  }
  // A device only has a lockbox from an add that counts.
  for (const boxes of Object.values(state.addedLockboxes)) {
    for (const device of Object.keys(boxes)) assert.ok(state.devices[device] !== undefined)
  }
}

describe('revocation: generated histories', () => {
  it(`${HISTORIES} histories reduce to the same state in ${ORDERS} random orders with duplicates, and keep the invariants`, function () {
    this.timeout(60_000)
    const rng = makeRng(0xacce55)
    const stats = { revoked: 0, voided: 0, conflicts: 0, cycles: 0, founderRevoked: 0, rotated: 0, superseded: 0, leakyRotation: 0, needsRotation: 0, keyless: 0 }
    for (let run = 0; run < HISTORIES; run++) {
      const history = randomHistory(rng)
      const { params, entries, founder } = history
      const expected = reduce(params, entries)
      checkInvariants(expected, history)
      for (let k = 0; k < ORDERS; k++) {
        const dupes = Array.from({ length: rng.int(5) }, () => structuredClone(rng.pick(entries)))
        assert.deepStrictEqual(reduce(params, rng.shuffle([...entries, ...dupes])), expected, `history ${run}, order ${k}`)
      }
      const reasons = expected.ignored.map(i => i.reason)
      const count = (re: RegExp): number => reasons.some(r => re.test(r)) ? 1 : 0
      stats.revoked += deviceList(expected).some(d => d.status === 'revoked') ? 1 : 0
      stats.voided += count(/^voided by revocation/)
      const revokes = new Set(entries.filter(e => (e.payload as { type?: unknown } | null)?.type === 'revoke').map(e => e.hash))
      stats.conflicts += expected.ignored.some(i => revokes.has(i.hash) && /^voided by revocation|^concurrent revocation conflict/.test(i.reason)) ? 1 : 0
      stats.cycles += count(/^concurrent revocation conflict lost/)
      stats.founderRevoked += expected.devices[founder.device]?.status === 'revoked' ? 1 : 0
      stats.rotated += (expected.epoch?.epoch ?? 0) > 0 ? 1 : 0
      stats.superseded += expected.supersededEpochs.length > 0 ? 1 : 0
      stats.leakyRotation += count(/rotation gives a key to device/)
      stats.needsRotation += expected.needsRotation ? 1 : 0
      stats.keyless += /has no lockbox/.test(expected.rotationReason ?? '') ? 1 : 0
    }
    // The generator must reach the interesting paths, not just produce noise.
    for (const [name, n] of Object.entries(stats)) {
      assert.ok(n > (name === 'cycles' ? 3 : HISTORIES / 25), `${name}: ${JSON.stringify(stats)}`)
    }
  })
})
