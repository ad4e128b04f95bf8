/** The join protocol's waiting room: streams without a hello are few, per peer and in all. */
import assert from 'node:assert/strict'
import { helloGate } from '../../src/join/gate.ts'

describe('join: the waiting room for hellos', () => {
  it('a peer keeps at most perPeer streams waiting; one leaving makes room for another', () => {
    const gate = helloGate({ perPeer: 2, total: 16 })
    const first = gate.enter('stranger', () => assert.fail('evicted'))
    assert.ok(first !== undefined)
    assert.ok(gate.enter('stranger', () => assert.fail('evicted')) !== undefined)
    assert.equal(gate.enter('stranger', () => assert.fail('evicted')), undefined)
    // Another peer is not held back by the stranger.
    assert.ok(gate.enter('phone', () => assert.fail('evicted')) !== undefined)
    first()
    first()
    assert.equal(gate.size(), 2)
    assert.ok(gate.enter('stranger', () => assert.fail('evicted')) !== undefined)
    assert.equal(gate.enter('stranger', () => assert.fail('evicted')), undefined)
  })

  it('when full, the oldest stream makes way for the newest, so a full room never turns a joiner away', () => {
    const gate = helloGate({ perPeer: 2, total: 4 })
    const evicted: string[] = []
    const leaves = ['a1', 'a2', 'b1', 'b2'].map((name) => gate.enter(name.charAt(0), () => evicted.push(name)))
    assert.ok(leaves.every((l) => l !== undefined))
    const phone = gate.enter('phone', () => evicted.push('phone'))
    assert.ok(phone !== undefined)
    assert.deepEqual(evicted, ['a1'])
    assert.equal(gate.size(), 4)
    // The evicted stream's slot of its peer is free again; its late leave() changes nothing.
    leaves[0]?.()
    assert.equal(gate.size(), 4)
    assert.ok(gate.enter('a', () => evicted.push('a3')) !== undefined)
    assert.deepEqual(evicted, ['a1', 'a2'])
    phone()
    assert.equal(gate.size(), 3)
  })
})
