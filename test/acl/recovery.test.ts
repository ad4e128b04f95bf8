/**
 * The recovery key in the registry, as specs: the laptop is the founder, the phone gets
 * stolen, the recovery words are held by the person (here: `words`, a real key pair).
 */
import assert from 'node:assert/strict'
import { recoveryOp, revokeOp } from '../../acl/ops.ts'
import { lockboxFor, reduce } from '../../acl/reducer.ts'
import type { RecoveryDescriptor } from '../../acl/types.ts'
import { deviceIdFromSigningKey, generateDeviceKeys } from '../../identity/keys.ts'
import { base64urlEncode } from '../../src/crypto/bytes.ts'
import { addPayload, assertCounts, assertIgnored, fakeLockbox, found, makeRng, persona, rotatePayload } from './helpers.ts'

/** A recovery key's public half, from real keys (its id must derive from its signing key). */
const recoveryKey = (): RecoveryDescriptor => {
  const keys = generateDeviceKeys()
  return { device: deviceIdFromSigningKey(keys.signing.publicKey), signingKey: base64urlEncode(keys.signing.publicKey), boxKey: base64urlEncode(keys.box.publicKey) }
}
const setRecovery = (key: RecoveryDescriptor, epoch = 0): unknown => recoveryOp({ key, epoch, lockbox: fakeLockbox(makeRng(7)) })

describe('the recovery key in the registry', () => {
  it('set by the founder at creation, it holds a lockbox, and it may admit, revoke and rotate', () => {
    const { p, params, log } = found()
    const words = recoveryKey()
    const set = log.append(p.laptop, setRecovery(words))
    log.append(p.laptop, addPayload(p.phone, 'admin'))
    const fresh = persona('fresh')
    const admit = log.append(words.device, addPayload(fresh, 'admin'))
    const revoke = log.append(words.device, revokeOp({ device: p.phone.device }))
    const rotate = log.append(words.device, rotatePayload(1, [p.laptop, fresh, { ...words, name: 'recovery' }]))
    const state = reduce(params, log.entries)
    for (const e of [set, admit, revoke, rotate]) assertCounts(state, e)
    assert.equal(state.recovery?.device, words.device)
    assert.equal(state.recovery?.setBy, p.laptop.device)
    assert.equal(state.devices[fresh.device]?.status, 'active')
    assert.equal(state.devices[fresh.device]?.addedBy, words.device)
    assert.equal(state.devices[p.phone.device]?.status, 'revoked')
    assert.ok(lockboxFor(state, 0, words.device) !== undefined)
    assert.ok(lockboxFor(state, 1, words.device) !== undefined)
    assert.equal(state.needsRotation, false, state.rotationReason ?? '')
    // The recovery key is no device.
    assert.equal(state.devices[words.device], undefined)
  })

  it('a rotation that leaves the recovery key out asks for another', () => {
    const { p, params, log } = found()
    const words = recoveryKey()
    log.append(p.laptop, setRecovery(words))
    log.append(p.laptop, rotatePayload(1, [p.laptop]))
    const state = reduce(params, log.entries)
    assert.equal(state.needsRotation, true)
    assert.match(state.rotationReason ?? '', /recovery key has no lockbox for epoch 1/)
  })

  it('no device, not even the founder, can revoke or replace it', () => {
    const { p, params, log } = found()
    const words = recoveryKey()
    log.append(p.laptop, setRecovery(words))
    log.append(p.laptop, addPayload(p.phone, 'admin'))
    const revokeIt = log.append(p.laptop, revokeOp({ device: words.device }))
    const replaceIt = log.append(p.phone, setRecovery(recoveryKey()))
    const admitIt = log.append(p.laptop, addPayload({ ...words, name: 'sneaky' }, 'admin'))
    const state = reduce(params, log.entries)
    assertIgnored(state, revokeIt, /is not known in the causal past of this revocation/)
    assertIgnored(state, replaceIt, /only the current recovery key .* may replace it/)
    assertIgnored(state, admitIt, /is a recovery key, not a device/)
    assert.equal(state.recovery?.device, words.device)
  })

  it('a key whose id is not derived from its signing key is refused', () => {
    const { p, params, log } = found()
    const words = recoveryKey()
    const forged = log.append(p.laptop, setRecovery({ ...words, device: recoveryKey().device }))
    assertIgnored(reduce(params, log.entries), forged, /is not derived from its signing key/)
  })

  it('a stolen admin that back-dates revocations of every other device: the words admit a new device, and the thief stays revoked', () => {
    const { p, params, log } = found()
    const words = recoveryKey()
    log.append(p.laptop, setRecovery(words))
    log.append(p.laptop, addPayload(p.phone, 'admin'))
    log.append(p.laptop, addPayload(p.tablet, 'member'))
    const before = log.heads()
    const byLaptop = log.append(p.laptop, revokeOp({ device: p.phone.device }))
    log.append(p.laptop, rotatePayload(1, [p.laptop, p.tablet, { ...words, name: 'r' }]))
    // The thief back-dates revocations of the laptop and the tablet.
    log.append(p.phone, revokeOp({ device: p.laptop.device }), { after: before, time: 1 })
    log.append(p.phone, revokeOp({ device: p.tablet.device }), { after: before, time: 1 })
    const locked = reduce(params, log.entries)
    assert.deepEqual(Object.values(locked.devices).filter(d => d.status === 'active'), [])
    // The person types the words on a new machine: it is admitted as admin, and rotates.
    const fresh = persona('fresh')
    const admit = log.append(words.device, addPayload(fresh, 'admin', 0))
    const rotate = log.append(fresh, rotatePayload(1, [fresh, { ...words, name: 'r' }]))
    const state = reduce(params, log.entries)
    assertCounts(state, byLaptop)
    assertCounts(state, admit)
    assertCounts(state, rotate)
    assert.equal(state.devices[fresh.device]?.status, 'active')
    assert.equal(state.devices[p.phone.device]?.status, 'revoked')
    assert.equal(state.epoch?.startedIn, rotate.hash)
    assert.equal(lockboxFor(state, 1, p.phone.device), undefined)
    // The thief cannot revoke the new device: nothing of it is in the thief's past, and it is revoked.
    const late = log.append(p.phone, revokeOp({ device: fresh.device }))
    assertIgnored(reduce(params, log.entries), late, /voided by revocation/)
  })

  it('only the current key replaces itself; the old key\'s later ops are void, its earlier ones stay', () => {
    const { p, params, log } = found()
    const old = recoveryKey()
    const next = recoveryKey()
    log.append(p.laptop, setRecovery(old))
    const before = log.append(old.device, addPayload(p.phone, 'member'))
    const replace = log.append(old.device, setRecovery(next))
    const after = log.append(old.device, addPayload(p.tablet, 'admin'), { after: [before.hash] })
    const byNew = log.append(next.device, addPayload(persona('fresh'), 'member'), { after: [replace.hash] })
    const state = reduce(params, log.entries)
    assertCounts(state, before)
    assertCounts(state, replace)
    assertCounts(state, byNew)
    assertIgnored(state, after, new RegExp(`recovery key ${old.device} was replaced by ${replace.hash}`))
    assert.equal(state.recovery?.device, next.device)
    assert.equal(state.recovery?.setBy, old.device)
    assert.deepEqual(state.retiredRecovery.map(r => r.device), [old.device])
    // The old key held the key of epoch 0: the account must rotate it away.
    assert.match(state.rotationReason ?? '', /replaced recovery key/)
  })

  it('an account without one may get one from an admin device, not from a member', () => {
    const { p, params, log } = found()
    log.append(p.laptop, addPayload(p.phone, 'member'))
    const byMember = log.append(p.phone, setRecovery(recoveryKey()))
    const byAdmin = log.append(p.laptop, setRecovery(recoveryKey()))
    const state = reduce(params, log.entries)
    assertIgnored(state, byMember, /only an admin may set the recovery key/)
    assertCounts(state, byAdmin)
  })
})
