/**
 * Private mode: removing a replica moves the swarm key like a revocation. The removed
 * replica was let in with the swarm key of the epoch its removal saw, so the registry
 * asks for a rotation, and the rotation after it names the swarm (src/account/swarm.ts);
 * a compaction with no removal keeps it. Public and encrypted modes ask for nothing.
 */
import assert from 'node:assert/strict'
import { replicaOp, replicaRemoveOp } from '../../acl/ops.ts'
import { reduce } from '../../acl/reducer.ts'
import { swarmEpochOf } from '../../src/account/swarm.ts'
import { fakeKey, found, makeRng, rotatePayload } from './helpers.ts'

const PEER = '12D3KooWAbcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQR'
const rng = makeRng(11)
const register = (): unknown => replicaOp({ peer: PEER, addrs: ['/ip4/127.0.0.1/tcp/4002'], boxKey: fakeKey(rng) })

describe('registry: a replica removal moves the swarm (private mode)', () => {
  it('the removal asks for a rotation, and that rotation names the swarm; a later compaction keeps it', () => {
    const { p, params, log } = found('private')
    log.append(p.laptop, register())
    log.append(p.laptop, rotatePayload(1, [p.laptop]))
    let state = reduce(params, log.entries)
    assert.equal(swarmEpochOf(state)?.epoch, 0, 'a compaction keeps the swarm')
    log.append(p.laptop, replicaRemoveOp({ peer: PEER }))
    state = reduce(params, log.entries)
    assert.equal(state.replicas[PEER]?.removedAtEpoch, 1)
    assert.equal(state.needsRotation, true)
    assert.match(state.rotationReason ?? '', /removed replica .* holds the swarm key of epoch 1/)
    log.append(p.laptop, rotatePayload(2, [p.laptop]))
    state = reduce(params, log.entries)
    assert.equal(state.needsRotation, false)
    assert.equal(swarmEpochOf(state)?.epoch, 2, 'the rotation after the removal moves the swarm')
    log.append(p.laptop, rotatePayload(3, [p.laptop]))
    assert.equal(swarmEpochOf(reduce(params, log.entries))?.epoch, 2, 'a compaction after it keeps the swarm')
  })

  it('in encrypted mode a removal asks for no rotation', () => {
    const { p, params, log } = found('encrypted')
    log.append(p.laptop, register())
    log.append(p.laptop, replicaRemoveOp({ peer: PEER }))
    const state = reduce(params, log.entries)
    assert.equal(state.replicas[PEER]?.removedAtEpoch, 0)
    assert.equal(state.needsRotation, false)
  })
})
