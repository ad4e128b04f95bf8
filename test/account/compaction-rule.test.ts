/**
 * The automatic compaction rule (src/account/compaction.ts) on its own: the thresholds,
 * who is the senior admin, and the check timer (many changes, one check; none after stop).
 * The devices doing it are in test/rotation/auto-compaction.test.ts.
 */
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import type { DeviceRecord } from '../../acl/types.ts'
import { compactionDue, compactionTimer, isSeniorAdmin } from '../../src/account/compaction.ts'
import type { DeviceId } from '../../src/types.ts'

type Senior = Pick<DeviceRecord, 'device' | 'role' | 'status' | 'seniority'>
const device = (id: string, seniority: number, role: 'admin' | 'member' = 'admin', status: 'active' | 'revoked' = 'active'): Senior =>
  ({ device: id as DeviceId, seniority, role, status })

describe('automatic compaction rule', () => {
  it('is due at minWrites writes and ratio x the live keys (at least one key), not before', () => {
    const rule = { minWrites: 200, ratio: 4 }
    assert.equal(compactionDue(rule, 199, 0), false)
    assert.equal(compactionDue(rule, 200, 0), true)
    assert.equal(compactionDue(rule, 200, 50), true)
    assert.equal(compactionDue(rule, 200, 51), false, '4 x 51 = 204 writes needed')
    assert.equal(compactionDue(rule, 10_000, 2_500), true)
    assert.equal(compactionDue(rule, 10_000, 2_501), false)
  })

  it('is due too once one device has made half its writes quota to the log (the log past minWrites): a device at its quota could not write', () => {
    const rule = { minWrites: 200, ratio: 4 }
    // Every write a live key: the ratio never comes due.
    assert.equal(compactionDue(rule, 100_000, 100_000), false)
    assert.equal(compactionDue(rule, 100_000, 100_000, 100_000, 100_000), true)
    assert.equal(compactionDue(rule, 50_000, 50_000, 50_000, 100_000), true)
    assert.equal(compactionDue(rule, 49_999, 49_999, 49_999, 100_000), false)
    assert.equal(compactionDue(rule, 199, 199, 199, 200), false, 'not before minWrites')
  })

  it('the senior admin is the active admin of lowest seniority: a revoked founder or a member never is', () => {
    const devices = { laptop: device('laptop', 0), phone: device('phone', 1, 'member'), tablet: device('tablet', 2) }
    assert.equal(isSeniorAdmin({ devices }, 'laptop'), true)
    assert.equal(isSeniorAdmin({ devices }, 'tablet'), false)
    assert.equal(isSeniorAdmin({ devices }, 'phone'), false)
    const revoked = { ...devices, laptop: device('laptop', 0, 'admin', 'revoked') }
    assert.equal(isSeniorAdmin({ devices: revoked }, 'laptop'), false)
    assert.equal(isSeniorAdmin({ devices: revoked }, 'phone'), false, 'a member, though now the most senior active device')
    assert.equal(isSeniorAdmin({ devices: revoked }, 'tablet'), true)
  })

  it('checks once for a burst of changes, runs when due, and never after stop', async () => {
    let checks = 0
    let runs = 0
    const timer = compactionTimer(30, () => { checks++; return true }, async () => { runs++ })
    for (let i = 0; i < 100; i++) timer.poke()
    await sleep(120)
    assert.deepEqual({ checks, runs }, { checks: 1, runs: 1 })
    timer.poke()
    timer.stop()
    await sleep(120)
    timer.poke()
    await sleep(120)
    assert.deepEqual({ checks, runs }, { checks: 1, runs: 1 })
  })
})
