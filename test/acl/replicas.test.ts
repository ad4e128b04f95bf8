/** Replica records in the registry: registered and removed by admins only, removal final, swarm key boxes only for registered replicas. */
import assert from 'node:assert/strict'
import { replicaOp, replicaRemoveOp, revokeOp, swarmBoxOp } from '../../acl/ops.ts'
import { reduce } from '../../acl/reducer.ts'
import { addPayload, assertCounts, assertIgnored, fakeKey, fakeLockbox, found, makeRng, rotatePayload } from './helpers.ts'

const PEER = '12D3KooWAbcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQR'
const OTHER = '12D3KooWZyxwvutsrqpnmkjihgfedcbaRQPNMLKJHGFEDCBA'
const rng = makeRng(7)
const register = (peer = PEER): unknown => replicaOp({ peer, addrs: ['/ip4/127.0.0.1/tcp/4002'], boxKey: fakeKey(rng) })
const box = (epoch: number, peer = PEER): unknown => swarmBoxOp({ peer, epoch, box: fakeLockbox(rng) })

describe('registry: replica records', () => {
  it('an admin registers a replica; a member cannot register or remove one', () => {
    const { p, params, log } = found()
    log.append(p.laptop, addPayload(p.phone, 'member'))
    const byMember = log.append(p.phone, register(OTHER))
    const byAdmin = log.append(p.laptop, register())
    const removal = log.append(p.phone, replicaRemoveOp({ peer: PEER }))
    const state = reduce(params, log.entries)
    assertIgnored(state, byMember, /only an admin may register replicas/)
    assertCounts(state, byAdmin)
    assertIgnored(state, removal, /only an admin may remove replicas/)
    assert.deepEqual(Object.keys(state.replicas), [PEER])
    assert.equal(state.replicas[PEER]?.removedIn, undefined)
  })

  it('removal is final: registering the peer again does not count', () => {
    const { p, params, log } = found()
    log.append(p.laptop, register())
    const removal = log.append(p.laptop, replicaRemoveOp({ peer: PEER }))
    const again = log.append(p.laptop, register())
    const state = reduce(params, log.entries)
    assert.equal(state.replicas[PEER]?.removedIn, removal.hash)
    assertIgnored(state, again, /was removed/)
  })

  it('swarm key boxes: only for a registered, not removed replica, of a known epoch; the highest epoch is kept', () => {
    const { p, params, log } = found('private')
    const stray = log.append(p.laptop, box(0))
    log.append(p.laptop, register())
    const first = log.append(p.laptop, box(0))
    const unknownEpoch = log.append(p.laptop, box(3))
    log.append(p.laptop, rotatePayload(1, [p.laptop]))
    const next = log.append(p.laptop, box(1))
    const older = log.append(p.laptop, box(0))
    let state = reduce(params, log.entries)
    assertIgnored(state, stray, /not registered/)
    assertCounts(state, first)
    assertIgnored(state, unknownEpoch, /epoch 3 was not started/)
    assertCounts(state, next)
    assertIgnored(state, older, /already has a swarm key box for epoch 1/)
    assert.equal(state.replicas[PEER]?.swarm?.epoch, 1)
    log.append(p.laptop, replicaRemoveOp({ peer: PEER }))
    log.append(p.laptop, rotatePayload(2, [p.laptop]))
    const afterRemoval = log.append(p.laptop, box(2))
    state = reduce(params, log.entries)
    assertIgnored(state, afterRemoval, /was removed/)
  })

  it("a revoked device's box written outside its revocation's past does not count", () => {
    const { p, params, log, genesis } = found('private')
    const phoneAdd = log.append(p.laptop, addPayload(p.phone, 'admin'))
    const reg = log.append(p.laptop, register())
    log.append(p.laptop, revokeOp({ device: p.phone.device }))
    // The thief writes a box (of garbage) on the heads from before its revocation.
    const backDated = log.append(p.phone, box(0), { after: [reg.hash, phoneAdd.hash, genesis.hash] })
    const state = reduce(params, log.entries)
    assertIgnored(state, backDated, /voided by revocation/)
    assert.equal(state.replicas[PEER]?.swarm, undefined)
  })
})
