/**
 * The invite string a device already in the account shows (as text or a QR
 * code) so that a new device can join.
 *
 * Layout: 'OA1' + RFC 4648 base32 (UPPERCASE, unpadded) of
 *
 *   dag-cbor([version, modeByte, accountCidBytes, peerIdMultihashBytes,
 *             [multiaddrBytes...], secret, expires, swarmKey?,
 *             [[replicaPeerIdBytes, [multiaddrBytes...]]...]?])
 *   || first 4 bytes of sha256(the cbor bytes)
 *
 * The 9th field (the account's registered replicas, where a joiner leaves a join
 * request when no device answers) comes with the 8th as the swarm key or null; an
 * invite without replicas has 7 or 8 fields, as before, so old invites still parse.
 *
 * Uppercase base32 keeps every character inside the QR alphanumeric set
 * (0-9 A-Z space $%*+-./:), so a QR generator that supports that mode can pack
 * the text at 5.5 bits per character. The checksum catches truncated or
 * mistyped strings with a clear message before anything else is looked at.
 *
 * Encoding is canonical: parseInvite rejects anything encodeInvite would not
 * have produced, so encodeInvite(parseInvite(s)) === s.toUpperCase().trim().
 *
 * Browser-ready: no Node APIs and no Buffer at all.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { sha256 } from '@noble/hashes/sha2.js'
import { base58btc } from 'multiformats/bases/base58'
import { CID } from 'multiformats/cid'
import { base32LowerEncode, concatBytes, equalBytes, randomBytes, utf8Encode } from '../crypto/bytes.ts'
import { InvalidArgumentError, InvalidInviteError, InviteExpiredError, isOrbitAccountError } from '../errors.ts'
import type { AccountAddress, Mode } from '../types.ts'

export interface Invite {
  v: 1
  /** '/orbitdb/<base58btc CID>' */
  account: AccountAddress
  /** The inviter's libp2p peer id, e.g. '12D3KooW...'. */
  peerId: string
  /** The inviter's multiaddrs, WITHOUT a /p2p/ suffix; 1 to 8 of them. */
  addrs: string[]
  /** 16 random bytes (see newInviteSecret). */
  secret: Uint8Array
  /** Expiry, unix seconds. */
  expires: number
  mode: Mode
  /** The 32-byte libp2p private network key; private mode only. */
  swarmKey?: Uint8Array
  /** The account's registered replicas (1 to MAX_INVITE_REPLICAS, each 1 to MAX_REPLICA_ADDRS addresses without /p2p/); absent when none. */
  replicas?: InviteReplica[]
}

export interface InviteReplica { peerId: string, addrs: string[] }

export interface ParseInviteOptions {
  /** Current time, unix milliseconds: when given, an expired invite throws InviteExpiredError. */
  now?: number
}

export const INVITE_VERSION = 1
export const INVITE_PREFIX = 'OA1'
export const INVITE_SECRET_LENGTH = 16
export const SWARM_KEY_LENGTH = 32
export const MIN_INVITE_ADDRS = 1
export const MAX_INVITE_ADDRS = 8
/** Upper bound on one encoded multiaddr (a /dns4/ name of ~100 characters still fits). */
export const MAX_MULTIADDR_BYTES = 128
/** Replicas an invite names, and addresses of each: kept few, an invite is read off a screen. */
export const MAX_INVITE_REPLICAS = 2
export const MAX_REPLICA_ADDRS = 2
/** Upper bound on the CID and on the peer id multihash, in bytes (sha2-256 CIDv1: 36; Ed25519 peer id: 38). */
const MAX_CID_BYTES = 72
const MAX_PEER_ID_BYTES = 80
/** Expiry times are unix seconds that fit in 32 bits (until 2106); this also catches milliseconds passed by mistake. */
const MAX_EXPIRES = 0xffffffff
export const MIN_TTL_MS = 10_000
export const MAX_TTL_MS = 7 * 24 * 60 * 60 * 1000

const CHECKSUM_LENGTH = 4
/**
 * The smallest binary that could possibly be a valid invite: array header (1),
 * version (1), mode (1), CID (header 1 + at least 4), peer id (header 2 + at
 * least 34), addrs (array header 1 + one address of header 1 + at least 2),
 * secret (header 1 + 16), expires (1), checksum (4).
 */
const MIN_BINARY_LENGTH = 1 + 1 + 1 + 5 + 36 + 1 + 3 + 17 + 1 + CHECKSUM_LENGTH
/** A generous upper bound on the binary length, checked before any decoding. */
const MAX_BINARY_LENGTH = 16 + (2 + MAX_CID_BYTES) + (2 + MAX_PEER_ID_BYTES) +
  1 + MAX_INVITE_ADDRS * (2 + MAX_MULTIADDR_BYTES) + (1 + INVITE_SECRET_LENGTH) + 5 + (2 + SWARM_KEY_LENGTH) +
  1 + MAX_INVITE_REPLICAS * (1 + (2 + MAX_PEER_ID_BYTES) + 1 + MAX_REPLICA_ADDRS * (2 + MAX_MULTIADDR_BYTES)) + CHECKSUM_LENGTH
const MIN_TEXT_LENGTH = INVITE_PREFIX.length + Math.ceil((MIN_BINARY_LENGTH * 8) / 5)
const MAX_TEXT_LENGTH = INVITE_PREFIX.length + Math.ceil((MAX_BINARY_LENGTH * 8) / 5)

const DAMAGED = 'the invite is damaged or incomplete: check that it was copied whole'
const ACCOUNT_PREFIX = '/orbitdb/'

/** Explicit wire values: independent of the order of MODES in types.ts. */
const MODE_TO_BYTE: Readonly<Record<Mode, number>> = { public: 0, encrypted: 1, private: 2 }
const BYTE_TO_MODE: readonly Mode[] = ['public', 'encrypted', 'private']

const P2P_CODE = 0x01a5 // the /p2p/ multiaddr protocol
const PEER_ID_TYPES: ReadonlySet<string> = new Set(['Ed25519', 'secp256k1', 'RSA'])

// ---------------------------------------------------------------------------
// encode

/** The invite as compact text ('OA1...'); validates every field (InvalidArgumentError naming it). */
export const encodeInvite = (invite: Invite): string => {
  const cbor = dagCbor.encode(toWire(invite))
  const binary = concatBytes(cbor, checksum(cbor))
  return INVITE_PREFIX + base32LowerEncode(binary).toUpperCase()
}

type WireReplica = [Uint8Array, Uint8Array[]]
/** [version, mode, account, peerId, addrs, secret, expires, swarmKey?, replicas?] (swarmKey null when replicas come without it). */
type Wire = Array<number | Uint8Array | Uint8Array[] | null | WireReplica[]>

const toWire = (invite: Invite): Wire => {
  if (typeof invite !== 'object' || invite === null) {
    throw new InvalidArgumentError(`invite must be an object, got ${describe(invite)}`)
  }
  if (invite.v !== INVITE_VERSION) {
    throw new InvalidArgumentError(`invite.v must be ${INVITE_VERSION}, got ${preview(invite.v)}`)
  }
  const mode = invite.mode
  if (typeof mode !== 'string' || !Object.hasOwn(MODE_TO_BYTE, mode)) {
    throw new InvalidArgumentError(`invite.mode must be one of ${BYTE_TO_MODE.join(', ')}, got ${preview(mode)}`)
  }
  const account = accountToBytes(invite.account)
  const peerId = peerIdToBytes(invite.peerId)
  if (!Array.isArray(invite.addrs) || invite.addrs.length < MIN_INVITE_ADDRS || invite.addrs.length > MAX_INVITE_ADDRS) {
    throw new InvalidArgumentError(
      `invite.addrs must be an array of ${MIN_INVITE_ADDRS} to ${MAX_INVITE_ADDRS} multiaddrs, got ${Array.isArray(invite.addrs) ? `${invite.addrs.length} of them` : describe(invite.addrs)}`
    )
  }
  const addrs = invite.addrs.map((a, i) => addrToBytes(a, `invite.addrs[${i}]`))
  const secret = invite.secret
  if (!(secret instanceof Uint8Array) || secret.length !== INVITE_SECRET_LENGTH) {
    throw new InvalidArgumentError(`invite.secret must be a Uint8Array of ${INVITE_SECRET_LENGTH} bytes, got ${describeBytes(secret)}`)
  }
  const expires = invite.expires
  if (!isValidExpires(expires)) {
    throw new InvalidArgumentError(`invite.expires must be a positive integer of unix seconds (at most ${MAX_EXPIRES}), got ${preview(expires)}`)
  }
  const wire: Wire = [INVITE_VERSION, MODE_TO_BYTE[mode], account, peerId, addrs, Uint8Array.from(secret), expires]
  if (invite.swarmKey !== undefined) {
    const swarmKey = invite.swarmKey
    if (!(swarmKey instanceof Uint8Array) || swarmKey.length !== SWARM_KEY_LENGTH) {
      throw new InvalidArgumentError(`invite.swarmKey must be a Uint8Array of ${SWARM_KEY_LENGTH} bytes, got ${describeBytes(swarmKey)}`)
    }
    if (mode !== 'private') {
      throw new InvalidArgumentError(`invite.swarmKey is only allowed with mode 'private', got mode '${mode}'`)
    }
    wire.push(Uint8Array.from(swarmKey))
  }
  if (invite.replicas !== undefined) {
    const replicas = invite.replicas
    if (!Array.isArray(replicas) || replicas.length < 1 || replicas.length > MAX_INVITE_REPLICAS) {
      throw new InvalidArgumentError(`invite.replicas must be absent or an array of 1 to ${MAX_INVITE_REPLICAS} replicas, got ${Array.isArray(replicas) ? `${replicas.length} of them` : describe(replicas)}`)
    }
    const wired = replicas.map((r, i): WireReplica => {
      const label = `invite.replicas[${i}]`
      if (typeof r !== 'object' || r === null) throw new InvalidArgumentError(`${label} must be an object, got ${describe(r)}`)
      if (!Array.isArray(r.addrs) || r.addrs.length < 1 || r.addrs.length > MAX_REPLICA_ADDRS) {
        throw new InvalidArgumentError(`${label}.addrs must be an array of 1 to ${MAX_REPLICA_ADDRS} multiaddrs`)
      }
      return [peerIdToBytes(r.peerId), r.addrs.map((a, j) => addrToBytes(a, `${label}.addrs[${j}]`))]
    })
    if (wire.length === 7) wire.push(null)
    wire.push(wired)
  }
  return wire
}

const accountToBytes = (account: unknown): Uint8Array => {
  const fail = (why: string): never => {
    throw new InvalidArgumentError(`invite.account must be an OrbitDB address '/orbitdb/<base58btc CID>': ${why}, got ${preview(account)}`)
  }
  if (typeof account !== 'string') return fail('not a string')
  if (!account.startsWith(ACCOUNT_PREFIX)) return fail(`it does not start with '${ACCOUNT_PREFIX}'`)
  const text = account.slice(ACCOUNT_PREFIX.length)
  let cid: CID
  try {
    cid = CID.parse(text, base58btc)
  } catch {
    return fail('the CID does not parse')
  }
  if (cid.bytes.length > MAX_CID_BYTES) return fail(`the CID is longer than ${MAX_CID_BYTES} bytes`)
  if (cid.toString(base58btc) !== text) return fail('the CID is not in its base58btc form')
  return cid.bytes
}

const peerIdToBytes = (peerId: unknown): Uint8Array => {
  const fail = (why: string): never => {
    throw new InvalidArgumentError(`invite.peerId must be a libp2p peer id such as '12D3KooW...': ${why}, got ${preview(peerId)}`)
  }
  if (typeof peerId !== 'string') return fail('not a string')
  let parsed
  try {
    parsed = peerIdFromString(peerId)
  } catch {
    return fail('it does not parse')
  }
  if (!PEER_ID_TYPES.has(parsed.type)) return fail(`unsupported peer id type ${parsed.type}`)
  if (parsed.toString() !== peerId) return fail(`it is not in its base58btc form (${parsed.toString()})`)
  const bytes = parsed.toMultihash().bytes
  if (bytes.length > MAX_PEER_ID_BYTES) return fail(`it is longer than ${MAX_PEER_ID_BYTES} bytes`)
  return bytes
}

const addrToBytes = (addr: unknown, label: string): Uint8Array => {
  const fail = (why: string): never => {
    throw new InvalidArgumentError(`${label} must be a multiaddr without a /p2p/ suffix such as '/ip4/192.0.2.1/tcp/4001': ${why}, got ${preview(addr)}`)
  }
  if (typeof addr !== 'string') return fail('not a string')
  let ma: Multiaddr
  try {
    ma = multiaddr(addr)
  } catch {
    return fail('it does not parse')
  }
  const problem = multiaddrProblem(ma)
  if (problem !== undefined) return fail(problem)
  if (ma.toString() !== addr) return fail(`it is not in canonical form (${ma.toString()})`)
  return ma.bytes
}

/** Shared by encode and parse: why this multiaddr is not acceptable in an invite, if it is not. */
const multiaddrProblem = (ma: Multiaddr): string | undefined => {
  const components = ma.getComponents()
  if (components.length === 0) return 'it is empty'
  if (components[components.length - 1]!.code === P2P_CODE) return 'it ends with /p2p/<peer id> (the peer id is sent separately)'
  if (ma.bytes.length > MAX_MULTIADDR_BYTES) return `it is longer than ${MAX_MULTIADDR_BYTES} bytes`
  return undefined
}

// ---------------------------------------------------------------------------
// parse

/**
 * Parses and checks an invite string. Whitespace around it is ignored and
 * lowercase is accepted. Every failure is an InvalidInviteError (or, when
 * `options.now` is given and the invite has expired, an InviteExpiredError);
 * no other exception escapes, whatever `text` is.
 */
export const parseInvite = (text: string, options?: ParseInviteOptions): Invite => {
  const now = options?.now
  if (now !== undefined && (typeof now !== 'number' || !Number.isFinite(now))) {
    throw new InvalidArgumentError(`options.now must be unix milliseconds, got ${preview(now)}`)
  }
  let invite: Invite
  try {
    invite = parseUnchecked(text)
  } catch (cause) {
    if (isOrbitAccountError(cause) && cause.code === 'INVALID_INVITE') throw cause
    // Anything unforeseen from a decoder still reads as a bad invite.
    throw new InvalidInviteError('the invite is not valid', { cause })
  }
  if (now !== undefined && now >= invite.expires * 1000) {
    const when = new Date(invite.expires * 1000).toISOString()
    throw new InviteExpiredError(`the invite expired at ${when} (${ago(now - invite.expires * 1000)} ago): ask for a new one`)
  }
  return invite
}

const parseUnchecked = (input: unknown): Invite => {
  if (typeof input !== 'string') throw new InvalidInviteError(`an invite must be a string, got ${describe(input)}`)
  // ASCII-only uppercasing: String#toUpperCase would turn e.g. 'ß' into 'SS'.
  const text = input.trim().replace(/[a-z]+/g, (s) => s.toUpperCase())
  if (text === '') throw new InvalidInviteError('the invite is empty')
  if (!text.startsWith('OA')) {
    throw new InvalidInviteError(`this is not an orbit-account invite: an invite starts with '${INVITE_PREFIX}'`)
  }
  if (text.length === 2) throw new InvalidInviteError(DAMAGED)
  const version = String.fromCodePoint(text.codePointAt(2)!)
  if (version !== INVITE_PREFIX.charAt(2)) {
    throw new InvalidInviteError(
      `this invite is of format version ${showChar(version)}, which this version of orbit-account cannot read (it reads version ${INVITE_VERSION}): update orbit-account`
    )
  }
  if (text.length > MAX_TEXT_LENGTH) {
    throw new InvalidInviteError(`the invite is too long (${text.length} characters, at most ${MAX_TEXT_LENGTH}): check that only the invite was copied`)
  }
  const body = text.slice(INVITE_PREFIX.length)
  const badIndex = body.search(/[^A-Z2-7]/)
  if (badIndex >= 0) {
    const c = String.fromCodePoint(body.codePointAt(badIndex)!)
    const hint = /[018]/.test(c) ? ' (invites never contain 0, 1 or 8: was it O, I or B?)' : ''
    throw new InvalidInviteError(
      `the invite contains a character that cannot be in an invite: ${showChar(c)} at position ${badIndex + INVITE_PREFIX.length + 1}${hint}`
    )
  }
  if (text.length < MIN_TEXT_LENGTH) {
    throw new InvalidInviteError(`${DAMAGED} (${text.length} characters, an invite has at least ${MIN_TEXT_LENGTH})`)
  }
  const binary = base32UpperDecode(body)
  if (binary === undefined) throw new InvalidInviteError(DAMAGED)
  const cbor = binary.subarray(0, binary.length - CHECKSUM_LENGTH)
  if (!equalBytes(checksum(cbor), binary.subarray(binary.length - CHECKSUM_LENGTH))) throw new InvalidInviteError(DAMAGED)

  // The checksum matched: from here on, a failure means a well-formed string
  // carrying contents this code does not accept (a bug or a forgery).
  let decoded: unknown
  try {
    decoded = dagCbor.decode(cbor)
  } catch (cause) {
    throw new InvalidInviteError('the invite contents do not decode', { cause })
  }
  const invite = fromWire(decoded)
  let canonical: Uint8Array
  try {
    canonical = dagCbor.encode(toWire(invite))
  } catch (cause) {
    throw new InvalidInviteError('the invite contents are not valid', { cause })
  }
  if (!equalBytes(canonical, cbor)) throw new InvalidInviteError('the invite contents are not in canonical form')
  return invite
}

const fromWire = (decoded: unknown): Invite => {
  const bad = (what: string): never => {
    throw new InvalidInviteError(`the invite contents are not valid: ${what}`)
  }
  if (!Array.isArray(decoded)) return bad('expected an array')
  const fields: unknown[] = decoded
  const version = fields[0]
  if (typeof version !== 'number' || !Number.isSafeInteger(version)) return bad('the version is not an integer')
  if (version !== INVITE_VERSION) {
    throw new InvalidInviteError(
      `this invite is of format version ${version}, which this version of orbit-account cannot read (it reads version ${INVITE_VERSION}): update orbit-account`
    )
  }
  if (fields.length < 7 || fields.length > 9) return bad(`expected 7 to 9 fields, got ${fields.length}`)
  const [, modeByte, accountBytes, peerIdBytes, addrList, secret, expires, swarmKey, replicaList] = fields
  if (fields.length === 9 && !Array.isArray(replicaList)) return bad('expected 7 or 8 fields, or 9 fields ending with the list of replicas')

  if (typeof modeByte !== 'number' || !Number.isInteger(modeByte) || BYTE_TO_MODE[modeByte] === undefined) return bad('unknown mode')
  const mode = BYTE_TO_MODE[modeByte]!

  if (!(accountBytes instanceof Uint8Array) || accountBytes.length > MAX_CID_BYTES) return bad('the account is not a CID')
  let account: string
  try {
    account = ACCOUNT_PREFIX + CID.decode(accountBytes).toString(base58btc)
  } catch {
    return bad('the account is not a CID')
  }

  const peerId = peerIdFromWire(peerIdBytes, bad)
  const addrs = addrsFromWire(addrList, MIN_INVITE_ADDRS, MAX_INVITE_ADDRS, '', bad)

  if (!(secret instanceof Uint8Array) || secret.length !== INVITE_SECRET_LENGTH) {
    return bad(`the secret must be ${INVITE_SECRET_LENGTH} bytes`)
  }
  if (!isValidExpires(expires)) return bad('the expiry time is not a positive integer of unix seconds')

  const invite: Invite = {
    v: INVITE_VERSION,
    account: account as AccountAddress,
    peerId,
    addrs,
    secret: Uint8Array.from(secret),
    expires,
    mode
  }
  // In the 9-field form, null stands for no swarm key.
  if (fields.length === 8 || (fields.length === 9 && swarmKey !== null)) {
    if (!(swarmKey instanceof Uint8Array) || swarmKey.length !== SWARM_KEY_LENGTH) {
      return bad(`the swarm key must be ${SWARM_KEY_LENGTH} bytes`)
    }
    if (mode !== 'private') return bad(`a swarm key is only allowed in mode private, not ${mode}`)
    invite.swarmKey = Uint8Array.from(swarmKey)
  }
  if (fields.length === 9) {
    invite.replicas = replicasFromWire(replicaList, bad)
  }
  return invite
}

type Bad = (what: string) => never

const peerIdFromWire = (peerIdBytes: unknown, bad: Bad, what = 'the peer id'): string => {
  if (!(peerIdBytes instanceof Uint8Array) || peerIdBytes.length > MAX_PEER_ID_BYTES) return bad(`${what} is not a multihash`)
  try {
    // A multihash peer id's string form is its bare base58btc encoding.
    const parsed = peerIdFromString(base58btc.baseEncode(peerIdBytes))
    if (!PEER_ID_TYPES.has(parsed.type)) return bad(`unsupported peer id type ${parsed.type}`)
    if (!equalBytes(parsed.toMultihash().bytes, peerIdBytes)) return bad(`${what} is not in canonical form`)
    return parsed.toString()
  } catch (e) {
    if (isOrbitAccountError(e)) throw e
    return bad(`${what} does not parse`)
  }
}

const addrsFromWire = (addrList: unknown, min: number, max: number, of: string, bad: Bad): string[] => {
  if (!Array.isArray(addrList)) return bad(`the addresses${of} are not a list`)
  const addrItems: unknown[] = addrList
  if (addrItems.length < min || addrItems.length > max) {
    return bad(`expected ${min} to ${max} addresses${of}, got ${addrItems.length}`)
  }
  return addrItems.map((item, i): string => {
    if (!(item instanceof Uint8Array) || item.length > MAX_MULTIADDR_BYTES) return bad(`address ${i + 1}${of} is not a multiaddr`)
    let text: string
    let problem: string | undefined
    try {
      const ma = multiaddr(item)
      problem = multiaddrProblem(ma)
      text = ma.toString()
      // the bytes must be exactly what the string encodes to
      if (!equalBytes(multiaddr(text).bytes, item)) problem = 'it is not in canonical form'
    } catch {
      return bad(`address ${i + 1}${of} does not parse`)
    }
    if (problem !== undefined) return bad(`address ${i + 1}${of} is not usable: ${problem}`)
    return text
  })
}

const replicasFromWire = (list: unknown, bad: Bad): InviteReplica[] => {
  if (!Array.isArray(list) || list.length < 1 || list.length > MAX_INVITE_REPLICAS) return bad(`expected 1 to ${MAX_INVITE_REPLICAS} replicas`)
  const items: unknown[] = list
  return items.map((item, i): InviteReplica => {
    if (!Array.isArray(item) || item.length !== 2) return bad(`replica ${i + 1} is not a [peer id, addresses] pair`)
    const [peer, addrs]: unknown[] = item
    return { peerId: peerIdFromWire(peer, bad, `the peer id of replica ${i + 1}`), addrs: addrsFromWire(addrs, 1, MAX_REPLICA_ADDRS, ` of replica ${i + 1}`, bad) }
  })
}

// ---------------------------------------------------------------------------
// helpers

const INVITE_ID_CONTEXT = utf8Encode('orbit-account/invite-id/v1')

/**
 * Lowercase hex of the first 16 bytes of sha256('orbit-account/invite-id/v1' || secret):
 * lets the inviter find the invite without the secret itself being sent.
 */
export const inviteId = (secret: Uint8Array): string => {
  if (!(secret instanceof Uint8Array) || secret.length !== INVITE_SECRET_LENGTH) {
    throw new InvalidArgumentError(`secret must be a Uint8Array of ${INVITE_SECRET_LENGTH} bytes, got ${describeBytes(secret)}`)
  }
  const digest = sha256(concatBytes(INVITE_ID_CONTEXT, secret)).subarray(0, 16)
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')
}

/** 16 cryptographically random bytes. */
export const newInviteSecret = (): Uint8Array => randomBytes(INVITE_SECRET_LENGTH)

const TTL_UNITS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/**
 * Parses the CLI's --ttl: '30s', '10m', '2h', '1d' or plain seconds ('90').
 * Returns milliseconds, between 10 seconds and 7 days.
 */
export const parseTtl = (text: string): number => {
  const usage = "use a whole number with an optional unit s, m, h or d, e.g. '10m', '2h', '1d' or '90' (seconds), between 10s and 7d"
  if (typeof text !== 'string') throw new InvalidArgumentError(`--ttl must be a string: ${usage}; got ${describe(text)}`)
  const match = /^(\d{1,12})([smhd]?)$/i.exec(text.trim())
  if (match === null) throw new InvalidArgumentError(`invalid --ttl ${preview(text)}: ${usage}`)
  const ms = Number(match[1]) * TTL_UNITS[(match[2] || 's').toLowerCase()]!
  if (ms < MIN_TTL_MS) throw new InvalidArgumentError(`--ttl ${preview(text)} is too short: the minimum is 10s; ${usage}`)
  if (ms > MAX_TTL_MS) throw new InvalidArgumentError(`--ttl ${preview(text)} is too long: the maximum is 7d; ${usage}`)
  return ms
}

const checksum = (cbor: Uint8Array): Uint8Array => sha256(cbor).subarray(0, CHECKSUM_LENGTH)

const isValidExpires = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value > 0 && value <= MAX_EXPIRES

const B32_VALUES: Int8Array = (() => {
  const table = new Int8Array(128).fill(-1)
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i
  return table
})()

/**
 * Strict unpadded uppercase base32: undefined on an impossible length or
 * non-zero trailing bits (the alphabet is checked by the caller).
 */
const base32UpperDecode = (text: string): Uint8Array | undefined => {
  const rest = text.length % 8
  if (rest === 1 || rest === 3 || rest === 6) return undefined
  const out = new Uint8Array(Math.floor((text.length * 5) / 8))
  let acc = 0
  let bits = 0
  let o = 0
  for (let i = 0; i < text.length; i++) {
    const v = B32_VALUES[text.charCodeAt(i)] ?? -1
    if (v < 0) return undefined
    acc = ((acc << 5) | v) & 0xfff
    bits += 5
    if (bits >= 8) {
      bits -= 8
      out[o++] = (acc >> bits) & 0xff
    }
  }
  if ((acc & ((1 << bits) - 1)) !== 0) return undefined
  return out
}

const ago = (ms: number): string => {
  const s = Math.floor(ms / 1000)
  if (s < 120) return `${s} second${s === 1 ? '' : 's'}`
  const m = Math.floor(s / 60)
  if (m < 120) return `${m} minutes`
  const h = Math.floor(m / 60)
  if (h < 48) return `${h} hours`
  return `${Math.floor(h / 24)} days`
}

/** A printable ASCII character in quotes, anything else as U+XXXX. */
const showChar = (c: string): string =>
  /^[\x21-\x7e]$/.test(c) ? `'${c}'` : `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`

const describe = (value: unknown): string => {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  return typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value
}

const describeBytes = (value: unknown): string =>
  value instanceof Uint8Array ? `${value.length} bytes` : describe(value)

const preview = (value: unknown): string => {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? value.slice(0, 77) + '...' : value)
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value)
  return describe(value)
}
