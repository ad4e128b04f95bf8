import assert from 'node:assert/strict'
import { addOp, genesisOp, parseOp, renameOp, revokeOp, rotateOp } from '../../acl/ops.ts'
import type { RegistryOp } from '../../acl/types.ts'
import { InvalidOperationError } from '../../src/errors.ts'
import type { DeviceId } from '../../src/types.ts'
import { DATA_LOG, fakeDeviceId, fakeLockbox, makeRng, personas } from './helpers.ts'
import type { Personas } from './helpers.ts'

/** Asserts parseOp rejects `payload` with an InvalidOperationError whose message matches. */
const rejects = (payload: unknown, message: RegExp): void => {
  assert.throws(() => parseOp(payload), (e: unknown) => {
    assert.ok(e instanceof InvalidOperationError, `expected InvalidOperationError, got ${String(e)}`)
    assert.equal(e.code, 'INVALID_OPERATION')
    assert.match(e.message, message)
    return true
  })
}

describe('registry ops', () => {
  let p: Personas
  let box: string
  let genesis: Record<string, unknown>
  let add: Record<string, unknown>

  beforeEach(() => {
    p = personas()
    box = fakeLockbox(makeRng(7))
    genesis = { type: 'genesis', v: 1, mode: 'encrypted', founder: { ...p.laptop }, dataLog: DATA_LOG, lockboxes: { [p.laptop.device]: box } }
    add = { type: 'add', v: 1, device: { ...p.phone }, role: 'member', epoch: 0, lockbox: box }
  })

  describe('parseOp accepts well-formed ops', () => {
    it('accepts a genesis and returns a copy sharing nothing with the input', () => {
      const op = parseOp(genesis)
      assert.deepEqual(op, genesis)
      assert.notEqual(op, genesis)
      assert.ok(op.type === 'genesis')
      assert.notEqual(op.founder, genesis.founder)
      assert.notEqual(op.lockboxes, genesis.lockboxes)
    })

    it('accepts add, revoke, rotate and rename', () => {
      const ops: unknown[] = [
        add,
        { ...add, role: 'admin', lockbox: '' },
        { type: 'revoke', v: 1, device: p.thief.device },
        { type: 'rotate', v: 1, epoch: 1, dataLog: '/orbitdb/zdpuNext', lockboxes: { [p.laptop.device]: box }, cut: ['zdpuHead1', 'zdpuHead2'] },
        { type: 'rename', v: 1, device: p.phone.device, name: 'Pixel 9 📱' },
        { type: 'recovery', v: 1, key: { device: p.tablet.device, signingKey: p.tablet.signingKey, boxKey: p.tablet.boxKey }, epoch: 2, lockbox: box }
      ]
      for (const payload of ops) assert.deepEqual(parseOp(payload), payload)
      // A recovery key is no device: it has no name, and nothing else.
      assert.throws(() => parseOp({ type: 'recovery', v: 1, key: { ...p.tablet }, epoch: 0, lockbox: '' }), /"key.name" is not an allowed field/)
    })

    it('accepts a public genesis with no lockboxes and a JSON round trip of any op', () => {
      assert.deepEqual(parseOp({ ...genesis, mode: 'public', lockboxes: {} }), { ...genesis, mode: 'public', lockboxes: {} })
      assert.deepEqual(parseOp(JSON.parse(JSON.stringify(add))), add)
    })

    it('accepts an object without a prototype and normalizes -0 to 0', () => {
      const bare = Object.assign(Object.create(null) as object, add, { epoch: -0 })
      const op = parseOp(bare)
      assert.ok(op.type === 'add')
      assert.ok(Object.is(op.epoch, 0))
    })
  })

  describe('parseOp rejects', () => {
    it('payloads that are not plain objects', () => {
      for (const payload of [null, undefined, 'genesis', 42, true, [], [genesis], new Date(), new Map()]) {
        rejects(payload, /"op" must be a plain object/)
      }
    })

    it('an unknown or missing type', () => {
      rejects({ ...add, type: 'promote' }, /"type" must be one of genesis, add, revoke, rotate, rename, recovery, invitation, withdraw, replica, replica-remove, swarm-box, got "promote"/)
      rejects({ ...add, type: 7 }, /"type" must be one of/)
      const { type: _type, ...untyped } = add
      rejects(untyped, /"type" is missing/)
    })

    it('a wrong or missing version', () => {
      rejects({ ...add, v: 2 }, /"v" must be 1, got 2/)
      rejects({ ...add, v: '1' }, /"v" must be 1/)
      const { v: _v, ...unversioned } = add
      rejects(unversioned, /"v" is missing/)
    })

    it('extra and missing fields, at any depth', () => {
      rejects({ ...add, admin: true }, /"admin" is not an allowed field/)
      rejects({ ...genesis, founder: { ...p.laptop, role: 'admin' } }, /"founder.role" is not an allowed field/)
      const { lockbox: _l, ...noLockbox } = add
      rejects(noLockbox, /"lockbox" is missing/)
      const { boxKey: _b, ...noBoxKey } = p.phone
      rejects({ ...add, device: noBoxKey }, /"device.boxKey" is missing/)
    })

    it('prototype tricks', () => {
      rejects(JSON.parse(`{"type":"revoke","v":1,"device":"${p.thief.device}","__proto__":{"role":"admin"}}`), /"__proto__" is a forbidden key/)
      rejects(JSON.parse(`{"type":"revoke","v":1,"device":"${p.thief.device}","constructor":{}}`), /"constructor" is a forbidden key/)
      rejects({ ...genesis, lockboxes: JSON.parse(`{"__proto__":"${box}"}`) }, /"lockboxes.__proto__" is a forbidden key/)
      rejects(Object.assign(Object.create({ type: 'revoke', v: 1 }) as object, { device: p.thief.device }), /unexpected prototype/)
      rejects({ ...add, [Symbol('x')]: 1 }, /symbol keys/)
      const withGetter = { ...add }
      Object.defineProperty(withGetter, 'role', { enumerable: true, get: () => 'admin' })
      rejects(withGetter, /"role" must be a plain data property/)
    })

    it('device ids that do not match the pattern', () => {
      for (const device of ['', 'd', 'D' + 'a'.repeat(24), 'd' + 'a'.repeat(23), 'd' + 'a'.repeat(25), 'd' + '1'.repeat(24), 'x' + 'a'.repeat(24), 42]) {
        rejects({ type: 'revoke', v: 1, device }, /"device" must be a device id/)
      }
      rejects({ ...genesis, founder: { ...p.laptop, device: 'laptop' } }, /"founder.device" must be a device id/)
      rejects({ ...genesis, lockboxes: { laptop: box } }, /"lockboxes key" must be a device id/)
    })

    it('keys that are not base64url of exactly 32 bytes', () => {
      const key = p.phone.signingKey
      const nonCanonical = key.slice(0, 42) + 'B' // 'B' sets bits past the 32nd byte
      for (const signingKey of [key.slice(1), key + 'A', key.slice(0, 42) + '=', key.slice(0, 42) + '+', nonCanonical, '']) {
        rejects({ ...add, device: { ...p.phone, signingKey } }, /"device.signingKey" must be base64url of exactly 32 bytes/)
      }
      rejects({ ...add, device: { ...p.phone, signingKey: 32 } }, /"device.signingKey" must be a string, got 32/)
      rejects({ ...add, device: { ...p.phone, boxKey: 'A'.repeat(44) } }, /"device.boxKey" must be base64url/)
    })

    it('names that are empty, too long, blank or contain control chars', () => {
      const rename = (name: unknown): unknown => ({ type: 'rename', v: 1, device: p.phone.device, name })
      for (const name of ['', ' \t', 'x'.repeat(65), 'a\nb', 'a\u0000b', 'bell\u0007', 'a\u0085b', 'evil\u202Egnp.exe', 'a\u2028b', 'lone \uD800']) {
        rejects(rename(name), /"name" must be 1\.\.64 chars of printable text/)
      }
      rejects(rename(3), /"name" must be a string, got 3/)
      assert.equal((parseOp(rename('👍'.repeat(64))) as { name: string }).name, '👍'.repeat(64))
      rejects(rename('👍'.repeat(65)), /"name" must be 1\.\.64/)
    })

    it('an unknown mode or role and invalid epochs', () => {
      rejects({ ...genesis, mode: 'secret' }, /"mode" must be one of public, encrypted, private, got "secret"/)
      rejects({ ...add, role: 'owner' }, /"role" must be one of admin, member/)
      for (const epoch of [-1, 1.5, Number.MAX_SAFE_INTEGER + 1, Infinity, NaN, '0', null]) {
        rejects({ ...add, epoch }, /"epoch" must be a non-negative safe integer/)
      }
    })

    it('data log addresses that are not OrbitDB addresses', () => {
      for (const dataLog of ['', '/orbitdb/', '/ipfs/zdpu', 'orbitdb/zdpu', '/orbitdb/zd pu', '/orbitdb/' + 'z'.repeat(192), 5]) {
        rejects({ ...genesis, dataLog }, /"dataLog" must be/)
      }
      assert.ok(parseOp({ ...genesis, dataLog: '/orbitdb/' + 'z'.repeat(191) }))
    })

    it('malformed or oversized lockboxes', () => {
      rejects({ ...genesis, lockboxes: [] }, /"lockboxes" must be a plain object/)
      rejects({ ...genesis, lockboxes: { [p.laptop.device]: 7 } }, /"lockboxes.d[a-z2-7]{24}" must be a string/)
      rejects({ ...genesis, lockboxes: { [p.laptop.device]: '' } }, /must be 1\.\.4096 base64url chars/)
      rejects({ ...genesis, lockboxes: { [p.laptop.device]: 'A'.repeat(4097) } }, /must be 1\.\.4096 base64url chars, got 4097/)
      rejects({ ...genesis, lockboxes: { [p.laptop.device]: box + '=' } }, /"lockboxes.d[a-z2-7]{24}" must be canonical unpadded base64url/)
      const rng = makeRng(3)
      const many: Record<string, string> = {}
      while (Object.keys(many).length < 1001) many[fakeDeviceId(rng)] = box
      rejects({ ...genesis, lockboxes: many }, /"lockboxes" must have at most 1000 entries/)
      rejects({ ...add, lockbox: 'A'.repeat(4097) }, /"lockbox" must be 0\.\.4096/)
      rejects({ ...add, lockbox: 'not base64!' }, /"lockbox" must be canonical/)
    })

    it('malformed or oversized cuts', () => {
      const rotate = (cut: unknown): unknown => ({ type: 'rotate', v: 1, epoch: 1, dataLog: DATA_LOG, lockboxes: {}, cut })
      rejects(rotate('h1'), /"cut" must be an array/)
      rejects(rotate(Array.from({ length: 1001 }, (_, i) => `h${i}`)), /"cut" must have at most 1000 items/)
      rejects(rotate(['h1', 2]), /"cut\[1\]" must be a string/)
      rejects(rotate(['h'.repeat(101)]), /"cut\[0\]" must be 1\.\.100/)
      rejects(rotate(['']), /"cut\[0\]" must be 1\.\.100/)
      rejects(rotate(['h1', 'h1']), /"cut\[1\]" is a duplicate/)
      rejects(rotate(Object.assign(['h1'], { extra: 1 })), /"cut" must be a dense array/)
      rejects(rotate(['h1', , 'h3']), /"cut" must be a dense array/)
      assert.ok(parseOp(rotate(Array.from({ length: 1000 }, (_, i) => `h${i}`))))
    })

    it('huge strings without choking', () => {
      const huge = 'x'.repeat(1_000_000)
      rejects({ ...add, type: huge }, /"type" must be one of .*, got a string of 1000000 chars/)
      rejects({ type: 'rename', v: 1, device: p.phone.device, name: huge }, /"name" must be 1\.\.64/)
      rejects({ type: 'revoke', v: 1, device: huge }, /"device" must be a device id/)
    })
  })

  describe('builders', () => {
    it('build typed, validated ops', () => {
      const ops: RegistryOp[] = [
        genesisOp({ mode: 'public', founder: p.laptop, dataLog: DATA_LOG }),
        addOp({ device: p.phone, role: 'member', epoch: 0 }),
        renameOp({ device: p.phone.device, name: 'Phone' }),
        revokeOp({ device: p.thief.device }),
        rotateOp({ epoch: 1, dataLog: DATA_LOG, lockboxes: { [p.laptop.device]: box }, cut: ['h3'] })
      ]
      assert.deepEqual(ops.map(op => op.type), ['genesis', 'add', 'rename', 'revoke', 'rotate'])
      assert.deepEqual(ops[0], { type: 'genesis', v: 1, mode: 'public', founder: p.laptop, dataLog: DATA_LOG, lockboxes: {} })
      assert.deepEqual(ops[1], { type: 'add', v: 1, device: p.phone, role: 'member', epoch: 0, lockbox: '' })
      for (const op of ops) assert.deepEqual(parseOp(op), op)
    })

    it('take only the descriptor fields of a richer device record', () => {
      const record = { ...p.phone, role: 'admin', status: 'active', seniority: 1 }
      assert.deepEqual(addOp({ device: record, role: 'member', epoch: 0 }).device, p.phone)
    })

    it('refuse invalid input with InvalidOperationError', () => {
      assert.throws(() => renameOp({ device: p.phone.device, name: '' }), InvalidOperationError)
      assert.throws(() => revokeOp({ device: 'nobody' as DeviceId }), InvalidOperationError)
      assert.throws(() => addOp({ device: { ...p.phone, boxKey: 'short' }, role: 'admin', epoch: 0 }), InvalidOperationError)
      assert.throws(() => rotateOp({ epoch: -1, dataLog: DATA_LOG, lockboxes: {}, cut: [] }), /"epoch"/)
    })
  })
})
