/**
 * Property test: generated histories (test/acl/histories.ts), with back-dated ops by
 * revoked devices, reduced in random orders with duplicates and checked against the
 * registry rules: revocations are final, judged on their own causal past alone.
 * Every failure names its history: HISTORY=<n> runs that one alone (same seed).
 */
import assert from 'node:assert/strict'
import { parseOp } from '../../acl/ops.ts'
import { buildCausalGraph, deviceList, lockboxFor, reduce } from '../../acl/reducer.ts'
import type { AccountState, RegistryEntry } from '../../acl/types.ts'
import type { DeviceId } from '../../src/types.ts'
import { makeRng, pastOf } from './helpers.ts'
import type { Rng } from './helpers.ts'
import { randomHistory } from './histories.ts'
import type { History } from './histories.ts'

const HISTORIES = 1200
const ORDERS = 3
const PREFIXES = 3
const SEED = 0xacce55

/** The device a well-formed revoke op names, or undefined for any other entry. */
const revokeTarget = (entry: RegistryEntry): DeviceId | undefined => {
  try {
    const op = parseOp(entry.payload)
    return op.type === 'revoke' ? op.device : undefined
  } catch {
    return undefined
  }
}

/** What one reduced state says about a history: which revocations count, and ancestry. */
interface Judged {
  state: AccountState
  ignored: Map<string, string>
  /** Counted revocations by the device they name. */
  revocations: Map<DeviceId, string[]>
  isAncestor: (a: string, b: string) => boolean
}

const judge = (state: AccountState, entries: readonly RegistryEntry[]): Judged => {
  const ignored = new Map(state.ignored.map(i => [i.hash, i.reason]))
  const revocations = new Map<DeviceId, string[]>()
  for (const e of entries) {
    const target = revokeTarget(e)
    if (target !== undefined && !ignored.has(e.hash)) revocations.set(target, [...revocations.get(target) ?? [], e.hash])
  }
  const graph = buildCausalGraph(entries)
  return { state, ignored, revocations, isAncestor: (a, b) => graph.isAncestor(a, b) }
}

/** The shape of a state: epochs 0..n, one winner each; seniority 0..n-1; reasons given. */
const checkStructure = ({ state, ignored }: Judged): void => {
  assert.equal(ignored.size, state.ignored.length, 'each ignored op is listed once')
  for (const { reason } of state.ignored) assert.ok(reason.length > 0)
  const list = deviceList(state)
  assert.deepEqual(list.map(d => d.seniority), list.map((_, i) => i))
  assert.deepEqual(state.epochs.map(e => e.epoch), state.epochs.map((_, i) => i))
  assert.equal(state.epoch, state.epochs[state.epochs.length - 1] ?? null)
  for (const lost of state.supersededEpochs) assert.ok(ignored.has(lost.startedIn), `superseded ${lost.startedIn} counts`)
  assert.equal(state.needsRotation, state.rotationReason !== null)
  // A key of the current epoch that reached a device no longer active calls for a new rotation.
  const current = state.epoch?.epoch ?? 0
  const leaked = Object.values(state.devices).find(d => d.status !== 'active' && lockboxFor(state, current, d.device) !== undefined)
  assert.ok(leaked === undefined || state.needsRotation, `${leaked?.device} holds the key of the current epoch ${current}, and no rotation is called for`)
}

/**
 * (b) A device named by a counted revocation is never active, and holds no key of an
 * epoch whose rotation had that revocation in its causal past; rule 4: its other ops
 * count only in the causal past of every counted revocation naming it.
 */
const checkRevoked = (j: Judged, entries: readonly RegistryEntry[]): void => {
  const { state, ignored, revocations, isAncestor } = j
  for (const d of deviceList(state).filter(d => d.status === 'revoked')) {
    assert.ok(revocations.get(d.device)?.includes(d.revokedIn ?? ''), `${d.device} revoked by ${d.revokedIn}, which does not count`)
  }
  for (const [device, revs] of revocations) {
    assert.notEqual(state.devices[device]?.status, 'active', `${device} is active, revoked by ${revs.join(', ')}`)
    const after = (startedIn: string): string | undefined => revs.find(r => isAncestor(r, startedIn))
    for (const epoch of state.epochs) {
      const r = after(epoch.startedIn)
      assert.ok(r === undefined || lockboxFor(state, epoch.epoch, device) === undefined,
        `${device} holds a key of epoch ${epoch.epoch} (${epoch.startedIn}), which has its revocation ${r} in its causal past`)
    }
    for (const epoch of state.supersededEpochs) {
      const r = after(epoch.startedIn)
      assert.ok(r === undefined || !Object.hasOwn(epoch.lockboxes, device),
        `${device} holds a key of superseded epoch ${epoch.epoch} (${epoch.startedIn}), which has its revocation ${r} in its causal past`)
    }
    for (const e of entries) {
      if (e.author !== device || revokeTarget(e) !== undefined || ignored.has(e.hash)) continue
      const r = revs.find(r => !isAncestor(e.hash, r))
      assert.equal(r, undefined, `${e.hash} of ${device} counts outside the causal past of its revocation ${r}`)
    }
  }
}

/** Rules 2, 5 and 7: every other op that counts has an admitted author, with the role it needs. */
const checkAuthority = ({ state, ignored, isAncestor }: Judged, entries: readonly RegistryEntry[]): void => {
  for (const e of entries) {
    if (ignored.has(e.hash)) continue
    const op = parseOp(e.payload)
    if (op.type !== 'add' && op.type !== 'rename' && op.type !== 'rotate') continue
    const author = state.devices[e.author]
    assert.ok(author !== undefined && isAncestor(author.admittedIn, e.hash), `${op.type} ${e.hash} counts, but its author ${e.author} was not admitted before it`)
    if (op.type === 'add') {
      assert.equal(author.role, 'admin', `add ${e.hash} counts, by a ${author.role}`)
      assert.equal(state.devices[op.device.device]?.admittedIn, e.hash, `add ${e.hash} counts, but does not admit ${op.device.device}`)
    }
    if (op.type === 'rename') assert.ok(op.device === e.author || author.role === 'admin', `rename ${e.hash} of another device by a member counts`)
  }
}

/** Rule 3: a revocation counts iff it is valid on the state of its own causal past alone. */
const checkRevocationsOnTheirPast = (j: Judged, history: History): void => {
  for (const e of history.entries) {
    const target = revokeTarget(e)
    if (target === undefined) continue
    const past = reduce(history.params, pastOf(history.byHash, e.next))
    const author = past.devices[e.author]
    const valid = past.initialized && author?.status === 'active' && (e.author === target || author.role === 'admin') &&
      past.devices[target]?.status === 'active'
    assert.equal(!j.ignored.has(e.hash), valid, `revocation ${e.hash} of ${target}: valid on its past ${valid}, ignored: ${j.ignored.get(e.hash)}`)
  }
}

/** (c) Finality: a revocation that counts in a causally closed prefix counts in the whole. */
const checkFinality = (rng: Rng, j: Judged, history: History): number => {
  let nontrivial = 0
  for (let k = 0; k < PREFIXES; k++) {
    const heads = Array.from({ length: 1 + rng.int(3) }, () => rng.pick(history.entries).hash)
    const prefix = pastOf(history.byHash, heads)
    const p = judge(reduce(history.params, prefix), prefix)
    nontrivial += p.revocations.size > 0 ? 1 : 0
    for (const [device, revs] of p.revocations) {
      for (const r of revs) assert.ok(!j.ignored.has(r), `revocation ${r} counts in the past of ${heads.join(', ')}, not in the whole: ${j.ignored.get(r)}`)
      // Its target is revoked, or gone with its admission (rule 4): never active.
      const record = j.state.devices[device]
      assert.ok(record === undefined || record.status === 'revoked', `${device} revoked in the past of ${heads.join(', ')} but ${record?.status} in the whole`)
    }
  }
  return nontrivial
}

/**
 * (d) The attack: a thief T revoked by R keeps appending ops on old heads. R still counts;
 * none of T's back-dated ops (nor its accomplices') count, except revocations, which only
 * remove their target too. Accomplices never become devices or hold a key.
 */
const checkThefts = (j: Judged, history: History): void => {
  const { state, ignored } = j
  for (const theft of history.thefts) {
    const r = theft.revocation.hash
    assert.ok(!ignored.has(r), `revocation ${r} of thief ${theft.thief} counted on its past, not in the whole: ${ignored.get(r)}`)
    assert.notEqual(state.devices[theft.thief]?.status, 'active', `thief ${theft.thief} is active`)
    for (const op of theft.ops) {
      const target = revokeTarget(op)
      if (target === undefined) {
        assert.ok(ignored.has(op.hash), `back-dated ${JSON.stringify(op.payload).slice(0, 40)} ${op.hash} by ${op.author} (thief ${theft.thief}, revoked by ${r}) counts`)
      } else if (!ignored.has(op.hash)) {
        assert.notEqual(state.devices[target]?.status, 'active', `back-dated revocation ${op.hash} counts but ${target} is active`)
      }
    }
    for (const a of theft.accomplices) {
      assert.equal(state.devices[a], undefined, `accomplice ${a} of ${theft.thief} is a device`)
      for (const epoch of [...state.epochs, ...state.supersededEpochs]) {
        assert.ok(!Object.hasOwn(epoch.lockboxes, a) && lockboxFor(state, epoch.epoch, a) === undefined,
          `accomplice ${a} holds a key of epoch ${epoch.epoch} (${epoch.startedIn})`)
      }
    }
  }
}

interface Stats { [name: string]: number }

/** What a history exercised: the generator must reach the interesting paths, not just noise. */
const tally = (stats: Stats, j: Judged, history: History): void => {
  const { state, ignored, revocations } = j
  const reasons = [...ignored.values()]
  const add = (name: string, yes: boolean): void => { stats[name] = (stats[name] ?? 0) + (yes ? 1 : 0) }
  const authorOf = (hash: string): string | undefined => history.byHash.get(hash)?.author
  const counted = [...revocations].flatMap(([target, revs]) => revs.map(r => ({ target, author: authorOf(r) })))
  add('revoked', revocations.size > 0)
  add('founderRevoked', state.devices[history.founder.device]?.status === 'revoked')
  add('mutual', counted.some(a => counted.some(b => a.author === b.target && b.author === a.target && a.author !== a.target)))
  add('thefts', history.thefts.length > 0)
  const theftOps = history.thefts.flatMap(t => t.ops.map(op => ({ op, t })))
  add('theftRevocationCounts', theftOps.some(({ op }) => revokeTarget(op) !== undefined && !ignored.has(op.hash)))
  add('thiefRevokesRevoker', theftOps.some(({ op, t }) => revokeTarget(op) === t.revocation.author && !ignored.has(op.hash)))
  add('theftAdds', theftOps.some(({ op }) => (op.payload as { type?: unknown }).type === 'add'))
  add('theftRotationCarried', state.supersededEpochs.some(e => theftOps.some(({ op }) => op.hash === e.startedIn)))
  add('accompliceActs', theftOps.some(({ op, t }) => op.author !== t.thief))
  add('voided', reasons.some(r => /^voided by revocation/.test(r)))
  add('rotated', (state.epoch?.epoch ?? 0) > 0)
  add('superseded', state.supersededEpochs.length > 0)
  add('leakyRotation', reasons.some(r => /rotation gives a key to device/.test(r)))
  add('needsRotation', state.needsRotation)
  add('keyless', /has no lockbox/.test(state.rotationReason ?? ''))
}

const checkHistory = (rng: Rng, history: History, stats: Stats): void => {
  const { params, entries } = history
  const expected = reduce(params, entries)
  // (a) Every order, with duplicates, gives the same state.
  for (let k = 0; k < ORDERS; k++) {
    const dupes = Array.from({ length: rng.int(5) }, () => structuredClone(rng.pick(entries)))
    assert.deepStrictEqual(reduce(params, rng.shuffle([...entries, ...dupes])), expected, `order ${k}`)
  }
  const j = judge(expected, entries)
  checkStructure(j)
  checkRevoked(j, entries)
  checkAuthority(j, entries)
  checkRevocationsOnTheirPast(j, history)
  stats.finalityPrefixes = (stats.finalityPrefixes ?? 0) + checkFinality(rng, j, history)
  checkThefts(j, history)
  tally(stats, j, history)
}

/** Runs history `run` of the seeded sequence (each has its own seed, so one can be replayed alone). */
const historyRng = (run: number): Rng => makeRng(SEED + run * 0x9e3779b9)

describe('revocation: generated histories with back-dated ops by revoked devices', () => {
  const only = process.env.HISTORY === undefined ? undefined : Number(process.env.HISTORY)
  it(`${HISTORIES} histories: ${ORDERS} orders converge; revocations are final; a revoked device's back-dated ops do not count`, function () {
    this.timeout(60_000)
    const stats: Stats = {}
    for (let run = only ?? 0; run < (only === undefined ? HISTORIES : only + 1); run++) {
      const rng = historyRng(run)
      const history = randomHistory(rng)
      try {
        checkHistory(rng, history, stats)
      } catch (e) {
        if (e instanceof Error) e.message = `history ${run} (HISTORY=${run}): ${e.message}`
        throw e
      }
    }
    if (only !== undefined) return
    const rare = ['leakyRotation', 'keyless']
    for (const [name, n] of Object.entries(stats)) {
      assert.ok(n > HISTORIES / (rare.includes(name) ? 50 : 25), `${name}: ${JSON.stringify(stats)}`)
    }
  })
})
