import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import * as dagCbor from '@ipld/dag-cbor'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { base32LowerEncode, randomBytes } from '../../src/crypto/bytes.ts'
import {
  encodeInvite,
  inviteId,
  newInviteSecret,
  parseInvite,
  parseTtl
} from '../../src/invite/invite.ts'
import type { Invite } from '../../src/invite/invite.ts'
import type { AccountAddress, Mode } from '../../src/types.ts'
import {
  accountFor,
  baseInvite,
  bytesOf,
  ED25519_PEER,
  EIGHT_ADDRS,
  LOOPBACK_ADDRS,
  prng,
  RSA_PEER,
  rawInvite,
  rawInviteOf
} from './fixtures.ts'

const DAMAGED = 'the invite is damaged or incomplete: check that it was copied whole'
const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

const errorOf = (fn: () => unknown): { name: string, code: unknown, message: string } => {
  try {
    fn()
  } catch (e) {
    if (!(e instanceof Error)) assert.fail(`threw a non-Error: ${String(e)}`)
    return { name: e.name, code: (e as { code?: unknown }).code, message: e.message }
  }
  return assert.fail('expected an exception')
}

/** parseInvite(text) must throw InvalidInviteError (never anything else); returns its message. */
const invalid = (text: string, label = text): string => {
  const e = errorOf(() => parseInvite(text))
  assert.equal(e.code, 'INVALID_INVITE', `${JSON.stringify(label)}: expected INVALID_INVITE, got ${e.name}: ${e.message}`)
  assert.equal(e.name, 'InvalidInviteError')
  return e.message
}

/** encodeInvite must throw InvalidArgumentError mentioning `field`. */
const badArgument = (invite: unknown, field: string): void => {
  const e = errorOf(() => encodeInvite(invite as Invite))
  assert.equal(e.code, 'INVALID_ARGUMENT', `${field}: got ${e.name}: ${e.message}`)
  assert.ok(e.message.includes(field), `message should name ${field}: ${e.message}`)
}

/** Either a valid invite that re-encodes to the same canonical text, or InvalidInviteError. */
const parsesOrRejects = (text: string): boolean => {
  let invite: Invite
  try {
    invite = parseInvite(text)
  } catch (e) {
    const code = (e as { code?: unknown }).code
    assert.equal(code, 'INVALID_INVITE', `${JSON.stringify(text)}: unexpected ${String(e)}`)
    return false
  }
  assert.equal(encodeInvite(invite), text.trim().toUpperCase(), `${JSON.stringify(text)} parsed but is not canonical`)
  return true
}

describe('invite codec', () => {
  let account: AccountAddress
  let secpPeer: string
  let valid: string

  before(async () => {
    account = await accountFor('test account')
    secpPeer = peerIdFromPrivateKey(await generateKeyPair('secp256k1')).toString()
    valid = encodeInvite(baseInvite(account))
  })

  describe('round trip', () => {
    const cases: Array<{ name: string, addrs: string[], mode: Mode, swarmKey?: boolean }> = [
      { name: '1 ip4 tcp address, public', addrs: ['/ip4/10.0.0.2/tcp/4001'], mode: 'public' },
      { name: '2 loopback addresses, encrypted', addrs: LOOPBACK_ADDRS, mode: 'encrypted' },
      { name: 'ip6 ws, private without swarm key', addrs: ['/ip6/::1/tcp/4002/ws'], mode: 'private' },
      { name: '1 dns4 wss address, private with swarm key', addrs: ['/dns4/example.com/tcp/443/wss'], mode: 'private', swarmKey: true },
      { name: '8 mixed addresses, private with swarm key', addrs: EIGHT_ADDRS, mode: 'private', swarmKey: true },
      { name: '8 mixed addresses, public', addrs: EIGHT_ADDRS, mode: 'public' }
    ]
    for (const c of cases) {
      it(c.name, () => {
        const invite = baseInvite(account, {
          addrs: c.addrs,
          mode: c.mode,
          secret: newInviteSecret(),
          ...(c.swarmKey === true ? { swarmKey: randomBytes(32) } : {})
        })
        const text = encodeInvite(invite)
        assert.match(text, /^OA1[A-Z2-7]+$/)
        const parsed = parseInvite(text)
        assert.deepEqual(parsed, invite)
        assert.equal('swarmKey' in parsed, c.swarmKey === true)
        assert.equal(encodeInvite(parsed), text)
      })
    }

    it('keeps every peer id type (Ed25519, secp256k1, RSA) exactly', () => {
      for (const peerId of [ED25519_PEER, secpPeer, RSA_PEER]) {
        const invite = baseInvite(account, { peerId })
        assert.equal(parseInvite(encodeInvite(invite)).peerId, peerId)
      }
    })

    it('keeps the extreme expiry values', () => {
      for (const expires of [1, 0xffffffff]) {
        assert.equal(parseInvite(encodeInvite(baseInvite(account, { expires }))).expires, expires)
      }
    })

    it('accepts lowercase and surrounding whitespace', () => {
      const expected = parseInvite(valid)
      assert.deepEqual(parseInvite(valid.toLowerCase()), expected)
      assert.deepEqual(parseInvite(`\n  ${valid}\t \r\n`), expected)
      const mixed = [...valid].map((ch, i) => (i % 2 === 0 ? ch.toLowerCase() : ch)).join('')
      assert.deepEqual(parseInvite(mixed), expected)
    })

    it('returns copies: changing the input bytes later does not change the invite', () => {
      const secret = newInviteSecret()
      const invite = baseInvite(account, { secret })
      const text = encodeInvite(invite)
      secret.fill(0)
      assert.notDeepEqual(parseInvite(text).secret, secret)
    })
  })

  describe('length', () => {
    it('is about 210 characters for a typical invite with 2 loopback addresses', () => {
      const text = encodeInvite(baseInvite(account, { secret: newInviteSecret(), expires: Math.floor(Date.now() / 1000) + 600 }))
      assert.ok(text.length >= 190 && text.length <= 230, `length ${text.length}`)
    })

    it('stays well under 600 characters with 8 addresses and a swarm key', () => {
      const text = encodeInvite(baseInvite(account, { addrs: EIGHT_ADDRS, mode: 'private', swarmKey: randomBytes(32) }))
      assert.ok(text.length < 520, `length ${text.length}`)
    })
  })

  describe('encode validation', () => {
    const ok = (): Invite => baseInvite(account)
    it('rejects a bad version or mode', () => {
      badArgument({ ...ok(), v: 2 }, 'invite.v')
      badArgument({ ...ok(), mode: 'secret' }, 'invite.mode')
      badArgument({ ...ok(), mode: 'toString' }, 'invite.mode')
      badArgument(null, 'invite')
      badArgument('OA1', 'invite')
    })
    it('rejects a bad account', () => {
      for (const bad of [undefined, 42, '', 'zdpuAkfMNCgbLrfJ1oPzfaPFZvYspn2TX1AxUYF82USdwihDa', '/orbitdb/', '/orbitdb/notacid',
        '/orbitdb/bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', account + '/x', account + ' ']) {
        badArgument({ ...ok(), account: bad }, 'invite.account')
      }
    })
    it('rejects a bad peer id', () => {
      for (const bad of [undefined, '', 'peer', '12D3KooW', ED25519_PEER + 'x', `/p2p/${ED25519_PEER}`,
        'bafzaajaiaejcbzdibmxyzdjbnzmjkk7vg2bvhiqx3a5ozb6sx6pyatnxz7a4gdwk']) {
        badArgument({ ...ok(), peerId: bad }, 'invite.peerId')
      }
    })
    it('rejects bad addresses', () => {
      badArgument({ ...ok(), addrs: [] }, 'invite.addrs')
      badArgument({ ...ok(), addrs: [...EIGHT_ADDRS, '/ip4/1.2.3.4/tcp/1'] }, 'invite.addrs')
      badArgument({ ...ok(), addrs: '/ip4/127.0.0.1/tcp/1' }, 'invite.addrs')
      for (const bad of ['', '/', 'localhost:4001', '/ip4/300.0.0.1/tcp/1', '/ip4/127.0.0.1/tcp/4001/',
        `/ip4/127.0.0.1/tcp/4001/p2p/${ED25519_PEER}`, `/dns4/${'a'.repeat(130)}.example/tcp/1`, 7]) {
        badArgument({ ...ok(), addrs: ['/ip4/127.0.0.1/tcp/1', bad] }, 'invite.addrs[1]')
      }
    })
    it('rejects a bad secret, expiry or swarm key', () => {
      for (const bad of [undefined, bytesOf(15, 1), bytesOf(17, 1), Array.from(bytesOf(16, 1)), 'aaaaaaaaaaaaaaaa']) {
        badArgument({ ...ok(), secret: bad }, 'invite.secret')
      }
      for (const bad of [0, -1, 1.5, Date.now(), 2 ** 32, Number.NaN, Infinity, '1900000000', undefined]) {
        badArgument({ ...ok(), expires: bad }, 'invite.expires')
      }
      badArgument({ ...ok(), mode: 'private', swarmKey: bytesOf(31, 1) }, 'invite.swarmKey')
      badArgument({ ...ok(), mode: 'private', swarmKey: null }, 'invite.swarmKey')
      badArgument({ ...ok(), mode: 'encrypted', swarmKey: bytesOf(32, 1) }, 'invite.swarmKey')
      badArgument({ ...ok(), mode: 'public', swarmKey: bytesOf(32, 1) }, 'invite.swarmKey')
    })
  })

  describe('parse rejects', () => {
    it('empty and blank input', () => {
      assert.match(invalid(''), /empty/)
      assert.match(invalid('   \n\t'), /empty/)
    })

    it('non-strings', () => {
      for (const bad of [undefined, null, 42, {}, [], bytesOf(4, 65)]) invalid(bad as unknown as string, String(bad))
    })

    it('a wrong prefix', () => {
      assert.match(invalid('XA1' + valid.slice(3)), /not an orbit-account invite/)
      assert.match(invalid(valid.slice(3)), /not an orbit-account invite/)
      assert.match(invalid('https://example.com/'), /not an orbit-account invite/)
    })

    it('an unknown version, saying which', () => {
      assert.match(invalid('OA2' + valid.slice(3)), /version '2'/)
      assert.match(invalid('OA9' + valid.slice(3)), /version '9'/)
      // a well-formed string whose contents claim version 2
      const wire = dagCbor.decode(base32Decode(valid.slice(3)).subarray(0, -4)) as unknown[]
      assert.match(invalid(rawInviteOf([2, ...wire.slice(1)])), /version 2\b/)
    })

    it('a character outside the alphabet, saying which and where', () => {
      const message = invalid(valid.slice(0, 10) + '0' + valid.slice(11))
      assert.match(message, /'0' at position 11/)
      assert.match(message, /O, I or B/)
      assert.match(invalid(valid.slice(0, 10) + '=' + valid.slice(11)), /'='/)
      assert.match(invalid(valid.slice(0, 10) + 'é' + valid.slice(11)), /U\+00E9/)
      assert.match(invalid(valid.slice(0, 10) + ' ' + valid.slice(11)), /'\s*' at|U\+0020/)
      // String#toUpperCase turns 'ß' into 'SS': an invite containing 'SS' with 'ß' instead must not parse
      let withSS = ''
      for (let fill = 0; !/^OA1.*SS/.test(withSS); fill++) withSS = encodeInvite(baseInvite(account, { secret: bytesOf(16, fill) }))
      parseInvite(withSS)
      invalid(withSS.slice(0, 3) + withSS.slice(3).replace('SS', 'ß'))
      invalid(withSS.slice(0, 3) + withSS.slice(3).replace('SS', 'ss').replace('ss', 'ß'))
    })

    it('the invite truncated at every length', () => {
      for (let n = 0; n < valid.length; n++) {
        const message = invalid(valid.slice(0, n), `truncated to ${n}`)
        if (n >= 3) assert.ok(message.startsWith(DAMAGED), `truncated to ${n}: ${message}`)
      }
    })

    it('the invite with any single character changed', () => {
      for (let i = 0; i < valid.length; i++) {
        for (const ch of B32 + '01') {
          if (ch === valid[i]) continue
          const altered = valid.slice(0, i) + ch + valid.slice(i + 1)
          const message = invalid(altered, `position ${i} -> ${ch}`)
          if (i >= 3 && B32.includes(ch)) assert.ok(message.startsWith(DAMAGED), `position ${i} -> ${ch}: ${message}`)
        }
      }
    })

    it('the invite with extra characters appended or inserted', () => {
      for (const extra of ['A', 'AA', 'AAA', 'AAAAAAAA', 'Q', '7777777', '=', '==', 'X1', ' OA1', valid]) {
        invalid(valid + extra, `+${extra}`)
        invalid(valid.slice(0, 40) + extra + valid.slice(40), `inserted ${extra}`)
      }
      invalid(valid.slice(0, 40) + valid.slice(41), 'a character dropped')
    })

    it('random strings and random base32 after a valid prefix', () => {
      const next = prng(1)
      for (let i = 0; i < 300; i++) {
        const len = Math.floor(next() * 400)
        const ascii = Array.from({ length: len }, () => String.fromCharCode(32 + Math.floor(next() * 95))).join('')
        invalid(ascii)
        const body = base32LowerEncode(randomBytes(Math.floor(next() * 400))).toUpperCase()
        assert.ok(invalid('OA1' + body).startsWith(DAMAGED))
      }
    })

    it('an absurdly long input, quickly', () => {
      assert.match(invalid('OA1' + 'A'.repeat(1_000_000)), /too long/)
    })

    it('random bytes carrying a correct checksum, without saying "damaged"', () => {
      const next = prng(2)
      for (let i = 0; i < 300; i++) {
        const bytes = Uint8Array.from({ length: 70 + Math.floor(next() * 300) }, () => Math.floor(next() * 256))
        if (i % 2 === 0) bytes[0] = 0x87 + Math.floor(next() * 2) // an array of 7 or 8 items
        const message = invalid(rawInvite(bytes))
        assert.ok(!message.startsWith(DAMAGED), message)
      }
    })

    describe('contents of the wrong shape (with a correct checksum)', () => {
      let wire: unknown[]
      const variant = (index: number, value: unknown): unknown[] => {
        const copy = [...wire]
        copy[index] = value
        return copy
      }
      before(() => {
        wire = dagCbor.decode(base32Decode(valid.slice(3)).subarray(0, -4)) as unknown[]
        parseInvite(rawInviteOf(wire)) // the unchanged wire form is valid
      })
      const table: Array<[string, () => unknown, RegExp]> = [
        ['a map instead of an array', () => ({ v: 1, pad: bytesOf(100, 0) }), /expected an array/],
        ['a string', () => 'hello'.repeat(30), /expected an array/],
        ['too few fields', () => wire.slice(0, 6), /fields/],
        ['too many fields', () => [...wire, bytesOf(32, 1), 1], /fields/],
        ['a string version', () => variant(0, '1'), /version/],
        ['version 0', () => variant(0, 0), /version 0/],
        ['an unknown mode', () => variant(1, 3), /mode/],
        ['a negative mode', () => variant(1, -1), /mode/],
        ['a string mode', () => variant(1, 'public'), /mode/],
        ['account not bytes', () => variant(2, 'zdpu'), /account/],
        ['account garbage bytes', () => variant(2, bytesOf(36, 0xff)), /account/],
        ['account CID with trailing bytes', () => variant(2, new Uint8Array([...(wire[2] as Uint8Array), 0])), /account/],
        ['peer id garbage', () => variant(3, bytesOf(38, 7)), /peer id/],
        ['peer id as a URL', () => variant(3, new Uint8Array([0, 19, ...new TextEncoder().encode('https://example.com')])), /peer id/],
        ['peer id not bytes', () => variant(3, ED25519_PEER), /peer id/],
        ['addresses not a list', () => variant(4, multiaddr('/ip4/1.2.3.4/tcp/1').bytes), /addresses/],
        ['no addresses', () => variant(4, []), /addresses/],
        ['9 addresses', () => variant(4, Array.from({ length: 9 }, () => multiaddr('/ip4/1.2.3.4/tcp/1').bytes)), /addresses/],
        ['an address that is a string', () => variant(4, ['/ip4/1.2.3.4/tcp/1']), /address 1/],
        ['an address of garbage bytes', () => variant(4, [bytesOf(8, 0xfe)]), /address 1/],
        ['an empty address', () => variant(4, [new Uint8Array(0)]), /address 1/],
        ['an address with a /p2p/ suffix', () => variant(4, [multiaddr(`/ip4/1.2.3.4/tcp/1/p2p/${ED25519_PEER}`).bytes]), /address 1.*p2p/],
        ['a 15-byte secret', () => variant(5, bytesOf(15, 1)), /secret/],
        ['a string secret', () => variant(5, 'secretsecret1234'), /secret/],
        ['expiry 0', () => variant(6, 0), /expiry/],
        ['a negative expiry', () => variant(6, -5), /expiry/],
        ['a fractional expiry', () => variant(6, 1.5), /expiry/],
        ['a huge expiry', () => variant(6, 2 ** 40), /expiry/],
        ['a bigint expiry', () => variant(6, 2n ** 64n - 1n), /expiry/],
        ['a swarm key in mode encrypted', () => [...wire, bytesOf(32, 9)], /swarm key/],
        ['a 31-byte swarm key', () => [...variant(1, 2), bytesOf(31, 9)], /swarm key/],
        ['a null swarm key', () => [...variant(1, 2), null], /swarm key/]
      ]
      for (const [name, make, pattern] of table) {
        it(name, () => {
          const message = invalid(rawInviteOf(make()), name)
          assert.match(message, pattern)
          assert.ok(!message.startsWith(DAMAGED), message)
        })
      }
      it('a float-encoded expiry (not canonical)', () => {
        const expires = wire[6] as number
        // dag-cbor float64 of an integral value: major 7, 0xfb + 8 bytes
        const head = dagCbor.encode(wire.slice(0, 6).concat([0]))
        const cbor = new Uint8Array(head.length - 1 + 9)
        cbor.set(head.subarray(0, head.length - 1))
        cbor[head.length - 1] = 0xfb
        new DataView(cbor.buffer).setFloat64(head.length, expires)
        const e = errorOf(() => parseInvite(rawInvite(cbor)))
        assert.equal(e.code, 'INVALID_INVITE', e.message)
      })
      it('a non-canonical multiaddr encoding', () => {
        // ip4 with a 2-byte varint for the protocol code (0x84 0x00 instead of 0x04)
        const bytes = multiaddr('/ip4/1.2.3.4/tcp/1').bytes
        const padded = new Uint8Array([0x84, 0x00, ...bytes.subarray(1)])
        invalid(rawInviteOf(variant(4, [padded])))
      })
    })
  })

  describe('expiry', () => {
    it('InviteExpiredError once now reaches the expiry, saying when', () => {
      const expires = 1_900_000_000
      const text = encodeInvite(baseInvite(account, { expires }))
      assert.equal(parseInvite(text, { now: expires * 1000 - 1 }).expires, expires)
      for (const [now, ago] of [[expires * 1000, '0 seconds'], [expires * 1000 + 3_600_000, '60 minutes'], [expires * 1000 + 5 * 86_400_000, '5 days']] as const) {
        const e = errorOf(() => parseInvite(text, { now }))
        assert.equal(e.code, 'INVITE_EXPIRED')
        assert.equal(e.name, 'InviteExpiredError')
        assert.ok(e.message.includes(new Date(expires * 1000).toISOString()), e.message)
        assert.ok(e.message.includes(ago), e.message)
      }
      assert.equal(parseInvite(text).expires, expires) // no `now`: no expiry check
    })

    it('checks validity before expiry, and rejects a bad `now`', () => {
      assert.equal(errorOf(() => parseInvite('OA1AAAA', { now: Date.now() })).code, 'INVALID_INVITE')
      for (const now of [Number.NaN, Infinity, '1' as unknown as number]) {
        assert.equal(errorOf(() => parseInvite(valid, { now })).code, 'INVALID_ARGUMENT')
      }
    })
  })

  describe('inviteId and newInviteSecret', () => {
    it('is the documented hash, deterministic and different per secret', () => {
      const secret = Uint8Array.from({ length: 16 }, (_, i) => i)
      const expected = createHash('sha256').update('orbit-account/invite-id/v1').update(secret).digest('hex').slice(0, 32)
      assert.equal(inviteId(secret), expected)
      assert.equal(inviteId(secret.slice()), expected)
      assert.match(expected, /^[0-9a-f]{32}$/)
      const ids = new Set(Array.from({ length: 100 }, () => inviteId(newInviteSecret())))
      assert.equal(ids.size, 100)
      assert.notEqual(inviteId(bytesOf(16, 0)), inviteId(bytesOf(16, 1)))
    })

    it('rejects anything but 16 bytes', () => {
      for (const bad of [bytesOf(15, 0), bytesOf(32, 0), 'x'.repeat(16), undefined]) {
        assert.equal(errorOf(() => inviteId(bad as Uint8Array)).code, 'INVALID_ARGUMENT')
      }
    })

    it('newInviteSecret gives 16 fresh random bytes', () => {
      const a = newInviteSecret()
      const b = newInviteSecret()
      assert.ok(a instanceof Uint8Array)
      assert.equal(a.length, 16)
      assert.notDeepEqual(a, b)
    })
  })

  describe('parseTtl', () => {
    const good: Array<[string, number]> = [
      ['30s', 30_000], ['10s', 10_000], ['10', 10_000], ['90', 90_000], ['10m', 600_000], ['1m', 60_000],
      ['2h', 7_200_000], ['1d', 86_400_000], ['7d', 604_800_000], ['168h', 604_800_000], ['604800', 604_800_000],
      ['10M', 600_000], [' 5m ', 300_000], ['010m', 600_000]
    ]
    for (const [text, ms] of good) it(`${JSON.stringify(text)} -> ${ms} ms`, () => assert.equal(parseTtl(text), ms))

    const bad = ['', ' ', '9', '9s', '0', '0m', '8d', '604801', '169h', '-5m', '1.5h', '1 h', '1w', 'm', '10ms', '5min',
      'ten', '1e3', '0x10', '99999999999999999999', '1d2h', '+60']
    for (const text of bad) {
      it(`rejects ${JSON.stringify(text)} with an example`, () => {
        const e = errorOf(() => parseTtl(text))
        assert.equal(e.code, 'INVALID_ARGUMENT')
        assert.match(e.message, /'10m'/)
      })
    }
    it('rejects non-strings', () => {
      assert.equal(errorOf(() => parseTtl(600 as unknown as string)).code, 'INVALID_ARGUMENT')
    })
  })

  describe('fuzz (seeded)', () => {
    it('4000 mutated, random and structured inputs: a canonical invite or InvalidInviteError, nothing else', function () {
      this.timeout(120_000)
      const seed = 0x0a1
      const next = prng(seed)
      const int = (n: number): number => Math.floor(next() * n)
      const pick = <T>(items: readonly T[]): T => items[int(items.length)]!
      const wire = dagCbor.decode(base32Decode(valid.slice(3)).subarray(0, -4)) as unknown[]
      const samples = [valid, encodeInvite(baseInvite(account, { addrs: EIGHT_ADDRS, mode: 'private', swarmKey: bytesOf(32, 3) }))]
      const junk: unknown[] = [0, 1, 2, 7, -1, 255, 2 ** 31, 0.5, '', 'a', true, false, null, [], {}, new Uint8Array(0), bytesOf(16, 1),
        bytesOf(32, 2), bytesOf(36, 3), [bytesOf(3, 4)], wire[2], wire[3], wire[4], wire[5]]
      const accepted = new Array<number>(8).fill(0)
      for (let i = 0; i < 4000; i++) {
        let text: string
        const kind = i % 8
        const base = pick(samples)
        if (kind === 0) {
          // character-level mutations of a valid invite
          const chars = [...base]
          for (let k = 0, n = 1 + int(4); k < n; k++) {
            const at = int(chars.length)
            const op = int(4)
            if (op === 0) chars[at] = pick([...B32])
            else if (op === 1) chars.splice(at, 1)
            else if (op === 2) chars.splice(at, 0, pick([...B32 + '018= -']))
            else chars[at] = chars[at]!.toLowerCase()
          }
          text = chars.join('')
        } else if (kind === 1) {
          text = base.slice(0, int(base.length + 1)) + (next() < 0.5 ? '' : base32LowerEncode(randomBytesSeeded(next, int(8))).toUpperCase())
        } else if (kind === 2) {
          text = Array.from({ length: int(300) }, () => String.fromCharCode(int(next() < 0.9 ? 128 : 0x3000))).join('')
        } else if (kind === 3) {
          text = 'OA1' + base32LowerEncode(randomBytesSeeded(next, int(400))).toUpperCase()
        } else if (kind === 4) {
          text = rawInvite(randomBytesSeeded(next, 60 + int(300)))
        } else if (kind === 5) {
          // structured: replace one field of a valid wire form (checksum fixed up)
          const copy = [...wire]
          copy[int(8)] = pick(junk)
          text = rawInviteOf(copy)
        } else if (kind === 6) {
          // bit flips inside the cbor, checksum fixed up
          const cbor = base32Decode(base.slice(3)).slice(0, -4)
          for (let k = 0, n = 1 + int(3); k < n; k++) cbor[int(cbor.length)]! ^= 1 << int(8)
          text = rawInvite(cbor)
        } else {
          // truncated or extended cbor, checksum fixed up
          const cbor = base32Decode(base.slice(3)).slice(0, -4)
          text = rawInvite(next() < 0.5 ? cbor.subarray(0, int(cbor.length)) : new Uint8Array([...cbor, ...randomBytesSeeded(next, 1 + int(4))]))
        }
        if (parsesOrRejects(text)) accepted[kind]!++
      }
      // What can still parse: case changes or whitespace at the ends (kind 0), a cut
      // at the very end (1), a field replaced by the same value (5), bit flips
      // inside the secret, key, expiry or an address with the checksum redone (6);
      // never random data or cut/extended contents.
      for (const kind of [2, 3, 4, 7]) assert.equal(accepted[kind], 0, `kind ${kind} accepted ${accepted[kind]}`)
      assert.ok(accepted[0]! > 0 && accepted[0]! < 250, `kind 0 accepted ${accepted[0]}`)
    })
  })
})

const randomBytesSeeded = (next: () => number, n: number): Uint8Array => Uint8Array.from({ length: n }, () => Math.floor(next() * 256))

/** Test-side base32 decoder (uppercase, unpadded). */
const base32Decode = (text: string): Uint8Array => {
  const out: number[] = []
  let acc = 0
  let bits = 0
  for (const ch of text) {
    acc = (acc << 5) | B32.indexOf(ch)
    bits += 5
    if (bits >= 8) {
      bits -= 8
      out.push((acc >> bits) & 0xff)
    }
    acc &= (1 << bits) - 1
  }
  return Uint8Array.from(out)
}
