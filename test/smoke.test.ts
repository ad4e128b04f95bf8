import assert from 'node:assert/strict'
import { InvalidArgumentError, OrbitAccountError } from '../src/errors.ts'

describe('errors', () => {
  it('carry a stable code and name', () => {
    const e = new InvalidArgumentError('bad nonce')
    assert.ok(e instanceof OrbitAccountError)
    assert.equal(e.code, 'INVALID_ARGUMENT')
    assert.equal(e.name, 'InvalidArgumentError')
  })
})
