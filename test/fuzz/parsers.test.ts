/**
 * Fuzz specs for every parser that reads untrusted input: invites, join messages,
 * registry ops, data ops and their codecs, and the registry reducer. Each must either
 * accept a value or throw one of its own typed errors (never a TypeError, never hang),
 * and the reducer must never throw and must not depend on the order of its entries.
 * Pure and in-process; fast-check seeds are printed on failure so a case can be replayed.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { sha256 as sha256Hasher } from 'multiformats/hashes/sha2'
import { encodeInvite, parseInvite } from '../../src/invite/invite.ts'
import { decodeMessage, encodeMessage, MAX_MESSAGE_BYTES } from '../../src/join/messages.ts'
import { parseOp, OP_TYPES } from '../../acl/ops.ts'
import { reduce } from '../../acl/reducer.ts'
import type { DeviceDescriptor, RegistryEntry } from '../../acl/types.ts'
import { encryptedCodec, parseDataOp, plainCodec, dataAad } from '../../src/store/codec.ts'
import { encrypt, generateKey } from '../../src/crypto/aead.ts'
import { base64urlEncode, utf8Encode } from '../../src/crypto/bytes.ts'
import { isOrbitAccountError } from '../../src/errors.ts'
import { accountFor, baseInvite, EIGHT_ADDRS, rawInvite, rawInviteOf } from '../invite/fixtures.ts'
import { addPayload, DATA_LOG, fakeLockbox, makeRng, paramsFor, persona, rotatePayload } from '../acl/helpers.ts'
import { genesisOp, renameOp, revokeOp } from '../../acl/ops.ts'

/** Runs per target: thousands where the code is pure. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 2000)

/** Every code of src/errors.ts (ErrorCode is a type only, so it is spelled out here). */
const ERROR_CODES = new Set([
  'INVALID_ARGUMENT', 'DECRYPTION_FAILED', 'INVALID_CIPHERTEXT', 'WRONG_PASSPHRASE', 'PASSPHRASE_REQUIRED',
  'KEYSTORE_CORRUPT', 'KEYSTORE_PERMISSIONS', 'KEYSTORE_MISSING', 'NO_ACCOUNT', 'ACCOUNT_EXISTS', 'STORE_LOCKED',
  'INVALID_OPERATION', 'NOT_AUTHORIZED', 'INVALID_JSON', 'VALUE_TOO_LARGE', 'NOT_IMPLEMENTED', 'DAEMON_UNREACHABLE',
  'PROTOCOL_ERROR', 'TIMEOUT', 'INVALID_INVITE', 'INVITE_EXPIRED', 'INVITE_USED', 'INVITE_REJECTED',
  'CONFIRMATION_REJECTED', 'JOIN_FAILED', 'UNKNOWN_DEVICE', 'ALREADY_REVOKED', 'INTERNAL'
])

/** Cases tried per target, reported at the end. */
const tried = new Map<string, number>()
const count = (target: string): void => { tried.set(target, (tried.get(target) ?? 0) + 1) }

const describeError = (err: unknown): string =>
  err instanceof Error ? `${err.name} (${String((err as { code?: unknown }).code)}): ${err.message}` : `non-error ${String(err)}`

/** Calls `f`; a throw must be a typed error with one of `codes` (any known code when omitted). */
const typedOrValue = <T>(f: () => T, codes?: readonly string[]): { ok: true, value: T } | { ok: false, code: string } => {
  try {
    return { ok: true, value: f() }
  } catch (err) {
    assert.ok(isOrbitAccountError(err), `expected a typed error, got ${describeError(err)}`)
    assert.equal(typeof err.code, 'string')
    assert.ok(ERROR_CODES.has(err.code), `unknown code ${err.code}`)
    if (codes !== undefined) assert.ok(codes.includes(err.code), `expected one of ${codes.join(', ')}, got ${describeError(err)}`)
    return { ok: false, code: err.code }
  }
}

/** Anything JavaScript can hold, with the odd kinds on. */
const anything = fc.anything({
  maxDepth: 4,
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withSparseArray: true,
  withTypedArray: true,
  withUnicodeString: true
})

/** A huge string without generating it character by character. */
const hugeString = fc.tuple(fc.integer({ min: 1_000, max: 1_200_000 }), fc.string({ minLength: 1, maxLength: 3 }))
  .map(([n, unit]) => unit.repeat(Math.ceil(n / unit.length)))

/** An object whose keys include __proto__, constructor or prototype as own data properties. */
const protoKeyed = (inner: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> =>
  fc.tuple(fc.constantFrom('__proto__', 'constructor', 'prototype'), inner, fc.dictionary(fc.string(), inner, { maxKeys: 4 }))
    .map(([key, value, rest]) => {
      const o: Record<string, unknown> = { ...rest }
      Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true })
      return o
    })

/** Same, but through JSON.parse, which is how such keys arrive from the network. */
const jsonProtoKeyed = fc.tuple(fc.constantFrom('__proto__', 'constructor', 'prototype'), fc.jsonValue({ maxDepth: 2 }), fc.jsonValue({ maxDepth: 2 }))
  .map(([key, value, t]) => JSON.parse(`{"t":${JSON.stringify(t)},"type":"add","v":1,${JSON.stringify(key)}:${JSON.stringify(value)}}`) as unknown)

// ---------------------------------------------------------------------------------------
// Realistic field values, right and wrong.

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const b64Of = (n: number): fc.Arbitrary<string> => fc.uint8Array({ minLength: n, maxLength: n }).map(base64urlEncode)
const nearB64 = fc.oneof(b64Of(32), b64Of(16), fc.string({ unit: fc.constantFrom(...B64), maxLength: 50 }), fc.string({ maxLength: 50 }))
const deviceIdLike = fc.oneof(
  fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz234567'), minLength: 24, maxLength: 24 }).map((s) => `d${s}`),
  fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789D'), minLength: 20, maxLength: 28 }).map((s) => `d${s}`),
  fc.string()
)
const wrongTyped = fc.oneof(fc.constant(null), fc.constant(undefined), fc.integer(), fc.double(), fc.boolean(), fc.array(fc.string(), { maxLength: 3 }), fc.object({ maxDepth: 1 }), fc.bigInt())
const maybeWrong = <T>(good: fc.Arbitrary<T>): fc.Arbitrary<unknown> => fc.oneof({ weight: 3, arbitrary: good }, { weight: 1, arbitrary: wrongTyped }, { weight: 1, arbitrary: hugeString })

const descriptorLike = fc.record({
  device: maybeWrong(deviceIdLike),
  name: maybeWrong(fc.string({ unit: 'binary', maxLength: 80 })),
  signingKey: maybeWrong(nearB64),
  boxKey: maybeWrong(nearB64),
  extra: wrongTyped
}, { requiredKeys: ['device', 'name', 'signingKey', 'boxKey'] })

/** Registry-op-shaped objects: right field names, mostly wrong or borderline values. */
const opShaped = fc.record({
  type: fc.oneof(fc.constantFrom(...OP_TYPES), fc.string(), wrongTyped),
  v: fc.oneof(fc.constant(1), fc.constant('1'), fc.constant(1.5), fc.constant(-0), fc.constant(2), wrongTyped),
  mode: fc.oneof(fc.constantFrom('public', 'encrypted', 'private', 'Public'), wrongTyped),
  founder: fc.oneof(descriptorLike, wrongTyped),
  device: fc.oneof(descriptorLike, deviceIdLike, wrongTyped),
  dataLog: fc.oneof(fc.string({ maxLength: 40 }).map((s) => `/orbitdb/${s}`), fc.string(), hugeString, wrongTyped),
  lockboxes: fc.oneof(fc.dictionary(deviceIdLike, maybeWrong(nearB64), { maxKeys: 4 }), protoKeyed(fc.string()), wrongTyped),
  lockbox: maybeWrong(nearB64),
  role: fc.oneof(fc.constantFrom('admin', 'member', 'owner'), wrongTyped),
  epoch: fc.oneof(fc.integer({ min: -2, max: 5 }), fc.constant(Number.MAX_SAFE_INTEGER + 1), fc.double(), wrongTyped),
  cut: fc.oneof(fc.array(fc.oneof(fc.string({ maxLength: 120 }), wrongTyped), { maxLength: 4 }), fc.sparseArray(fc.string(), { maxLength: 4 }), wrongTyped),
  name: maybeWrong(fc.string({ unit: 'binary', maxLength: 80 }))
}, { requiredKeys: [] })

/** Real ops of every type, as the builders make them. */
const people: DeviceDescriptor[] = ['laptop', 'phone', 'tablet', 'thief'].map(persona)
const founder = people[0] as DeviceDescriptor
const params = paramsFor(founder)
const person = fc.constantFrom(...people)
const validOp: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(genesisOp({ mode: 'encrypted', founder, dataLog: DATA_LOG, lockboxes: { [founder.device]: fakeLockbox(makeRng(1)) } })),
  fc.tuple(person, fc.constantFrom('admin' as const, 'member' as const), fc.integer({ min: 0, max: 3 })).map(([d, role, epoch]) => addPayload(d, role, epoch)),
  person.map((d) => revokeOp({ device: d.device })),
  fc.tuple(fc.integer({ min: 0, max: 3 }), fc.subarray(people), fc.subarray(['g', 'a', 'b', 'c'])).map(([epoch, ds, cut]) => rotatePayload(epoch, ds, cut)),
  fc.tuple(person, fc.string({ minLength: 1, maxLength: 10 })).map(([d, name]) => renameOp({ device: d.device, name: `n${name}` }))
)

/** A valid op with one field replaced by something else. */
const mutatedOp = fc.tuple(validOp, fc.string({ maxLength: 12 }), fc.oneof(wrongTyped, hugeString, fc.string()), fc.boolean())
  .map(([op, key, value, drop]) => {
    const copy = JSON.parse(JSON.stringify(op)) as Record<string, unknown>
    const keys = Object.keys(copy)
    const target = keys[key.length % keys.length] ?? key
    if (drop) delete copy[target]
    else copy[key.length % 3 === 0 ? key : target] = value
    return copy
  })

/** An object with a getter: a parser must not run it. */
const withGetter = fc.constantFrom(...OP_TYPES).map((type) => {
  const o: Record<string, unknown> = { type, v: 1 }
  Object.defineProperty(o, 'device', { enumerable: true, get: () => { throw new Error('a getter ran') } })
  return o
})

describe('fuzz: parsers of untrusted input', function () {
  this.timeout(120_000)

  after(() => {
    const lines = [...tried].map(([target, n]) => `      ${target}: ${n} cases`)
    console.log(`    cases tried:\n${lines.join('\n')}`)
  })

  // -------------------------------------------------------------------------------------
  describe('parseInvite', () => {
    let valid: string[] = []
    before(async () => {
      const account = await accountFor('fuzz')
      valid = [
        encodeInvite(baseInvite(account)),
        encodeInvite(baseInvite(account, { addrs: EIGHT_ADDRS, mode: 'private', swarmKey: new Uint8Array(32).fill(9) })),
        encodeInvite(baseInvite(account, { mode: 'public', expires: 1 }))
      ]
    })
    const INVITE_CODES = ['INVALID_INVITE', 'INVITE_EXPIRED']
    const canonical = (s: string): string => s.trim().replace(/[a-z]+/g, (x) => x.toUpperCase())

    const check = (text: string, now?: number): void => {
      count('parseInvite')
      const r = typedOrValue(() => parseInvite(text, now === undefined ? undefined : { now }), INVITE_CODES)
      // Encoding is canonical: whatever parses re-encodes to the same text.
      if (r.ok) assert.equal(encodeInvite(r.value), canonical(text))
    }

    it('arbitrary strings: an invite or InvalidInviteError/InviteExpiredError', () => {
      fc.assert(fc.property(fc.oneof(
        fc.string({ unit: 'binary', maxLength: 400 }),
        fc.string({ unit: 'grapheme', maxLength: 200 }).map((s) => `OA1${s}`),
        fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567abcz018 '), maxLength: 600 }).map((s) => `OA1${s}`),
        fc.string({ unit: 'binary', maxLength: 5 }).map((s) => `OA${s}`),
        hugeString
      ), fc.option(fc.integer({ min: 0, max: 2 ** 42 }), { nil: undefined }), (text, now) => { check(text, now) }), { numRuns: RUNS })
    })

    it('mutated valid invites: flipped, dropped, inserted and swapped characters, truncation, case, whitespace', () => {
      const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
      const mutation = fc.oneof(
        fc.tuple(fc.nat(), fc.constantFrom(...ALPHABET)).map(([i, c]) => (s: string) => { const k = i % s.length; return s.slice(0, k) + c + s.slice(k + 1) }),
        fc.nat().map((i) => (s: string) => { const k = i % s.length; return s.slice(0, k) + s.slice(k + 1) }),
        fc.tuple(fc.nat(), fc.string({ unit: 'binary', minLength: 1, maxLength: 3 })).map(([i, c]) => (s: string) => { const k = i % (s.length + 1); return s.slice(0, k) + c + s.slice(k) }),
        fc.nat().map((i) => (s: string) => { const k = i % Math.max(1, s.length - 1); return s.slice(0, k) + (s[k + 1] ?? '') + (s[k] ?? '') + s.slice(k + 2) }),
        fc.nat().map((i) => (s: string) => s.slice(0, i % (s.length + 1))),
        fc.constant((s: string) => s.toLowerCase()),
        fc.constant((s: string) => ` \n${s}\t `),
        fc.constant((s: string) => s + s)
      )
      fc.assert(fc.property(fc.nat(), fc.array(mutation, { minLength: 1, maxLength: 4 }), (which, mutations) => {
        const text = mutations.reduce((s, m) => m(s), valid[which % valid.length] as string)
        check(text, 1_700_000_000_000)
      }), { numRuns: RUNS })
    })

    it('well-formed checksummed bodies with arbitrary dag-cbor contents', () => {
      const cborValue = fc.letrec((tie) => ({
        leaf: fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.string({ maxLength: 20 }), fc.uint8Array({ maxLength: 40 }), fc.double({ noNaN: true, noDefaultInfinity: true })),
        node: fc.oneof({ depthSize: 'small' }, tie('leaf'), fc.array(tie('node'), { maxLength: 9 }), fc.dictionary(fc.string({ maxLength: 5 }), tie('node'), { maxKeys: 3 }))
      })).node
      const nearInvite = fc.tuple(
        fc.oneof(fc.constant(1), fc.integer()), fc.oneof(fc.integer({ min: -1, max: 3 }), fc.string()),
        fc.uint8Array({ maxLength: 80 }), fc.uint8Array({ maxLength: 90 }), fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 9 }),
        fc.uint8Array({ minLength: 15, maxLength: 17 }), fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })), fc.option(fc.uint8Array({ maxLength: 33 }), { nil: undefined })
      ).map((t) => t[7] === undefined ? t.slice(0, 7) : t)
      fc.assert(fc.property(fc.oneof(cborValue, nearInvite), (value) => {
        let text: string
        try {
          text = rawInviteOf(value)
        } catch {
          return // not dag-cbor encodable
        }
        check(text)
      }), { numRuns: RUNS })
      fc.assert(fc.property(fc.uint8Array({ minLength: 60, maxLength: 700 }), (bytes) => { check(rawInvite(bytes)) }), { numRuns: RUNS })
    })
  })

  // -------------------------------------------------------------------------------------
  describe('decodeMessage (join protocol)', () => {
    const check = (bytes: Uint8Array): void => {
      count('decodeMessage')
      const r = typedOrValue(() => decodeMessage(bytes), ['PROTOCOL_ERROR'])
      // Whatever is accepted is a message that survives its own encoding.
      if (r.ok) assert.deepEqual(decodeMessage(encodeMessage(r.value)), r.value)
    }
    const json = (v: unknown): Uint8Array => utf8Encode(JSON.stringify(v) ?? 'undefined')

    it('arbitrary bytes, truncated and oversized frames', () => {
      fc.assert(fc.property(fc.oneof(
        fc.uint8Array({ maxLength: 300 }),
        fc.uint8Array({ minLength: MAX_MESSAGE_BYTES - 2, maxLength: MAX_MESSAGE_BYTES + 2 }),
        fc.tuple(fc.jsonValue(), fc.nat()).map(([v, n]) => { const b = json(v); return b.subarray(0, n % (b.length + 1)) })
      ), check), { numRuns: RUNS })
    })

    it('arbitrary JSON values, and JSON objects shaped like join messages', () => {
      const t = fc.oneof(fc.constantFrom('hello', 'challenge', 'request', 'confirming', 'admitted', 'error'), fc.jsonValue({ maxDepth: 2 }))
      const shaped = fc.record({
        t,
        v: fc.oneof(fc.constant(1), fc.jsonValue({ maxDepth: 1 })),
        invite: fc.oneof(fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 32, maxLength: 32 }), fc.string({ maxLength: 70 }), fc.jsonValue({ maxDepth: 1 })),
        nonce: fc.oneof(b64Of(16), nearB64, fc.jsonValue({ maxDepth: 1 })),
        mac: fc.oneof(b64Of(32), nearB64, fc.jsonValue({ maxDepth: 1 })),
        account: fc.oneof(fc.string({ maxLength: 210 }), fc.jsonValue({ maxDepth: 1 })),
        confirm: fc.oneof(fc.boolean(), fc.jsonValue({ maxDepth: 1 })),
        inviter: fc.oneof(fc.record({ device: fc.oneof(deviceIdLike, fc.jsonValue({ maxDepth: 1 })), signingKey: fc.oneof(b64Of(32), fc.jsonValue({ maxDepth: 1 })) }), fc.jsonValue({ maxDepth: 2 })),
        device: fc.oneof(descriptorLike.map((d) => JSON.parse(JSON.stringify(d, (_k, x: unknown) => typeof x === 'bigint' ? 0 : x) ?? 'null') as unknown), fc.jsonValue({ maxDepth: 2 })),
        code: fc.oneof(fc.constantFrom('INVITE_REJECTED', 'PROTOCOL_ERROR', 'NOPE', '123 456'), fc.jsonValue({ maxDepth: 1 })),
        message: fc.oneof(fc.string({ maxLength: 600 }), fc.jsonValue({ maxDepth: 1 })),
        role: fc.oneof(fc.constantFrom('admin', 'member', 'root'), fc.jsonValue({ maxDepth: 1 })),
        registryHeads: fc.oneof(fc.array(fc.string({ maxLength: 110 }), { maxLength: 70 }), fc.jsonValue({ maxDepth: 2 })),
        dataHeads: fc.oneof(fc.array(fc.string({ maxLength: 110 }), { maxLength: 3 }), fc.jsonValue({ maxDepth: 2 }))
      }, { requiredKeys: ['t'] })
      fc.assert(fc.property(fc.oneof(fc.jsonValue(), shaped, jsonProtoKeyed), (v) => { check(json(v)) }), { numRuns: RUNS })
    })

    it('a "t" that is an object whose toString/valueOf are not functions (from JSON.parse)', () => {
      // Found by the property above: String(o.t) in the unknown-type branch throws a TypeError.
      fc.assert(fc.property(fc.constantFrom('toString', 'valueOf'), fc.jsonValue({ maxDepth: 1 }), fc.boolean(), (key, value, both) => {
        const inner = both ? `{"toString":${JSON.stringify(value)},"valueOf":1}` : `{${JSON.stringify(key)}:${JSON.stringify(value)}}`
        check(utf8Encode(`{"t":${inner}}`))
        check(utf8Encode(`{"t":[${inner}]}`))
      }), { numRuns: 200 })
    })
  })

  // -------------------------------------------------------------------------------------
  describe('parseOp (registry ops)', () => {
    const check = (payload: unknown): void => {
      count('parseOp')
      const r = typedOrValue(() => parseOp(payload), ['INVALID_OPERATION'])
      if (r.ok) {
        // A fresh, plain-data copy: JSON round-trips, and parsing it again gives the same op.
        assert.deepEqual(JSON.parse(JSON.stringify(r.value)), r.value)
        assert.deepEqual(parseOp(JSON.parse(JSON.stringify(r.value))), r.value)
        assert.notEqual(r.value, payload)
      }
    }

    it('anything, JSON values, op-shaped objects with wrong types, huge strings, __proto__ keys, getters', () => {
      fc.assert(fc.property(fc.oneof(
        anything, fc.jsonValue(), opShaped, mutatedOp, validOp, protoKeyed(anything), jsonProtoKeyed, withGetter,
        fc.tuple(validOp, fc.constantFrom('__proto__', 'constructor', 'prototype')).map(([op, k]) => JSON.parse(JSON.stringify(op).replace('{"type"', `{"${k}":{"type":"add"},"type"`)) as unknown),
        validOp.map((op) => Object.assign(Object.create({ inherited: true }) as object, op)),
        hugeString
      ), check), { numRuns: RUNS * 2 })
    })
  })

  // -------------------------------------------------------------------------------------
  describe('parseDataOp and the payload codecs', () => {
    const account = '/orbitdb/zdpuFuzzAccount'
    const key = generateKey()
    const codec = encryptedCodec(key, account, 3)
    const recordLike = fc.record({
      k: maybeWrong(fc.string({ unit: 'binary', maxLength: 20 })),
      v: fc.oneof(fc.jsonValue({ maxDepth: 2 }), wrongTyped),
      s: fc.oneof(fc.tuple(fc.integer({ min: -1, max: 2 ** 31 + 1 }), fc.oneof(fc.nat(), fc.double()), fc.string({ maxLength: 210 }), fc.string({ maxLength: 5 })), fc.array(wrongTyped, { maxLength: 5 }), wrongTyped)
    }, { requiredKeys: [] })
    const dataShaped = fc.record({
      op: fc.oneof(fc.constantFrom('put', 'del', 'snapshot', 'carry'), wrongTyped),
      key: fc.oneof(fc.string({ unit: 'binary', maxLength: 20 }), fc.constant(''), fc.constant('\u0000'), hugeString, wrongTyped),
      value: fc.oneof(fc.jsonValue({ maxDepth: 3 }), anything, hugeString),
      part: fc.oneof(fc.integer({ min: -1, max: 100_001 }), wrongTyped),
      of: fc.oneof(fc.integer({ min: -1, max: 100_001 }), wrongTyped),
      records: fc.oneof(fc.array(recordLike, { maxLength: 5 }), wrongTyped)
    }, { requiredKeys: [] })
    const values = fc.oneof(anything, fc.jsonValue(), dataShaped, protoKeyed(anything), jsonProtoKeyed, hugeString)

    it('parseDataOp and plainCodec.decode on arbitrary values: an op or a typed error', () => {
      fc.assert(fc.property(values, (v) => {
        count('parseDataOp')
        typedOrValue(() => parseDataOp(v))
        count('plainCodec.decode')
        typedOrValue(() => plainCodec.decode(v))
      }), { numRuns: RUNS })
    })

    it('encryptedCodec.decode on arbitrary values, arbitrary bytes and authentic ciphertexts of arbitrary plaintexts', () => {
      const aad = dataAad(account, 3)
      const sealed = fc.oneof(
        fc.uint8Array({ maxLength: 200 }).map((b) => encrypt(key, b, aad)),
        fc.oneof(fc.jsonValue(), dataShaped.map((d) => JSON.parse(JSON.stringify(d, (_k, x: unknown) => typeof x === 'bigint' ? 1 : x) ?? 'null') as unknown))
          .map((v) => encrypt(key, utf8Encode(JSON.stringify(v) ?? ''), aad)),
        fc.tuple(fc.uint8Array({ maxLength: 100 }), fc.nat()).map(([b, i]) => { const c = encrypt(key, b, aad); const j = i % c.length; c[j] = (c[j] ?? 0) ^ 1; return c })
      )
      fc.assert(fc.property(fc.oneof(values, fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 60 }).map((b) => Uint8Array.of(1, ...b)), sealed), (payload) => {
        count('encryptedCodec.decode')
        typedOrValue(() => codec.decode(payload))
      }), { numRuns: RUNS })
    })

    it('plainCodec.decode of dag-cbor payloads accepts only JSON values (no bytes, no CIDs)', async () => {
      // Public-mode payloads arrive dag-cbor decoded; a put whose "value" is a byte string or a
      // CID is not a JSON value, and must not reach the index as one.
      const cid = CID.create(1, 0x71, await sha256Hasher.digest(utf8Encode('x')))
      const leaf = fc.oneof(fc.jsonValue({ maxDepth: 0 }), fc.uint8Array({ maxLength: 4 }), fc.constant(cid), fc.bigInt({ min: 2n ** 60n, max: 2n ** 70n }))
      const cborish = fc.letrec((tie) => ({
        node: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('node'), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 4 }), tie('node'), { maxKeys: 3 }))
      })).node
      fc.assert(fc.property(cborish, (value) => {
        count('plainCodec.decode (dag-cbor)')
        let decoded: unknown
        try {
          decoded = dagCbor.decode(dagCbor.encode({ op: 'put', key: 'k', value }))
        } catch {
          return
        }
        const r = typedOrValue(() => plainCodec.decode(decoded))
        if (r.ok && r.value.op === 'put') {
          assert.deepEqual(JSON.parse(JSON.stringify(r.value.value)), r.value.value, 'an accepted value is plain JSON')
        }
      }), { numRuns: RUNS })
    })
  })

  // -------------------------------------------------------------------------------------
  describe('reduce (registry reducer)', () => {
    const HASHES = ['g', 'a', 'b', 'c', 'd', 'e', 'f', 'h']
    const hash = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...HASHES) }, { weight: 1, arbitrary: fc.string({ maxLength: 4 }) })
    const author = fc.oneof({ weight: 6, arbitrary: person.map((p) => p.device as string) }, { weight: 1, arbitrary: fc.oneof(deviceIdLike, fc.string()) })
    const admission = fc.tuple(person, fc.constantFrom('admin' as const, 'member' as const)).map(([d, role]) => addPayload(d, role, 0))
    const payload = fc.oneof({ weight: 4, arbitrary: admission }, { weight: 5, arbitrary: validOp }, { weight: 2, arbitrary: mutatedOp }, { weight: 1, arbitrary: opShaped }, { weight: 1, arbitrary: anything })
    const genesis = (time: number): RegistryEntry => ({
      hash: 'g', author: founder.device, next: [], clock: { id: founder.device, time },
      payload: genesisOp({ mode: 'encrypted', founder, dataLog: DATA_LOG, lockboxes: { [founder.device]: fakeLockbox(makeRng(1)) } })
    })
    /** Entries with a broken envelope, as the reducer may get from a buggy caller. */
    const malformed = fc.oneof(
      anything,
      fc.record({ hash: fc.oneof(hash, wrongTyped), author: fc.oneof(author, wrongTyped), next: fc.oneof(fc.array(hash), fc.array(wrongTyped), wrongTyped), clock: fc.oneof(wrongTyped, fc.record({ id: wrongTyped, time: wrongTyped })), payload: anything }, { requiredKeys: [] })
    ) as fc.Arbitrary<RegistryEntry>
    /** `arb` once in `n` cases, else null. */
    const rarely = <T>(arb: fc.Arbitrary<T>, n: number): fc.Arbitrary<T | null> =>
      fc.oneof({ weight: n - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb })
    /** One entry to append: its parents are earlier entries (a DAG), plus now and then a self, future or random parent. */
    const step = fc.record({
      author: fc.oneof({ weight: 4, arbitrary: fc.constant(founder.device as string) }, { weight: 4, arbitrary: author }),
      parents: fc.array(fc.nat(), { maxLength: 3 }),
      odd: rarely(fc.array(fc.oneof(hash, fc.constantFrom('<self>', '<future>')), { minLength: 1, maxLength: 2 }), 6),
      reuse: rarely(fc.nat(), 15),
      time: rarely(fc.oneof(fc.integer({ min: 0, max: 12 }), fc.double()), 4),
      payload
    })
    const entries = fc.tuple(
      fc.integer({ min: 0, max: 3 }),
      fc.array(fc.oneof({ weight: 8, arbitrary: step }, { weight: 1, arbitrary: malformed.map((m) => ({ malformed: m })) }), { maxLength: 24 })
    ).map(([g, steps]) => {
      const list: RegistryEntry[] = g > 0 ? [genesis(0)] : []
      const placed: RegistryEntry[] = [...list]
      steps.forEach((st, i) => {
        if ('malformed' in st) { list.push(st.malformed); return }
        const reused = st.reuse !== null && placed.length > 0 ? placed[st.reuse % placed.length] : undefined
        const hash = reused?.hash ?? `h${i}`
        const parents = placed.length === 0 ? [] : st.parents.map((p) => placed[p % placed.length] as RegistryEntry)
        const next = [...parents.map((e) => e.hash), ...(st.odd ?? []).map((h) => h === '<self>' ? hash : h === '<future>' ? `h${i + 1}` : h)]
        const time = st.time ?? 1 + Math.max(0, ...parents.map((e) => Number.isFinite(e.clock.time) ? e.clock.time : 0))
        const entry = { hash, author: st.author, next, clock: { id: st.author, time }, payload: st.payload } as unknown as RegistryEntry
        list.push(entry)
        placed.push(entry)
      })
      return list
    })

    it('never throws, and the state depends only on the set of entries (shuffled, duplicated)', () => {
      const coverage = { initialized: 0, admitted: 0, revoked: 0, rotated: 0 }
      fc.assert(fc.property(entries, fc.integer(), fc.nat(), (list, seed, dup) => {
        count('reduce')
        let state
        try {
          state = reduce(params, list)
        } catch (err) {
          assert.fail(`reduce threw ${describeError(err)}`)
        }
        if (state.initialized) coverage.initialized++
        if (Object.keys(state.devices).length > 1) coverage.admitted++
        if (Object.values(state.devices).some((x) => x.status === 'revoked')) coverage.revoked++
        if (state.epochs.length > 1) coverage.rotated++
        const rng = makeRng(seed)
        const shuffled = rng.shuffle(list)
        // Duplicates: the same entry objects again (as a log read twice would give).
        const again = list.length === 0 ? shuffled : [...shuffled, ...list.slice(0, 1 + (dup % list.length))]
        assert.deepEqual(reduce(params, rng.shuffle(again)), state)
      }), { numRuns: RUNS })
      // The generator reaches the interesting states, not only garbage.
      console.log(`      reduce coverage: ${JSON.stringify(coverage)} of ${RUNS}`)
      assert.ok(coverage.initialized > RUNS / 4 && coverage.admitted > RUNS / 20 && coverage.revoked > 0 && coverage.rotated > 0, JSON.stringify(coverage))
    })

    it('self-references and cycles are ignored without hanging, whatever the order', () => {
      fc.assert(fc.property(fc.array(fc.constantFrom(...HASHES.slice(1)), { minLength: 1, maxLength: 6 }), fc.integer(), (ring, seed) => {
        count('reduce (cycles)')
        const rng = makeRng(seed)
        const cyclic: RegistryEntry[] = ring.map((h, i) => ({
          hash: h,
          author: founder.device,
          next: ['g', ring[(i + 1) % ring.length] as string],
          clock: { id: founder.device, time: i + 1 },
          payload: revokeOp({ device: (people[1] as DeviceDescriptor).device })
        }))
        const list = [genesis(0), ...cyclic]
        const state = reduce(params, list)
        assert.equal(state.initialized, true)
        assert.deepEqual(reduce(params, rng.shuffle(list)), state)
      }), { numRuns: 300 })
    })
  })
})
