import assert from 'node:assert/strict'
import { genesisOp, renameOp, revokeOp, rotateOp } from '../../acl/ops.ts'
import { buildCausalGraph, deviceList, initialState, reduce } from '../../acl/reducer.ts'
import type { AccountParams, AccountState, DeviceDescriptor, RegistryEntry } from '../../acl/types.ts'
import type { DeviceId, Mode } from '../../src/types.ts'
import {
  addPayload,
  DATA_LOG,
  fakeDeviceId,
  fakeKey,
  fakeLockbox,
  found,
  makeRng,
  paramsFor,
  persona,
  registry
} from './helpers.ts'
import type { Rng } from './helpers.ts'

const reasonFor = (state: AccountState, entry: RegistryEntry): string | undefined =>
  state.ignored.find(i => i.hash === entry.hash)?.reason

const assertIgnored = (state: AccountState, entry: RegistryEntry, reason: RegExp): void => {
  const found = reasonFor(state, entry)
  assert.ok(found !== undefined, `expected ${entry.hash} to be ignored; ignored: ${JSON.stringify(state.ignored)}`)
  assert.match(found, reason)
}

const assertCounts = (state: AccountState, entry: RegistryEntry): void => {
  assert.equal(reasonFor(state, entry), undefined, `expected ${entry.hash} to count`)
}

const names = (state: AccountState): string[] => deviceList(state).map(d => d.name)

describe('registry reducer', () => {
  describe('genesis', () => {
    it('an empty registry leaves the account uninitialized', () => {
      const { params } = found()
      const state = reduce(params, [])
      assert.deepEqual(state, initialState(params))
      assert.equal(state.initialized, false)
      assert.equal(state.epoch, null)
    })

    it("the laptop's genesis makes it the founding admin and starts epoch 0", () => {
      const { p, params, log, genesis } = found()
      const state = reduce(params, log.entries)
      assert.equal(state.initialized, true)
      assert.deepEqual(state.devices, {
        [p.laptop.device]: { ...p.laptop, role: 'admin', status: 'active', addedBy: null, admittedIn: genesis.hash, seniority: 0 }
      })
      const epoch0 = { epoch: 0, dataLog: DATA_LOG, lockboxes: (genesis.payload as { lockboxes: object }).lockboxes, startedIn: genesis.hash, startedBy: p.laptop.device, cut: [] }
      assert.deepEqual(state.epoch, epoch0)
      assert.deepEqual(state.epochs, [epoch0])
      assert.deepEqual(state.ignored, [])
      assert.deepEqual(state.params, params)
    })

    it('a genesis by anyone but the founder is ignored, even one naming the founder', () => {
      const { p, params } = found()
      const log = registry()
      const forged = log.append(p.thief, genesisOp({ mode: 'encrypted', founder: p.laptop, dataLog: DATA_LOG }), { after: [] })
      const own = log.append(p.thief, genesisOp({ mode: 'encrypted', founder: p.thief, dataLog: DATA_LOG }), { after: [] })
      const state = reduce(params, log.entries)
      assert.equal(state.initialized, false)
      assert.deepEqual(state.devices, {})
      assertIgnored(state, forged, /genesis must be authored by the founder/)
      assertIgnored(state, own, /genesis must be authored by the founder/)
    })

    it('a second genesis is ignored, whether later or concurrent', () => {
      const { p, params, log, genesis } = found()
      const later = log.append(p.laptop, genesisOp({ mode: 'encrypted', founder: p.laptop, dataLog: '/orbitdb/zdpuLater' }))
      const concurrent = log.append(p.laptop, genesisOp({ mode: 'encrypted', founder: p.laptop, dataLog: '/orbitdb/zdpuOther' }), { after: [], time: 5 })
      const state = reduce(params, log.entries)
      assert.equal(state.epoch?.startedIn, genesis.hash)
      assert.equal(state.epochs.length, 1)
      assertIgnored(state, later, /a genesis was already applied/)
      assertIgnored(state, concurrent, /a genesis was already applied/)
    })

    it('between concurrent genesis ops the earliest (clock time, then hash) wins', () => {
      const { p, params } = found()
      const log = registry()
      const b = log.append(p.laptop, genesisOp({ mode: 'encrypted', founder: p.laptop, dataLog: '/orbitdb/zdpuB' }), { after: [], time: 2 })
      const a = log.append(p.laptop, genesisOp({ mode: 'encrypted', founder: p.laptop, dataLog: '/orbitdb/zdpuA' }), { after: [], time: 1 })
      const state = reduce(params, log.entries)
      assert.equal(state.epoch?.startedIn, a.hash)
      assertIgnored(state, b, /already applied/)
    })

    it('a genesis with the wrong signing key, founder descriptor or mode is ignored', () => {
      const { p, params } = found()
      const log = registry()
      const wrongKey = log.append(p.laptop, genesisOp({ mode: 'encrypted', founder: { ...p.laptop, signingKey: p.thief.signingKey }, dataLog: DATA_LOG }), { after: [] })
      const wrongDevice = log.append(p.laptop, genesisOp({ mode: 'encrypted', founder: p.thief, dataLog: DATA_LOG }), { after: [] })
      const wrongMode = log.append(p.laptop, genesisOp({ mode: 'public', founder: p.laptop, dataLog: DATA_LOG }), { after: [] })
      const state = reduce(params, log.entries)
      assert.equal(state.initialized, false)
      assertIgnored(state, wrongKey, /signing key does not match/)
      assertIgnored(state, wrongDevice, /is not the account founder/)
      assertIgnored(state, wrongMode, /mode public does not match the account mode encrypted/)
    })

    it('ops without the genesis in their causal past are ignored, even by the founder', () => {
      const { p, params, log } = found()
      const detached = log.append(p.laptop, addPayload(p.phone, 'admin'), { after: [] })
      const state = reduce(params, log.entries)
      assertIgnored(state, detached, /no valid genesis in the causal past/)
      assert.equal(state.devices[p.phone.device], undefined)
    })
  })

  describe('add', () => {
    it('the admin laptop adds the phone as a member', () => {
      const { p, params, log } = found()
      const add = log.append(p.laptop, addPayload(p.phone, 'member'))
      const state = reduce(params, log.entries)
      assertCounts(state, add)
      assert.deepEqual(state.devices[p.phone.device], {
        ...p.phone, role: 'member', status: 'active', addedBy: p.laptop.device, admittedIn: add.hash, seniority: 1
      })
      assert.deepEqual(state.addedLockboxes, { 0: { [p.phone.device]: (add.payload as { lockbox: string }).lockbox } })
    })

    it('in public mode no lockbox is recorded', () => {
      const { p, params, log } = found('public')
      log.append(p.laptop, { type: 'add', v: 1, device: p.phone, role: 'member', epoch: 0, lockbox: '' })
      const state = reduce(params, log.entries)
      assert.equal(state.devices[p.phone.device]?.role, 'member')
      assert.deepEqual(state.addedLockboxes, {})
    })

    it('an admin phone may add the tablet; seniority follows the order of admission', () => {
      const { p, params, log } = found()
      log.append(p.laptop, addPayload(p.phone, 'admin'))
      const add = log.append(p.phone, addPayload(p.tablet, 'member'))
      const state = reduce(params, log.entries)
      assertCounts(state, add)
      assert.deepEqual(deviceList(state).map(d => [d.name, d.seniority, d.addedBy]), [
        ['laptop', 0, null], ['phone', 1, p.laptop.device], ['tablet', 2, p.phone.device]
      ])
    })

    it('a member phone cannot add the tablet', () => {
      const { p, params, log } = found()
      log.append(p.laptop, addPayload(p.phone, 'member'))
      const add = log.append(p.phone, addPayload(p.tablet, 'admin'))
      const state = reduce(params, log.entries)
      assertIgnored(state, add, /only an admin may add devices/)
      assert.equal(state.devices[p.tablet.device], undefined)
    })

    it('an add by a device admitted only concurrently is ignored', () => {
      const { p, params, log, genesis } = found()
      log.append(p.laptop, addPayload(p.phone, 'admin'), { after: [genesis.hash] })
      // The phone acts on a branch that does not contain its own admission.
      const add = log.append(p.phone, addPayload(p.tablet, 'member'), { after: [genesis.hash], time: 9 })
      const state = reduce(params, log.entries)
      assertIgnored(state, add, /was not admitted in the causal past of this op/)
      assert.equal(state.devices[p.tablet.device], undefined)
    })

    it('an admitted admin cannot backdate an op by pointing at heads older than its admission', () => {
      const { p, params, log, genesis } = found()
      log.append(p.laptop, addPayload(p.phone, 'member'))
      log.append(p.laptop, addPayload(p.tablet, 'admin'))
      // A late clock time puts it after the tablet's admission in application order...
      const backdated = log.append(p.tablet, addPayload(p.thief, 'admin'), { after: [genesis.hash], time: 10 })
      const state = reduce(params, log.entries)
      // ...but the admission is not in its causal past.
      assertIgnored(state, backdated, /was not admitted in the causal past/)
      assert.equal(state.devices[p.thief.device], undefined)
    })

    it('an op by a thief who was never admitted is ignored', () => {
      const { p, params, log } = found()
      const add = log.append(p.thief, addPayload(p.thief, 'admin'))
      const rename = log.append(p.thief, renameOp({ device: p.laptop.device, name: 'pwned' }))
      const state = reduce(params, log.entries)
      assertIgnored(state, add, /author d[a-z2-7]{24} is not a device of this account/)
      assertIgnored(state, rename, /is not a device of this account/)
      assert.deepEqual(names(state), ['laptop'])
    })

    it('re-adding a known device (or the founder) is ignored', () => {
      const { p, params, log } = found()
      log.append(p.laptop, addPayload(p.phone, 'member'))
      const again = log.append(p.laptop, addPayload({ ...p.phone, name: 'phone again' }, 'admin'))
      const founder = log.append(p.laptop, addPayload(p.laptop, 'member'))
      const state = reduce(params, log.entries)
      assertIgnored(state, again, /device d[a-z2-7]{24} is already known/)
      assertIgnored(state, founder, /is already known/)
      assert.deepEqual(deviceList(state).map(d => [d.name, d.role]), [['laptop', 'admin'], ['phone', 'member']])
    })

    it('concurrent adds of the phone: the first in (time, hash) order admits it, the other is ignored', () => {
      const { p, params, log } = found()
      log.append(p.laptop, addPayload(p.tablet, 'admin'))
      const heads = log.heads()
      const byTablet = log.append(p.tablet, addPayload(p.phone, 'member'), { after: heads })
      const byLaptop = log.append(p.laptop, addPayload(p.phone, 'admin'), { after: heads })
      const state = reduce(params, log.entries)
      // Same clock time: 'h3' < 'h4'.
      assertCounts(state, byTablet)
      assertIgnored(state, byLaptop, /already known/)
      assert.equal(state.devices[p.phone.device]?.addedBy, p.tablet.device)
    })

    it('an add for an epoch not started in its causal past is ignored', () => {
      const { p, params, log } = found()
      const add = log.append(p.laptop, addPayload(p.phone, 'member', 3))
      const state = reduce(params, log.entries)
      assertIgnored(state, add, /epoch 3 was not started in the causal past/)
      assert.deepEqual(state.addedLockboxes, {})
    })
  })

  describe('rename', () => {
    it('the phone renames itself', () => {
      const { p, params, log } = found()
      log.append(p.laptop, addPayload(p.phone, 'member'))
      const rename = log.append(p.phone, renameOp({ device: p.phone.device, name: 'Pixel' }))
      const state = reduce(params, log.entries)
      assertCounts(state, rename)
      assert.deepEqual(names(state), ['laptop', 'Pixel'])
    })

    it('a member phone cannot rename the tablet, the admin laptop can', () => {
      const { p, params, log } = found()
      log.append(p.laptop, addPayload(p.phone, 'member'))
      log.append(p.laptop, addPayload(p.tablet, 'member'))
      const byPhone = log.append(p.phone, renameOp({ device: p.tablet.device, name: 'junk' }))
      const byLaptop = log.append(p.laptop, renameOp({ device: p.tablet.device, name: 'iPad' }))
      const state = reduce(params, log.entries)
      assertIgnored(state, byPhone, /only an admin may rename another device/)
      assertCounts(state, byLaptop)
      assert.deepEqual(names(state), ['laptop', 'phone', 'iPad'])
    })

    it('renaming an unknown device is ignored; the last rename in causal order wins', () => {
      const { p, params, log } = found()
      const unknown = log.append(p.laptop, renameOp({ device: p.thief.device, name: 'x' }))
      log.append(p.laptop, renameOp({ device: p.laptop.device, name: 'first' }))
      log.append(p.laptop, renameOp({ device: p.laptop.device, name: 'second' }))
      const state = reduce(params, log.entries)
      assertIgnored(state, unknown, /device d[a-z2-7]{24} is not known/)
      assert.deepEqual(names(state), ['second'])
    })
  })

  describe('revoke and rotate (full specs in revocation.test.ts)', () => {
    it('the laptop revokes the phone and rotates to epoch 1 without it', () => {
      const { p, params, log } = found()
      log.append(p.laptop, addPayload(p.phone, 'member'))
      const revoke = log.append(p.laptop, revokeOp({ device: p.phone.device }))
      const rotate = log.append(p.laptop, rotateOp({ epoch: 1, dataLog: '/orbitdb/zdpuEpoch1', lockboxes: { [p.laptop.device]: fakeLockbox(makeRng(2)) }, cut: ['h2'] }))
      const state = reduce(params, log.entries)
      assertCounts(state, revoke)
      assertCounts(state, rotate)
      assert.equal(state.devices[p.phone.device]?.status, 'revoked')
      assert.equal(state.epoch?.epoch, 1)
      assert.equal(state.needsRotation, false)
    })

    it("a thief's revoke is refused for its author first", () => {
      const { p, params, log } = found()
      const revoke = log.append(p.thief, revokeOp({ device: p.laptop.device }))
      assertIgnored(reduce(params, log.entries), revoke, /is not a device of this account/)
    })
  })

  describe('untrusted content', () => {
    it('malformed payloads are ignored with the reason and never throw', () => {
      const { p, params, log } = found()
      const nested: Record<string, unknown> = {}
      let deep = nested
      for (let i = 0; i < 10_000; i++) { const inner = {}; deep.x = inner; deep = inner }
      const cyclic: Record<string, unknown> = { type: 'add', v: 1 }
      cyclic.device = cyclic
      const proxy = new Proxy({}, { ownKeys: () => { throw new Error('trap') } })
      const bad: unknown[] = [
        null, undefined, 0, 'add', [], [addPayload(p.phone, 'admin')], {}, { type: 'promote', v: 1 },
        { ...(addPayload(p.phone, 'admin') as object), v: 2 },
        { ...(addPayload(p.phone, 'admin') as object), role: 'root' },
        { ...(addPayload(p.phone, 'admin') as object), extra: 1 },
        { type: 'rename', v: 1, device: p.laptop.device, name: 'x'.repeat(5_000_000) },
        JSON.parse(`{"type":"revoke","v":1,"device":"${p.phone.device}","__proto__":{}}`),
        nested, cyclic, proxy, new Date(0), () => 1, Symbol('op'), 10n
      ]
      const entries = bad.map(payload => log.append(p.laptop, payload))
      const good = log.append(p.laptop, addPayload(p.phone, 'member'))
      let state: AccountState | undefined
      assert.doesNotThrow(() => { state = reduce(params, log.entries) })
      assert.ok(state !== undefined)
      for (const entry of entries) assertIgnored(state, entry, /invalid registry op|trap/)
      assertCounts(state, good)
      assert.deepEqual(names(state), ['laptop', 'phone'])
    })

    it('malformed entries are ignored, never thrown on', () => {
      const { p, params, log } = found()
      const junk = [
        null, 7, { hash: 5, author: p.laptop.device, next: [], clock: { id: 'x', time: 1 }, payload: {} },
        { hash: 'j2', author: p.laptop.device, next: 'h1', clock: { id: 'x', time: 1 }, payload: {} },
        { hash: 'j3', author: p.laptop.device, next: [1], clock: { id: 'x', time: 1 }, payload: {} },
        { hash: 'j4', author: p.laptop.device, next: [], clock: { id: 'x', time: NaN }, payload: {} },
        { hash: 'j5', author: null, next: [], clock: null, payload: {} }
      ] as unknown as RegistryEntry[]
      const good = log.append(p.laptop, addPayload(p.phone, 'member'))
      const state = reduce(params, [...junk, ...log.entries])
      assertCounts(state, good)
      assert.deepEqual(names(state), ['laptop', 'phone'])
      assert.ok(state.ignored.filter(i => /malformed entry/.test(i.reason)).length >= 5)
    })

    it('entries whose parents are missing do not crash; missing parents are simply unknown', () => {
      const { p, params, log, genesis } = found()
      const orphan = log.append(p.laptop, addPayload(p.tablet, 'member'), { after: ['h404'] })
      const halfKnown = log.append(p.laptop, addPayload(p.phone, 'member'), { after: [genesis.hash, 'h405'] })
      const state = reduce(params, log.entries)
      assertIgnored(state, orphan, /no valid genesis/)
      assertCounts(state, halfKnown)
      // Without the genesis itself everything is unknown, and still nothing throws.
      const headless = reduce(params, log.entries.slice(1))
      assert.equal(headless.initialized, false)
      assert.equal(headless.ignored.length, 2)
    })

    it('causal cycles and conflicting contents under one hash are ignored', () => {
      const { p, params, log, genesis } = found()
      const cycle = [
        { hash: 'c1', author: p.laptop.device, next: ['c2', genesis.hash], clock: { id: 'x', time: 2 }, payload: addPayload(p.phone, 'admin') },
        { hash: 'c2', author: p.laptop.device, next: ['c1'], clock: { id: 'x', time: 3 }, payload: addPayload(p.tablet, 'admin') },
        { hash: 'c3', author: p.laptop.device, next: ['c3'], clock: { id: 'x', time: 3 }, payload: addPayload(p.tablet, 'admin') }
      ] as RegistryEntry[]
      const add = log.append(p.laptop, addPayload(p.phone, 'member'))
      const forged = { ...add, payload: addPayload(p.phone, 'admin') }
      const state = reduce(params, [...log.entries, ...cycle, forged])
      assert.deepEqual(names(state), ['laptop'])
      assertIgnored(state, add, /conflicting entries share this hash/)
      for (const entry of cycle) assertIgnored(state, entry, /causal cycle/)
    })

    it('every ignored op carries a reason', () => {
      const { p, params, log } = found()
      log.append(p.thief, addPayload(p.thief, 'admin'))
      log.append(p.laptop, 'junk')
      log.append(p.laptop, revokeOp({ device: p.thief.device }))
      const state = reduce(params, log.entries)
      assert.equal(state.ignored.length, 3)
      for (const { reason } of state.ignored) assert.ok(reason.length > 10, reason)
    })

    it('invalid params are a programming error', () => {
      const { p } = found()
      assert.throws(() => reduce({ ...paramsFor(p.laptop), founder: 'laptop' as DeviceId }, []), /params.founder/)
      assert.throws(() => reduce({ ...paramsFor(p.laptop), mode: 'secret' as Mode }, []), /params.mode/)
    })
  })

  describe('causal graph', () => {
    it('answers ancestry questions, strictly', () => {
      const { p, log, genesis } = found()
      const a = log.append(p.laptop, 'a')
      const b = log.append(p.laptop, 'b', { after: [genesis.hash] })
      const c = log.append(p.laptop, 'c', { after: [a.hash, b.hash] })
      const graph = buildCausalGraph(log.entries)
      assert.ok(graph.isAncestor(genesis.hash, c.hash))
      assert.ok(graph.isAncestor(a.hash, c.hash))
      assert.ok(!graph.isAncestor(a.hash, b.hash))
      assert.ok(!graph.isAncestor(c.hash, a.hash))
      assert.ok(!graph.isAncestor(c.hash, c.hash))
      assert.ok(!graph.isAncestor('nope', c.hash))
      assert.deepEqual(graph.order.map(e => e.hash), [genesis.hash, a.hash, b.hash, c.hash])
    })
  })

  describe('order independence', () => {
    it('duplicated entries count once', () => {
      const { p, params, log } = found()
      log.append(p.laptop, addPayload(p.phone, 'member'))
      log.append(p.phone, renameOp({ device: p.phone.device, name: 'Pixel' }))
      const once = reduce(params, log.entries)
      const copies = log.entries.map(e => structuredClone(e))
      assert.deepEqual(reduce(params, [...log.entries, ...copies, ...log.entries].reverse()), once)
    })

    it('random histories reduce to the same state in any order, with duplicates', function () {
      this.timeout(120_000)
      const rng = makeRng(0x5eed)
      const stats = { histories: 0, withMembers: 0, withBackdating: 0, withRenames: 0, malformed: 0 }
      for (let run = 0; run < 300; run++) {
        const { params, entries } = randomHistory(rng)
        const expected = reduce(params, entries)
        checkInvariants(expected, entries)
        for (let k = 0; k < 4; k++) {
          const dupes = Array.from({ length: rng.int(6) }, () => structuredClone(rng.pick(entries)))
          const shuffled = rng.shuffle([...entries, ...dupes])
          assert.deepStrictEqual(reduce(params, shuffled), expected, `history ${run}, permutation ${k}`)
        }
        stats.histories++
        if (Object.keys(expected.devices).length > 2) stats.withMembers++
        if (expected.ignored.some(i => /not admitted in the causal past/.test(i.reason))) stats.withBackdating++
        if (deviceList(expected).some(d => d.name.startsWith('renamed'))) stats.withRenames++
        if (expected.ignored.some(i => /invalid registry op/.test(i.reason))) stats.malformed++
      }
      // The generator must exercise the interesting paths, not just produce noise.
      assert.ok(stats.withMembers > 60, JSON.stringify(stats))
      assert.ok(stats.withBackdating > 50, JSON.stringify(stats))
      assert.ok(stats.withRenames > 50, JSON.stringify(stats))
      assert.ok(stats.malformed > 50, JSON.stringify(stats))
    })
  })
})

// ---------------------------------------------------------------------------------------
// Random histories

const randomDevice = (rng: Rng, i: number): DeviceDescriptor =>
  ({ device: fakeDeviceId(rng), name: `device ${i}`, signingKey: fakeKey(rng), boxKey: fakeKey(rng) })

const randomPayload = (rng: Rng, devices: readonly DeviceDescriptor[], founder: DeviceDescriptor): unknown => {
  const target = rng.pick(devices)
  const roll = rng.int(100)
  if (roll < 35) return addPayload(target, rng.chance(0.6) ? 'admin' : 'member', rng.chance(0.9) ? 0 : 1)
  if (roll < 55) return renameOp({ device: target.device, name: `renamed ${rng.int(1000)}` })
  if (roll < 62) return genesisOp({ mode: rng.chance(0.8) ? 'encrypted' : 'private', founder: rng.chance(0.7) ? founder : target, dataLog: `/orbitdb/zdpu${rng.int(1000)}` })
  if (roll < 68) return revokeOp({ device: target.device })
  if (roll < 74) return rotateOp({ epoch: 1, dataLog: '/orbitdb/zdpuNext', lockboxes: { [target.device]: fakeLockbox(rng) }, cut: [`h${rng.int(9) + 1}`] })
  return rng.pick<unknown>([
    null, 'add', [], {}, { type: 'add', v: 1 }, { type: 'rename', v: 1, device: target.device, name: '' },
    { ...(addPayload(target, 'admin') as object), v: 2 }, { type: 'revoke', v: 1, device: 'nobody' },
    JSON.parse('{"type":"rename","v":1,"__proto__":{"device":"x"}}')
  ])
}

const randomHistory = (rng: Rng): { params: AccountParams, entries: RegistryEntry[] } => {
  const devices = Array.from({ length: 3 + rng.int(3) }, (_, i) => randomDevice(rng, i))
  const founder = devices[0] as DeviceDescriptor
  const outsider = persona(`outsider ${rng.int(1e9)}`)
  const log = registry()
  // Usually the founder starts the log; sometimes someone else gets there first.
  if (rng.chance(0.15)) log.append(rng.pick(devices), genesisOp({ mode: 'encrypted', founder, dataLog: DATA_LOG }), { after: [] })
  log.append(founder, genesisOp({ mode: 'encrypted', founder, dataLog: DATA_LOG }), { after: [] })
  const steps = 5 + rng.int(40)
  for (let s = 0; s < steps; s++) {
    const author = rng.chance(0.05) ? outsider : rng.pick(devices)
    const hashes = log.entries.map(e => e.hash)
    const shape = rng.int(10)
    const after = shape < 4
      ? undefined // the current heads
      : shape < 9
        ? [...new Set(Array.from({ length: 1 + rng.int(3) }, () => rng.pick(hashes)))]
        : rng.chance(0.5) ? [] : ['h-missing']
    const time = rng.chance(0.2) ? rng.int(40) : undefined
    log.append(author, randomPayload(rng, devices, founder), { after, time })
  }
  return { params: paramsFor(founder), entries: log.entries }
}

const checkInvariants = (state: AccountState, entries: readonly RegistryEntry[]): void => {
  const hashes = new Set(entries.map(e => e.hash))
  const list = deviceList(state)
  assert.deepEqual(list.map(d => d.seniority), list.map((_, i) => i))
  for (const d of list) {
    assert.ok(hashes.has(d.admittedIn))
    if (d.addedBy !== null) assert.ok((state.devices[d.addedBy]?.seniority ?? Infinity) < d.seniority)
  }
  assert.equal(new Set(state.ignored.map(i => i.hash)).size, state.ignored.length)
  for (const i of state.ignored) assert.ok(hashes.has(i.hash) && i.reason.length > 0)
  assert.equal(state.initialized, list.length > 0)
}
