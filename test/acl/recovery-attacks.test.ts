/**
 * The recovery key against a thief who kept the old words, or a stolen founder: four
 * holes the generated histories found, each in its smallest case. Closed by judging
 * recovery ops on their own causal past (final, as revocations are), by voiding every
 * successor of a key replaced twice concurrently, and by putting the words made at
 * creation in the genesis.
 */
import assert from 'node:assert/strict'
import { genesisOp, revokeOp } from '../../acl/ops.ts'
import { reduce } from '../../acl/reducer.ts'
import type { RecoveryDescriptor, RegistryEntry } from '../../acl/types.ts'
import { addPayload, assertCounts, assertIgnored, DATA_LOG, fakeLockbox, found, makeRng, paramsFor, persona, personas, recoveryKeyFrom, recoveryPayload, registry, rotatePayload } from './helpers.ts'
import type { Founded } from './helpers.ts'

describe('the recovery key against stolen old words and a stolen founder', () => {
  const hole = it
  /** An account whose founder set the words `old`; `next` are the words that replace them. */
  const setUp = (): Founded & { old: RecoveryDescriptor, next: RecoveryDescriptor, set: RegistryEntry } => {
    const founded = found()
    const old = recoveryKeyFrom(makeRng(1))
    const set = founded.log.append(founded.p.laptop, recoveryPayload(old))
    return { ...founded, old, next: recoveryKeyFrom(makeRng(2)), set }
  }

  hole('1: an op of the old words concurrent with their replacement does not count, whatever its clock', () => {
    const { p, params, log, old, next, set } = setUp()
    const replace = log.append(old.device, recoveryPayload(next))
    const accomplice = persona('accomplice')
    // With an honest clock (sorted after the replacement) it is void; with an early one it counts.
    const admit = log.append(old.device, addPayload(accomplice, 'admin'), { after: [set.hash], time: 1 })
    const state = reduce(params, log.entries)
    assertCounts(state, replace)
    assertIgnored(state, admit, /replaced/)
    assert.equal(state.devices[accomplice.device], undefined)
    assert.equal(state.devices[p.laptop.device]?.status, 'active')
  })

  hole('2: a thief holding the old words cannot take the key over with a back-dated replacement of its own', () => {
    const { p, params, log, old, next, set } = setUp()
    const mine = log.append(old.device, recoveryPayload(next))
    const theirs = recoveryKeyFrom(makeRng(3))
    const fork = log.append(old.device, recoveryPayload(theirs), { after: [set.hash], time: 1 })
    const admit = log.append(theirs.device, addPayload(persona('accomplice'), 'admin'), { after: [fork.hash] })
    const state = reduce(params, log.entries)
    assert.notEqual(state.recovery?.device, theirs.device)
    assertIgnored(state, admit, /./)
    // Two replacements by one key prove its words were stolen: neither counts, and an admin sets new words.
    assertIgnored(state, fork, /replaced twice concurrently/)
    assertIgnored(state, mine, /replaced twice concurrently/)
    assert.equal(state.recovery, null)
    const fresh = recoveryKeyFrom(makeRng(4))
    const again = log.append(p.laptop, recoveryPayload(fresh))
    const after = reduce(params, log.entries)
    assertCounts(after, again)
    assert.equal(after.recovery?.device, fresh.device)
  })

  hole('3: a back-dated revocation by the old words does not void their replacement (via the epoch its lockbox names)', () => {
    const { p, params, log, old, next, set } = setUp()
    log.append(p.laptop, addPayload(p.phone, 'admin'))
    log.append(p.phone, rotatePayload(1, [p.laptop, p.phone, { ...old, name: 'words' }]))
    const replace = log.append(old.device, recoveryPayload(next, 1))
    // Honest clock: the revocation of the founder voids the phone's admission, so its rotation, so epoch 1.
    log.append(old.device, revokeOp({ device: p.laptop.device }), { after: [set.hash] })
    const state = reduce(params, log.entries)
    assertCounts(state, replace)
    assert.equal(state.recovery?.device, next.device)
  })

  hole('4: a stolen founder revoking itself on the genesis does not void the recovery words made at creation', () => {
    const p = personas()
    const log = registry()
    const old = recoveryKeyFrom(makeRng(1))
    const genesis = log.append(p.laptop, genesisOp({ mode: 'encrypted', founder: p.laptop, dataLog: DATA_LOG, lockboxes: { [p.laptop.device]: fakeLockbox(makeRng(5)), [old.device]: fakeLockbox(makeRng(6)) }, recovery: old }))
    log.append(p.laptop, addPayload(p.phone, 'admin'))
    log.append(p.laptop, revokeOp({ device: p.laptop.device }), { after: [genesis.hash] })
    const params = paramsFor(p.laptop)
    const state = reduce(params, log.entries)
    assert.equal(state.recovery?.device, old.device, 'no recovery key, and no active device: nobody can take the account back')
    // Words a device sets later count like its other ops: this back-dated revocation voids them (denial of service).
    const { p: q, params: params2, log: log2, genesis: genesis2 } = found()
    const later = log2.append(q.laptop, recoveryPayload(old))
    log2.append(q.laptop, revokeOp({ device: q.laptop.device }), { after: [genesis2.hash] })
    const state2 = reduce(params2, log2.entries)
    assertIgnored(state2, later, /voided by revocation/)
    assert.equal(state2.recovery, null)
  })
})
