/**
 * Invitations in the registry: an admin's recorded invitation lets any active device
 * write the admission it authorized, once; nothing else does (a member's own
 * "invitation", a forged proof, a second use, the inviter's revoked authority).
 */
import assert from 'node:assert/strict'
import { addOp, invitationOp, parseOp, revokeOp, withdrawOp } from '../../acl/ops.ts'
import { reduce } from '../../acl/reducer.ts'
import { invitationPublicKey, signAdmission } from '../../acl/invitation.ts'
import type { DeviceDescriptor, RegistryEntry } from '../../acl/types.ts'
import type { Role } from '../../src/types.ts'
import { addPayload, assertCounts, assertIgnored, fakeLockbox, found, makeRng, persona, seedOf } from './helpers.ts'

const secretOf = (name: string): Uint8Array => makeRng(seedOf(`secret ${name}`)).bytes(16)
const idOf = (name: string): string => Array.from(makeRng(seedOf(`id ${name}`)).bytes(16), b => b.toString(16).padStart(2, '0')).join('')

const invitation = (name: string, role: Role = 'member', confirm = false): unknown =>
  invitationOp({ id: idOf(name), key: invitationPublicKey(secretOf(name)), role, expires: 2_000_000_000, confirm })

/** An add of `device` naming invitation `name`, proved with `secret` (the invite's, unless forged). */
const invitedAdd = (name: string, device: DeviceDescriptor, role: Role = 'member', secret = secretOf(name)): unknown =>
  addOp({ device, role, epoch: 0, lockbox: fakeLockbox(makeRng(seedOf(device.device))), invitation: { id: idOf(name), proof: signAdmission(secret, idOf(name), device, role) } })

/** The founder (laptop) with a member phone. */
const withMember = (): ReturnType<typeof found> & { phoneAdd: RegistryEntry } => {
  const f = found()
  const phoneAdd = f.log.append(f.p.laptop, addPayload(f.p.phone, 'member'))
  return { ...f, phoneAdd }
}

describe('registry: invitations', () => {
  it("a member device's admission using an admin's invitation counts, and uses it up", () => {
    const { p, params, log } = withMember()
    const inv = log.append(p.laptop, invitation('a'))
    const tablet = persona('tablet')
    const add = log.append(p.phone, invitedAdd('a', tablet))
    const state = reduce(params, log.entries)
    assertCounts(state, inv)
    assertCounts(state, add)
    assert.equal(state.devices[tablet.device]?.status, 'active')
    assert.equal(state.devices[tablet.device]?.addedBy, p.phone.device)
    assert.equal(state.invitations[idOf('a')]?.usedIn, add.hash)
    // A second admission on the same invitation (even by the admin) admits nobody.
    const watch = persona('watch')
    const again = log.append(p.laptop, invitedAdd('a', watch))
    const after = reduce(params, log.entries)
    assertIgnored(after, again, /already used/)
    assert.equal(after.devices[watch.device], undefined)
  })

  it("a member's self-made invitation does not count, nor an admission using it", () => {
    const { p, params, log } = withMember()
    const inv = log.append(p.phone, invitation('self', 'admin'))
    const accomplice = persona('accomplice')
    const add = log.append(p.phone, invitedAdd('self', accomplice, 'admin'))
    const state = reduce(params, log.entries)
    assertIgnored(state, inv, /only an admin may record invitations/)
    assertIgnored(state, add, /not recorded by an admin/)
    assert.equal(state.devices[accomplice.device], undefined)
  })

  it('an admission without the invite secret, or for another role, admits nobody', () => {
    const { p, params, log } = withMember()
    log.append(p.laptop, invitation('b'))
    const intruder = persona('intruder')
    // The phone sees the invitation's id and key in the registry, but not its secret.
    const forged = log.append(p.phone, invitedAdd('b', intruder, 'member', secretOf('guess')))
    const promoted = log.append(p.phone, invitedAdd('b', intruder, 'admin'))
    const state = reduce(params, log.entries)
    assertIgnored(state, forged, /not signed by the key of invitation/)
    assertIgnored(state, promoted, /is for the role member, not admin/)
    assert.equal(state.devices[intruder.device], undefined)
    assert.equal(state.invitations[idOf('b')]?.usedIn, undefined)
  })

  it('a member without an invitation still cannot admit', () => {
    const { p, params, log } = withMember()
    const add = log.append(p.phone, addPayload(persona('tablet'), 'member'))
    assertIgnored(reduce(params, log.entries), add, /only an admin may add devices/)
  })

  it('a --confirm invitation admits only through its inviter', () => {
    const { p, params, log } = withMember()
    log.append(p.laptop, invitation('c', 'member', true))
    const tablet = persona('tablet')
    const byPhone = log.append(p.phone, invitedAdd('c', tablet))
    assertIgnored(reduce(params, log.entries), byPhone, /needs its inviter/)
    const byLaptop = log.append(p.laptop, invitedAdd('c', tablet))
    assertCounts(reduce(params, log.entries), byLaptop)
  })

  it("a revoked inviter's invitation admits nobody outside its revocation's past", () => {
    const { p, params, log } = found()
    const adminPhone = log.append(p.laptop, addPayload(p.phone, 'admin'))
    const tabletAdd = log.append(p.laptop, addPayload(p.tablet, 'member'), { after: [adminPhone.hash] })
    // The phone (stolen later) made an invitation; the laptop revokes the phone.
    const inv = log.append(p.phone, invitation('d'), { after: [tabletAdd.hash] })
    const revoke = log.append(p.laptop, revokeOp({ device: p.phone.device }), { after: [inv.hash] })
    // The thief uses it through the tablet, which had not seen the revocation yet.
    const thiefDevice = persona('thief-device')
    const concurrent = log.append(p.tablet, invitedAdd('d', thiefDevice), { after: [inv.hash] })
    const state = reduce(params, log.entries)
    assertCounts(state, revoke)
    assertIgnored(state, concurrent, /revoked by/)
    assert.equal(state.devices[thiefDevice.device], undefined)
  })

  it('a withdrawn invitation admits nobody after its withdrawal; a member cannot withdraw an admin\'s', () => {
    const { p, params, log } = withMember()
    const inv = log.append(p.laptop, invitation('w'))
    const byMember = log.append(p.phone, withdrawOp({ invitation: idOf('w') }))
    assertIgnored(reduce(params, log.entries), byMember, /only an admin may withdraw another device's invitation/)
    const withdrawn = log.append(p.laptop, withdrawOp({ invitation: idOf('w') }))
    const tablet = persona('tablet')
    const after = log.append(p.phone, invitedAdd('w', tablet))
    const state = reduce(params, log.entries)
    assertCounts(state, withdrawn)
    assertIgnored(state, after, /was withdrawn/)
    assert.equal(state.devices[tablet.device], undefined)
    // An admission concurrent with the withdrawal (its writer had not seen it) still counts.
    const watch = persona('watch')
    const concurrent = log.append(p.phone, invitedAdd('w', watch), { after: [inv.hash] })
    assertCounts(reduce(params, log.entries), concurrent)
  })

  it('malformed invitation ops and invited adds are refused by the parser', () => {
    const { p } = found()
    const add = { type: 'add', v: 1, device: p.phone, role: 'member', epoch: 0, lockbox: '' }
    const proof = signAdmission(secretOf('m'), idOf('m'), p.phone, 'member')
    assert.doesNotThrow(() => parseOp({ ...add, invitation: idOf('m'), proof }))
    assert.throws(() => parseOp({ ...add, invitation: idOf('m') }), /"proof" is missing/)
    assert.throws(() => parseOp({ ...add, invitation: 'ABC', proof }), /invitation id/)
    assert.throws(() => parseOp({ ...add, invitation: idOf('m'), proof: proof.slice(1) }), /"proof"/)
    const inv = { type: 'invitation', v: 1, id: idOf('m'), key: invitationPublicKey(secretOf('m')), role: 'member', expires: 2_000_000_000, confirm: false }
    assert.doesNotThrow(() => parseOp(inv))
    assert.throws(() => parseOp({ ...inv, expires: 1.5 }), /"expires"/)
    assert.throws(() => parseOp({ ...inv, confirm: 'no' }), /"confirm" must be a boolean/)
    assert.throws(() => parseOp({ ...inv, role: 'owner' }), /"role"/)
  })

  it('two concurrent admissions on one invitation: exactly one counts, the same one on every peer', () => {
    const { p, params, log, phoneAdd } = withMember()
    const inv = log.append(p.laptop, invitation('e'), { after: [phoneAdd.hash] })
    const tablet = persona('tablet')
    const watch = persona('watch')
    const a = log.append(p.phone, invitedAdd('e', tablet), { after: [inv.hash] })
    const b = log.append(p.laptop, invitedAdd('e', watch), { after: [inv.hash] })
    const one = reduce(params, log.entries)
    const other = reduce(params, [...log.entries].reverse())
    assert.deepEqual(one, other)
    const admitted = [tablet, watch].filter(d => one.devices[d.device] !== undefined)
    assert.equal(admitted.length, 1)
    const loser = one.invitations[idOf('e')]?.usedIn === a.hash ? b : a
    assertIgnored(one, loser, /already used/)
  })
})
