/**
 * Revoke and rotate, as specs: the laptop is the founder, the phone gets stolen (the
 * thief holds its keys, so the thief's ops are the phone's), the tablet is another device.
 */
import assert from 'node:assert/strict'
import { addOp, genesisOp, renameOp, revokeOp, rotateOp } from '../../acl/ops.ts'
import { isSealed, preverifySeals, sealGenesis } from '../../acl/genesis.ts'
import { generateDeviceKeys } from '../../identity/keys.ts'
import { base64urlEncode } from '../../src/crypto/bytes.ts'
import { lockboxFor, reduce } from '../../acl/reducer.ts'
import type { AccountState } from '../../acl/types.ts'
import type { DeviceId } from '../../src/types.ts'
import {
  addPayload,
  assertCounts,
  assertIgnored,
  DATA_LOG,
  fakeLockbox,
  found,
  makeRng,
  paramsFor,
  persona,
  personas,
  registry,
  rotatePayload
} from './helpers.ts'

const statusOf = (state: AccountState, device: DeviceId): string | undefined => state.devices[device]?.status

/** The same entries in reverse order reduce to the same state. */
const assertOrderFree = (state: AccountState, entries: Parameters<typeof reduce>[1], params: Parameters<typeof reduce>[0]): void => {
  assert.deepStrictEqual(reduce(params, [...entries].reverse()), state)
}

describe('revocation', () => {
  describe('revoke', () => {
    it("laptop revokes phone: the phone's later ops are void", () => {
      const { p, params, log } = found()
      log.append(p.laptop, addPayload(p.phone, 'admin'))
      const before = log.append(p.phone, renameOp({ device: p.phone.device, name: 'Pixel' }))
      const revoke = log.append(p.laptop, revokeOp({ device: p.phone.device }))
      const rename = log.append(p.phone, renameOp({ device: p.phone.device, name: 'stolen' }))
      const add = log.append(p.phone, addPayload(p.thief, 'admin'))
      const revokeLaptop = log.append(p.phone, revokeOp({ device: p.laptop.device }))
      const state = reduce(params, log.entries)
      assertCounts(state, before)
      assertCounts(state, revoke)
      const voided = new RegExp(`^voided by revocation ${revoke.hash} of ${p.phone.device}: not in its causal past$`)
      for (const entry of [rename, add, revokeLaptop]) assertIgnored(state, entry, voided)
      assert.deepEqual(state.devices[p.phone.device], {
        ...p.phone, name: 'Pixel', role: 'admin', status: 'revoked', addedBy: p.laptop.device, admittedIn: 'h2',
        seniority: 1, revokedIn: revoke.hash, revokedBy: p.laptop.device
      })
      assert.equal(state.devices[p.thief.device], undefined)
      assert.equal(statusOf(state, p.laptop.device), 'active')
      assertOrderFree(state, log.entries, params)
    })

    it('a back-dated op of the revoked phone (pointing at old heads) is void', () => {
      const { p, params, log, genesis } = found()
      const admitted = log.append(p.laptop, addPayload(p.phone, 'admin'))
      const revoke = log.append(p.laptop, revokeOp({ device: p.phone.device }))
      // The thief points at the heads it had before the revocation, with an early clock.
      const backdated = log.append(p.phone, addPayload(p.tablet, 'admin'), { after: [admitted.hash], time: 1 })
      const rename = log.append(p.phone, renameOp({ device: p.phone.device, name: 'mine' }), { after: [admitted.hash, genesis.hash], time: 2 })
      const state = reduce(params, log.entries)
      assertIgnored(state, backdated, new RegExp(`voided by revocation ${revoke.hash}`))
      assertIgnored(state, rename, new RegExp(`voided by revocation ${revoke.hash}`))
      assert.equal(state.devices[p.tablet.device], undefined)
      assert.equal(state.devices[p.phone.device]?.name, 'phone')
      // Without the revocation the same ops count: it is the revocation that voids them.
      const without = reduce(params, log.entries.filter(e => e !== revoke))
      assertCounts(without, backdated)
      assert.equal(statusOf(without, p.tablet.device), 'active')
      assertOrderFree(state, log.entries, params)
    })

    it("the revoked phone's add of a new device is void, and that device's ops too", () => {
      const { p, params, log } = found()
      const watch = persona('watch')
      const admitted = log.append(p.laptop, addPayload(p.phone, 'admin'))
      // Seen by the laptop before it revokes the phone: stays.
      const seen = log.append(p.phone, addPayload(watch, 'member'))
      const revoke = log.append(p.laptop, revokeOp({ device: p.phone.device }), { after: [seen.hash] })
      // Not seen by the revocation: void, and so is everything resting on it.
      const unseen = log.append(p.phone, addPayload(p.tablet, 'admin'), { after: [admitted.hash] })
      const tabletRename = log.append(p.tablet, renameOp({ device: p.tablet.device, name: 'iPad' }), { after: [unseen.hash] })
      const tabletAdd = log.append(p.tablet, addPayload(p.thief, 'admin'), { after: [tabletRename.hash] })
      const thiefRevoke = log.append(p.thief, revokeOp({ device: watch.device }), { after: [tabletAdd.hash] })
      const state = reduce(params, log.entries)
      assertCounts(state, seen)
      assert.equal(statusOf(state, watch.device), 'active')
      assertIgnored(state, unseen, new RegExp(`voided by revocation ${revoke.hash}`))
      assertIgnored(state, tabletRename, new RegExp(`author ${p.tablet.device} is not a device of this account: its admission ${unseen.hash} was voided`))
      assertIgnored(state, tabletAdd, /is not a device of this account/)
      // The watch is not in the causal past of the thief's revocation: nothing to revoke there.
      assertIgnored(state, thiefRevoke, new RegExp(`device ${watch.device} is not known in the causal past of this revocation`))
      assert.equal(state.devices[p.tablet.device], undefined)
      assert.equal(state.devices[p.thief.device], undefined)
      assert.deepEqual(Object.keys(state.addedLockboxes[0] ?? {}).sort(), [p.phone.device, watch.device].sort())
      assertOrderFree(state, log.entries, params)
    })

    it('phone (member) cannot revoke tablet', () => {
      const { p, params, log } = found()
      log.append(p.laptop, addPayload(p.phone, 'member'))
      log.append(p.laptop, addPayload(p.tablet, 'member'))
      const revoke = log.append(p.phone, revokeOp({ device: p.tablet.device }))
      const state = reduce(params, log.entries)
      assertIgnored(state, revoke, /only an admin may revoke another device/)
      assert.equal(statusOf(state, p.tablet.device), 'active')
    })

    it('phone can revoke itself', () => {
      const { p, params, log } = found()
      log.append(p.laptop, addPayload(p.phone, 'member'))
      const revoke = log.append(p.phone, revokeOp({ device: p.phone.device }))
      const after = log.append(p.phone, renameOp({ device: p.phone.device, name: 'back' }))
      const state = reduce(params, log.entries)
      assertCounts(state, revoke)
      assert.equal(statusOf(state, p.phone.device), 'revoked')
      assert.equal(state.devices[p.phone.device]?.revokedBy, p.phone.device)
      assertIgnored(state, after, /voided by revocation/)
    })

    it('revoking an unknown or already revoked device is ignored', () => {
      const { p, params, log, genesis } = found()
      const unknown = log.append(p.laptop, revokeOp({ device: p.thief.device }))
      log.append(p.laptop, addPayload(p.phone, 'member'))
      const first = log.append(p.laptop, revokeOp({ device: p.phone.device }))
      const again = log.append(p.laptop, revokeOp({ device: p.phone.device }))
      // The tablet's admission is not in this revocation's causal past.
      log.append(p.laptop, addPayload(p.tablet, 'member'), { after: [genesis.hash] })
      const unseen = log.append(p.laptop, revokeOp({ device: p.tablet.device }), { after: [genesis.hash], time: 20 })
      const state = reduce(params, log.entries)
      assertIgnored(state, unknown, new RegExp(`device ${p.thief.device} is not known in the causal past of this revocation`))
      assertIgnored(state, again, new RegExp(`device ${p.phone.device} was already revoked by ${first.hash}`))
      assertIgnored(state, unseen, /is not known in the causal past of this revocation/)
      assert.equal(state.devices[p.phone.device]?.revokedIn, first.hash)
      assert.equal(statusOf(state, p.tablet.device), 'active')
    })

    it('an admin phone can revoke a stolen founder laptop (not concurrently: the laptop had not revoked it)', () => {
      const { p, params, log } = found()
      log.append(p.laptop, addPayload(p.phone, 'admin'))
      const byPhone = log.append(p.phone, revokeOp({ device: p.laptop.device }))
      const state = reduce(params, log.entries)
      assertCounts(state, byPhone)
      assert.equal(statusOf(state, p.laptop.device), 'revoked')
      assert.equal(statusOf(state, p.phone.device), 'active')
    })

    it('the founder can revoke itself', () => {
      const { p, params, log } = found()
      log.append(p.laptop, addPayload(p.phone, 'admin'))
      const bySelf = log.append(p.laptop, revokeOp({ device: p.laptop.device }))
      const state = reduce(params, log.entries)
      assertCounts(state, bySelf)
      assert.equal(statusOf(state, p.laptop.device), 'revoked')
    })

    it('rename by a revoked device after its revocation is void', () => {
      const { p, params, log } = found()
      log.append(p.laptop, addPayload(p.phone, 'admin'))
      log.append(p.laptop, addPayload(p.tablet, 'member'))
      const revoke = log.append(p.laptop, revokeOp({ device: p.phone.device }))
      const own = log.append(p.phone, renameOp({ device: p.phone.device, name: 'not stolen' }))
      const other = log.append(p.phone, renameOp({ device: p.tablet.device, name: 'junk' }))
      const state = reduce(params, log.entries)
      assertIgnored(state, own, new RegExp(`voided by revocation ${revoke.hash}`))
      assertIgnored(state, other, new RegExp(`voided by revocation ${revoke.hash}`))
      assert.equal(state.devices[p.phone.device]?.name, 'phone')
      assert.equal(state.devices[p.tablet.device]?.name, 'tablet')
    })
  })

  describe('the genesis seal', () => {
    it('with a one-time genesis key in the params, a second genesis by the stolen founder, however early, is no genesis', async () => {
      const p = personas()
      const log = registry()
      const sealKeys = generateDeviceKeys().signing
      const params = { ...paramsFor(p.laptop), genesisKey: base64urlEncode(sealKeys.publicKey) }
      const honest = sealGenesis(genesisOp({ mode: 'encrypted', founder: p.laptop, dataLog: DATA_LOG, lockboxes: { [p.laptop.device]: fakeLockbox(makeRng(1)) } }), sealKeys.secretKey)
      const genesis = log.append(p.laptop, honest, { time: 5 })
      const phone = log.append(p.laptop, addPayload(p.phone, 'admin'))
      // The thief: the founder's keys, no seal (or a seal over other content), an earlier clock.
      const fake = log.append(p.laptop, genesisOp({ mode: 'encrypted', founder: p.laptop, dataLog: '/orbitdb/zdpuThief', lockboxes: {} }), { after: [], time: 1 })
      const copied = log.append(p.laptop, { ...genesisOp({ mode: 'encrypted', founder: p.laptop, dataLog: '/orbitdb/zdpuThief', lockboxes: {} }), seal: (honest as { seal: string }).seal }, { after: [], time: 0 })
      const thiefAdd = log.append(p.laptop, addPayload(p.thief, 'admin'), { after: [fake.hash, copied.hash] })
      const state = reduce(params, log.entries)
      assertCounts(state, genesis)
      assertCounts(state, phone)
      assertIgnored(state, fake, /not sealed/)
      assertIgnored(state, copied, /not sealed/)
      assertIgnored(state, thiefAdd, /no valid genesis in the causal past/)
      assert.equal(state.epoch?.startedIn, genesis.hash)
      // Without the key in the params (older accounts), the earliest genesis would win.
      assert.equal(reduce(paramsFor(p.laptop), log.entries).epoch?.startedIn, copied.hash)
      assertOrderFree(state, log.entries, params)
      // Seals checked natively first (as the registry does before each reduce) give the same verdicts: the
      // forged and the copied seal are not taken in, the honest one is.
      await preverifySeals(params, log.entries.map((e) => e.payload))
      const again = reduce(params, log.entries)
      assertIgnored(again, fake, /not sealed/)
      assertIgnored(again, copied, /not sealed/)
      assert.equal(again.epoch?.startedIn, genesis.hash)
      assert.equal(isSealed(params, copied.payload as Parameters<typeof isSealed>[1]), false)
      assert.equal(isSealed(params, honest as Parameters<typeof isSealed>[1]), true)
      // The same seal over the honest genesis, checked against another account's key: not sealed.
      assert.equal(isSealed({ ...params, genesisKey: base64urlEncode(generateDeviceKeys().signing.publicKey) }, honest as Parameters<typeof isSealed>[1]), false)
    })
  })

  describe('verdict cache', () => {
    it('reducing a growing log with a kept cache gives what a fresh reduce gives, also when an ancestor arrives late', () => {
      const { p, params, log } = found()
      log.append(p.laptop, addPayload(p.phone, 'admin'))
      const tabletAdmitted = log.append(p.laptop, addPayload(p.tablet, 'admin'))
      const byTablet = log.append(p.tablet, revokeOp({ device: p.phone.device }))
      const byPhone = log.append(p.phone, revokeOp({ device: p.laptop.device }), { after: [tabletAdmitted.hash], time: 1 })
      const cache = new Map<string, string | undefined>()
      // The tablet's admission arrives last: until then its revocation's past is incomplete, and not cached.
      const arrivals = log.entries.filter(e => e !== tabletAdmitted)
      for (let n = 1; n <= arrivals.length; n++) {
        assert.deepStrictEqual(reduce(params, arrivals.slice(0, n), cache), reduce(params, arrivals.slice(0, n)))
      }
      assert.equal(cache.has(byTablet.hash), false)
      assert.deepStrictEqual(reduce(params, log.entries, cache), reduce(params, log.entries))
      assert.equal(cache.has(byTablet.hash), true)
      assertCounts(reduce(params, log.entries, cache), byPhone)
      assert.equal(statusOf(reduce(params, log.entries, cache), p.phone.device), 'revoked')
    })
  })

  describe('concurrent revocations', () => {
    it('concurrent mutual revocation removes both, the founder too: no seniority', () => {
      const { p, params, log } = found()
      log.append(p.laptop, addPayload(p.phone, 'admin'))
      const heads = log.heads()
      const byPhone = log.append(p.phone, revokeOp({ device: p.laptop.device }), { after: heads })
      const byLaptop = log.append(p.laptop, revokeOp({ device: p.phone.device }), { after: heads })
      const state = reduce(params, log.entries)
      assertCounts(state, byLaptop)
      assertCounts(state, byPhone)
      assert.equal(statusOf(state, p.laptop.device), 'revoked')
      assert.equal(statusOf(state, p.phone.device), 'revoked')
      assertOrderFree(state, log.entries, params)
    })

    it('a back-dated counter-revocation by the stolen, more senior admin revokes the revoker too, and never brings the thief back', () => {
      const { p, params, log } = found()
      log.append(p.laptop, addPayload(p.phone, 'admin'))
      log.append(p.laptop, addPayload(p.tablet, 'admin'))
      const before = log.heads()
      const byTablet = log.append(p.tablet, revokeOp({ device: p.phone.device }), { after: before })
      const rotation = log.append(p.tablet, rotatePayload(1, [p.laptop, p.tablet]), { after: [byTablet.hash] })
      // The thief points at the heads from before the revocation, with an early clock.
      const byPhone = log.append(p.phone, revokeOp({ device: p.tablet.device }), { after: before, time: 1 })
      const state = reduce(params, log.entries)
      assertCounts(state, byTablet)
      assertCounts(state, byPhone)
      assert.equal(statusOf(state, p.phone.device), 'revoked')
      assert.equal(statusOf(state, p.tablet.device), 'revoked')
      assert.equal(statusOf(state, p.laptop.device), 'active')
      // The tablet's rotation is outside the phone's revocation: void, so the laptop must rotate again.
      assertIgnored(state, rotation, new RegExp(`voided by revocation ${byPhone.hash}`))
      assert.equal(state.needsRotation, true)
      // Its log is kept for the laptop to carry its writes from, without the tablet's key.
      assert.deepEqual(state.supersededEpochs.map(e => [e.startedIn, Object.keys(e.lockboxes)]), [[rotation.hash, [p.laptop.device]]])
      // Whoever rotates next (the laptop, the only active device) may give no key to the phone.
      const next = log.append(p.laptop, rotatePayload(1, [p.laptop, p.phone]))
      assertIgnored(reduce(params, log.entries), next, /gives a key to device .* revoked by/)
      assertOrderFree(state, log.entries.slice(0, -1), params)
    })

    it('concurrent revocations of a third device and of the revoker both count', () => {
      const { p, params, log } = found()
      log.append(p.laptop, addPayload(p.phone, 'admin'))
      log.append(p.laptop, addPayload(p.tablet, 'admin'))
      const watch = persona('watch')
      log.append(p.laptop, addPayload(watch, 'member'))
      const heads = log.heads()
      const byPhone = log.append(p.phone, revokeOp({ device: watch.device }), { after: heads })
      const byTablet = log.append(p.tablet, revokeOp({ device: p.phone.device }), { after: heads })
      const state = reduce(params, log.entries)
      assertCounts(state, byTablet)
      assertCounts(state, byPhone)
      assert.deepEqual([p.phone, p.tablet, watch].map(d => statusOf(state, d.device)), ['revoked', 'active', 'revoked'])
      assertOrderFree(state, log.entries, params)
    })

    it('a cycle of three concurrent revocations removes all three', () => {
      const { p, params, log } = found()
      const watch = persona('watch')
      for (const d of [p.phone, p.tablet, watch]) log.append(p.laptop, addPayload(d, 'admin'))
      const heads = log.heads()
      const revokes = [
        log.append(p.phone, revokeOp({ device: p.tablet.device }), { after: heads }),
        log.append(p.tablet, revokeOp({ device: watch.device }), { after: heads }),
        log.append(watch, revokeOp({ device: p.phone.device }), { after: heads })
      ]
      const state = reduce(params, log.entries)
      for (const r of revokes) assertCounts(state, r)
      assert.deepEqual([p.laptop, p.phone, p.tablet, watch].map(d => statusOf(state, d.device)), ['active', 'revoked', 'revoked', 'revoked'])
      assertOrderFree(state, log.entries, params)
    })

    it('a device admitted by the thief behind a revocation can only deny service: its admission and other ops are void', () => {
      const { p, params, log } = found()
      const watch = persona('watch')
      const phoneAdmitted = log.append(p.laptop, addPayload(p.phone, 'admin'))
      const watchAdmitted = log.append(p.laptop, addPayload(watch, 'admin'))
      // The thief, on the phone, admits the tablet; the watch revokes the phone without having seen it.
      const tabletAdmitted = log.append(p.phone, addPayload(p.tablet, 'admin'), { after: [watchAdmitted.hash] })
      const byWatch = log.append(watch, revokeOp({ device: p.phone.device }), { after: [watchAdmitted.hash] })
      const byTablet = log.append(p.tablet, revokeOp({ device: watch.device }), { after: [tabletAdmitted.hash] })
      const tabletRename = log.append(p.tablet, renameOp({ device: p.tablet.device, name: 'mine' }), { after: [byTablet.hash] })
      const state = reduce(params, log.entries)
      assert.equal(phoneAdmitted.hash, 'h2')
      assertCounts(state, byWatch)
      assertIgnored(state, tabletAdmitted, new RegExp(`voided by revocation ${byWatch.hash}`))
      assertIgnored(state, tabletRename, /is not a device of this account: its admission/)
      // Its revocation held on its own causal past: it counts, and the watch is revoked too.
      assertCounts(state, byTablet)
      assert.equal(statusOf(state, watch.device), 'revoked')
      assert.equal(statusOf(state, p.phone.device), 'revoked')
      assert.equal(statusOf(state, p.laptop.device), 'active')
      assert.equal(state.devices[p.tablet.device], undefined)
      assertOrderFree(state, log.entries, params)
    })

    it('revoking a device whose admission was voided is ignored', () => {
      const { p, params, log } = found()
      const admitted = log.append(p.laptop, addPayload(p.phone, 'admin'))
      const revoke = log.append(p.laptop, revokeOp({ device: p.phone.device }), { after: [admitted.hash] })
      const add = log.append(p.phone, addPayload(p.tablet, 'member'), { after: [admitted.hash] })
      const late = log.append(p.laptop, revokeOp({ device: p.tablet.device }), { after: [revoke.hash, add.hash] })
      const state = reduce(params, log.entries)
      assertIgnored(state, add, new RegExp(`voided by revocation ${revoke.hash}`))
      assertIgnored(state, late, new RegExp(`device ${p.tablet.device} is not known in the causal past of this revocation`))
      assert.equal(state.devices[p.tablet.device], undefined)
    })

    it('a mutually revoked admin’s later ops are void', () => {
      const { p, params, log } = found()
      log.append(p.laptop, addPayload(p.phone, 'admin'))
      log.append(p.laptop, addPayload(p.tablet, 'admin'))
      const heads = log.heads()
      const byPhone = log.append(p.phone, revokeOp({ device: p.tablet.device }), { after: heads })
      const byTablet = log.append(p.tablet, revokeOp({ device: p.phone.device }), { after: heads })
      // Made by the tablet after its own revocation, outside the phone's: void.
      const add = log.append(p.tablet, addPayload(p.thief, 'member'), { after: [byTablet.hash] })
      const state = reduce(params, log.entries)
      assertCounts(state, byPhone)
      assertIgnored(state, add, new RegExp(`voided by revocation ${byPhone.hash}`))
      assert.equal(state.devices[p.thief.device], undefined)
    })
  })

  describe('rotate', () => {
    it('the laptop rotates after revoking the phone; a member or the revoked phone cannot rotate', () => {
      const { p, params, log } = found()
      log.append(p.laptop, addPayload(p.phone, 'admin'))
      log.append(p.laptop, addPayload(p.tablet, 'member'))
      const byMember = log.append(p.tablet, rotatePayload(1, [p.laptop, p.tablet]))
      const revoke = log.append(p.laptop, revokeOp({ device: p.phone.device }))
      const rotate = log.append(p.laptop, rotatePayload(1, [p.laptop, p.tablet], ['d1']))
      const byPhone = log.append(p.phone, rotatePayload(2, [p.phone]))
      const state = reduce(params, log.entries)
      assertIgnored(state, byMember, /only an admin may rotate the epoch/)
      assertIgnored(state, byPhone, new RegExp(`voided by revocation ${revoke.hash}`))
      assertCounts(state, rotate)
      assert.equal(state.epoch?.epoch, 1)
      assert.equal(state.epoch?.startedIn, rotate.hash)
      assert.deepEqual(state.epoch?.cut, ['d1'])
      assert.deepEqual(state.epochs.map(e => e.epoch), [0, 1])
      assert.deepEqual(state.supersededEpochs, [])
    })

    it('any active device, a member too, may write the rotation a revocation calls for', () => {
      const { p, params, log } = found()
      log.append(p.laptop, addPayload(p.phone, 'admin'))
      log.append(p.laptop, addPayload(p.tablet, 'member'))
      const revoke = log.append(p.laptop, revokeOp({ device: p.phone.device }))
      const byMember = log.append(p.tablet, rotatePayload(1, [p.laptop, p.tablet]), { after: [revoke.hash] })
      // Once the phone holds no key of the current epoch, nothing calls for another rotation.
      const again = log.append(p.tablet, rotatePayload(2, [p.laptop, p.tablet]), { after: [byMember.hash] })
      const state = reduce(params, log.entries)
      assertCounts(state, byMember)
      assertIgnored(state, again, /only an admin may rotate the epoch when no revocation calls for it/)
      assert.equal(state.epoch?.startedIn, byMember.hash)
      assert.equal(state.needsRotation, false)
    })

    it('a rotation built on the thief\'s voided rotation is kept for carrying its log\'s writes', () => {
      const { p, params, log } = found()
      log.append(p.laptop, addPayload(p.phone, 'admin'))
      log.append(p.laptop, addPayload(p.tablet, 'admin'))
      const heads = log.heads()
      log.append(p.laptop, revokeOp({ device: p.phone.device }), { after: heads })
      const stolen = log.append(p.phone, rotatePayload(1, [p.phone, p.laptop, p.tablet]), { after: heads })
      const built = log.append(p.tablet, rotatePayload(2, [p.laptop, p.tablet]), { after: [stolen.hash] })
      const state = reduce(params, log.entries)
      assertIgnored(state, built, /must start epoch 1/)
      assert.deepEqual(state.supersededEpochs.map(e => e.startedIn).sort(), [stolen.hash, built.hash].sort())
      assert.equal(state.supersededEpochs.find(e => e.startedIn === stolen.hash)?.lockboxes[p.phone.device], undefined)
    })

    it('nothing brings a revoked device back: a later or concurrent re-admission of its id is void', () => {
      const { p, params, log } = found()
      const admitted = log.append(p.laptop, addPayload(p.phone, 'admin'))
      log.append(p.laptop, addPayload(p.tablet, 'admin'), { after: [admitted.hash] })
      const revoke = log.append(p.tablet, revokeOp({ device: p.phone.device }))
      const readmit = log.append(p.laptop, addPayload(p.phone, 'admin'), { after: [revoke.hash] })
      const state = reduce(params, log.entries)
      assertIgnored(state, readmit, /already known/)
      assert.equal(statusOf(state, p.phone.device), 'revoked')
      // An admission voided with its adder, then a re-admission concurrent with a revocation of that id: void too.
      const { p: q, params: params2, log: log2 } = found()
      const phone = log2.append(q.laptop, addPayload(q.phone, 'admin'))
      const heads = log2.heads()
      const byLaptop = log2.append(q.laptop, revokeOp({ device: q.phone.device }), { after: heads })
      const watch = persona('watch')
      const puppet = log2.append(q.phone, addPayload(watch, 'admin'), { after: [phone.hash] })
      const byLaptop2 = log2.append(q.laptop, revokeOp({ device: watch.device }), { after: [byLaptop.hash, puppet.hash] })
      const again = log2.append(q.phone, addPayload(watch, 'admin'), { after: [phone.hash], time: 1 })
      const state2 = reduce(params2, log2.entries)
      assertIgnored(state2, puppet, new RegExp(`voided by revocation ${byLaptop.hash}`))
      assertIgnored(state2, again, new RegExp(`voided by revocation ${byLaptop.hash}`))
      assertIgnored(state2, byLaptop2, /is not known in the causal past/)
      assert.equal(state2.devices[watch.device], undefined)
    })

    it('back-dated ops can leave no admin at all, and then no key goes to a revoked device', () => {
      const { p, params, log } = found()
      log.append(p.laptop, addPayload(p.phone, 'admin'))
      log.append(p.laptop, addPayload(p.tablet, 'member'))
      const before = log.heads()
      const byLaptop = log.append(p.laptop, revokeOp({ device: p.phone.device }), { after: before })
      const byPhone = log.append(p.phone, revokeOp({ device: p.laptop.device }), { after: before, time: 1 })
      const state = reduce(params, log.entries)
      assertCounts(state, byLaptop)
      assertCounts(state, byPhone)
      assert.deepEqual(Object.values(state.devices).filter(d => d.status === 'active').map(d => [d.device, d.role]), [[p.tablet.device, 'member']])
      assert.equal(state.needsRotation, true)
      // The member may write the rotation; a key for the phone voids it.
      const leaky = log.append(p.tablet, rotatePayload(1, [p.tablet, p.phone]), { after: [byLaptop.hash, byPhone.hash] })
      const ok = log.append(p.tablet, rotatePayload(1, [p.tablet]), { after: [byLaptop.hash, byPhone.hash] })
      const after = reduce(params, log.entries)
      assertIgnored(after, leaky, /gives a key to device .* revoked by/)
      assertCounts(after, ok)
      assert.equal(after.needsRotation, false)
    })

    it('a rotation must start the epoch after the highest one in its causal past', () => {
      const { p, params, log } = found()
      const skip = log.append(p.laptop, rotatePayload(2, [p.laptop]))
      const zero = log.append(p.laptop, rotatePayload(0, [p.laptop]))
      const one = log.append(p.laptop, rotatePayload(1, [p.laptop]))
      const again = log.append(p.laptop, rotatePayload(1, [p.laptop]))
      const two = log.append(p.laptop, rotatePayload(2, [p.laptop]))
      const state = reduce(params, log.entries)
      assertIgnored(state, skip, /must start epoch 1/)
      assertIgnored(state, zero, /must start epoch 1/)
      assertIgnored(state, again, /must start epoch 2/)
      assertCounts(state, one)
      assertCounts(state, two)
      assert.deepEqual(state.epochs.map(e => e.startedIn), ['h1', one.hash, two.hash])
    })

    it('concurrent rotations by two admins end in one current epoch', () => {
      const { p, params, log } = found()
      log.append(p.laptop, addPayload(p.phone, 'admin'))
      const heads = log.heads()
      const byPhone = log.append(p.phone, rotatePayload(1, [p.laptop, p.phone]), { after: heads })
      const byLaptop = log.append(p.laptop, rotatePayload(1, [p.laptop, p.phone]), { after: heads })
      const state = reduce(params, log.entries)
      // The laptop is more senior, though its hash is the larger.
      assertCounts(state, byLaptop)
      assertIgnored(state, byPhone, new RegExp(`^concurrent rotation lost to ${byLaptop.hash}$`))
      assert.equal(state.epoch?.startedIn, byLaptop.hash)
      assert.deepEqual(state.epochs.map(e => e.startedIn), ['h1', byLaptop.hash])
      assert.deepEqual(state.supersededEpochs.map(e => [e.epoch, e.startedIn, e.startedBy]), [[1, byPhone.hash, p.phone.device]])
      assert.equal(state.needsRotation, false)
      assertOrderFree(state, log.entries, params)

      // A rotation that saw only the losing one still starts epoch 2, and wins it.
      const next = log.append(p.phone, rotatePayload(2, [p.laptop, p.phone]), { after: [byPhone.hash] })
      const later = reduce(params, log.entries)
      assertCounts(later, next)
      assert.deepEqual(later.epochs.map(e => e.startedIn), ['h1', byLaptop.hash, next.hash])
    })

    it('between concurrent rotations by the same admin the smaller hash wins', () => {
      const { p, params, log } = found()
      const heads = log.heads()
      const a = log.append(p.laptop, rotatePayload(1, [p.laptop]), { after: heads, time: 9 })
      const b = log.append(p.laptop, rotatePayload(1, [p.laptop, p.laptop]), { after: heads, time: 2 })
      const state = reduce(params, log.entries)
      assert.equal(state.epoch?.startedIn, a.hash)
      assertIgnored(state, b, new RegExp(`concurrent rotation lost to ${a.hash}`))
    })

    it('a rotation whose lockboxes include a device revoked in its causal past is void', () => {
      const { p, params, log } = found()
      log.append(p.laptop, addPayload(p.phone, 'admin'))
      const heads = log.heads()
      const revoke = log.append(p.laptop, revokeOp({ device: p.phone.device }), { after: heads })
      const leaky = log.append(p.laptop, rotatePayload(1, [p.laptop, p.phone]), { after: [revoke.hash] })
      let state = reduce(params, log.entries)
      assertIgnored(state, leaky, new RegExp(`rotation gives a key to device ${p.phone.device}, revoked by ${revoke.hash} in its causal past`))
      assert.equal(state.epoch?.epoch, 0)

      // The same rotation made without having seen the revocation counts, but needs a successor.
      const unaware = log.append(p.laptop, rotatePayload(1, [p.laptop, p.phone]), { after: heads, time: 9 })
      state = reduce(params, log.entries)
      assertCounts(state, unaware)
      assert.equal(state.epoch?.startedIn, unaware.hash)
      assert.equal(state.needsRotation, true)
      assert.match(state.rotationReason ?? '', new RegExp(`key of epoch 1 was given to ${p.phone.device} \\(phone\\), revoked by ${revoke.hash}`))
    })
  })

  describe('needsRotation', () => {
    it('needsRotation after a revocation without rotation, false after the rotation', () => {
      const { p, params, log } = found()
      log.append(p.laptop, addPayload(p.phone, 'member'))
      log.append(p.laptop, addPayload(p.tablet, 'member'))
      let state = reduce(params, log.entries)
      assert.equal(state.needsRotation, false)
      assert.equal(state.rotationReason, null)
      log.append(p.laptop, revokeOp({ device: p.phone.device }))
      state = reduce(params, log.entries)
      assert.equal(state.needsRotation, true)
      assert.match(state.rotationReason ?? '', new RegExp(`key of epoch 0 was given to ${p.phone.device}`))
      log.append(p.laptop, rotatePayload(1, [p.laptop, p.tablet]))
      state = reduce(params, log.entries)
      assert.equal(state.needsRotation, false)
      assert.equal(state.rotationReason, null)
    })

    it('needsRotation when a device was added concurrently with a rotation', () => {
      const { p, params, log } = found()
      log.append(p.laptop, addPayload(p.phone, 'admin'))
      const heads = log.heads()
      log.append(p.laptop, rotatePayload(1, [p.laptop, p.phone]), { after: heads })
      const add = log.append(p.phone, addPayload(p.tablet, 'member', 0), { after: heads })
      let state = reduce(params, log.entries)
      assertCounts(state, add)
      assert.equal(state.epoch?.epoch, 1)
      assert.equal(statusOf(state, p.tablet.device), 'active')
      assert.notEqual(lockboxFor(state, 0, p.tablet.device), undefined)
      assert.equal(lockboxFor(state, 1, p.tablet.device), undefined)
      assert.equal(state.needsRotation, true)
      assert.match(state.rotationReason ?? '', new RegExp(`active device ${p.tablet.device} \\(tablet\\) has no lockbox for epoch 1`))
      log.append(p.laptop, rotatePayload(2, [p.laptop, p.phone, p.tablet]))
      state = reduce(params, log.entries)
      assert.equal(state.needsRotation, false)
    })

    it("an add naming an epoch keeps its lockbox only if that epoch's winning rotation is in its past", () => {
      const { p, params, log } = found()
      log.append(p.laptop, addPayload(p.phone, 'admin'))
      const heads = log.heads()
      const lost = log.append(p.phone, rotatePayload(1, [p.laptop, p.phone]), { after: heads })
      const won = log.append(p.laptop, rotatePayload(1, [p.laptop, p.phone]), { after: heads })
      // The phone adds the tablet with the key of its own (losing) epoch 1.
      const add = log.append(p.phone, addPayload(p.tablet, 'member', 1), { after: [lost.hash] })
      const watch = persona('watch')
      const good = log.append(p.laptop, addPayload(watch, 'member', 1), { after: [won.hash] })
      const state = reduce(params, log.entries)
      assertCounts(state, add)
      assertCounts(state, good)
      assert.equal(lockboxFor(state, 1, p.tablet.device), undefined)
      assert.equal(lockboxFor(state, 1, watch.device), (good.payload as { lockbox: string }).lockbox)
      assert.match(state.rotationReason ?? '', new RegExp(`${p.tablet.device} \\(tablet\\) has no lockbox for epoch 1`))
    })

    it('in public mode lockboxes are membership markers, with the same rules', () => {
      const p = personas()
      const params = paramsFor(p.laptop, 'public')
      const log = registry()
      const marker = 'cHVibGlj'
      log.append(p.laptop, genesisOp({ mode: 'public', founder: p.laptop, dataLog: DATA_LOG, lockboxes: { [p.laptop.device]: marker } }))
      log.append(p.laptop, addOp({ device: p.phone, role: 'member', epoch: 0, lockbox: marker }))
      assert.equal(reduce(params, log.entries).needsRotation, false)
      const revoke = log.append(p.laptop, revokeOp({ device: p.phone.device }))
      assert.match(reduce(params, log.entries).rotationReason ?? '', new RegExp(`epoch 0 was given to ${p.phone.device} \\(phone\\), revoked by ${revoke.hash}`))
      log.append(p.laptop, rotateOp({ epoch: 1, dataLog: '/orbitdb/zdpuPublic1', lockboxes: { [p.laptop.device]: marker }, cut: [] }))
      assert.equal(reduce(params, log.entries).needsRotation, false)
    })
  })

  describe('lockboxFor', () => {
    it('finds the lockbox in the rotation or the add, and nothing else', () => {
      const { p, params, log, genesis } = found()
      const add = log.append(p.laptop, addPayload(p.phone, 'member'))
      const rotate = log.append(p.laptop, { type: 'rotate', v: 1, epoch: 1, dataLog: '/orbitdb/zdpuE1', lockboxes: { [p.laptop.device]: fakeLockbox(makeRng(3)) }, cut: [] })
      const state = reduce(params, log.entries)
      const genesisBoxes = (genesis.payload as { lockboxes: Record<string, string> }).lockboxes
      assert.equal(lockboxFor(state, 0, p.laptop.device), genesisBoxes[p.laptop.device])
      assert.equal(lockboxFor(state, 0, p.phone.device), (add.payload as { lockbox: string }).lockbox)
      assert.equal(lockboxFor(state, 1, p.laptop.device), (rotate.payload as { lockboxes: Record<string, string> }).lockboxes[p.laptop.device])
      assert.equal(lockboxFor(state, 1, p.phone.device), undefined)
      assert.equal(lockboxFor(state, 7, p.laptop.device), undefined)
      assert.equal(lockboxFor(state, 0, 'constructor' as DeviceId), undefined)
      assert.equal(lockboxFor(state, 0, '__proto__' as DeviceId), undefined)
    })
  })
})
