/**
 * Registry op validation. Every payload read from the registry log is untrusted: it may
 * come from a thief, a buggy peer or a newer version. `parseOp` accepts exactly the
 * shapes in acl/types.ts and nothing else, and returns a fresh copy that shares no
 * objects with its input. Pure and browser-ready: no Node APIs.
 */
import { InvalidOperationError } from '../src/errors.ts'
import { isDeviceId } from '../identity/keys.ts'
import { MODES, ROLES } from '../src/types.ts'
import type { DeviceId, Mode, Role } from '../src/types.ts'
import type {
  AddOp,
  DeviceDescriptor,
  GenesisOp,
  InvitationOp,
  Lockboxes,
  WithdrawOp,
  ReplicaOp,
  ReplicaRemoveOp,
  SwarmBoxOp,
  RecoveryDescriptor,
  RecoveryOp,
  RegistryOp,
  RegistryOpType,
  RenameOp,
  RevokeOp,
  RotateOp
} from './types.ts'

export const OP_VERSION = 1
export const OP_TYPES: readonly RegistryOpType[] = ['genesis', 'add', 'revoke', 'rotate', 'rename', 'recovery', 'invitation', 'withdraw', 'replica', 'replica-remove', 'swarm-box']
export const DATA_LOG_PREFIX = '/orbitdb/'

export const LIMITS = {
  nameLength: 64,
  dataLogLength: 200,
  lockboxLength: 4096,
  lockboxCount: 1000,
  cutLength: 1000,
  cutItemLength: 100,
  /** A 32-byte key is 43 base64url characters without padding. */
  keyLength: 43,
  /** A 64-byte signature is 86 base64url characters without padding. */
  signatureLength: 86
} as const

/** An invitation id: 16 bytes as lowercase hex (src/invite/invite.ts `inviteId`). */
const INVITATION_ID = /^[0-9a-f]{32}$/
/** Invitation expiries are unix seconds that fit in 32 bits, as in the invite. */
const MAX_EXPIRES = 0xffffffff

const BASE64URL = /^[A-Za-z0-9_-]*$/
const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
/**
 * Not printable: C0/C1 controls, lone surrogates, line/paragraph separators and the
 * bidi embedding/override/isolate controls (used to spoof names). Only stable Unicode
 * properties, so every device agrees whatever its Unicode version.
 */
const NOT_PRINTABLE = /[\p{Cc}\p{Cs}\u2028\u2029\u202A-\u202E\u2066-\u2069]/u
const NOT_BLANK = /\S/u
/** Printable ASCII without spaces: OrbitDB addresses and entry hashes. */
const VISIBLE_ASCII = /^[\x21-\x7e]+$/
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype'])

/** The path of a field; top-level fields are named bare ('device', not 'op.device'). */
const field = (path: string, key: string): string => path === 'op' ? key : `${path}.${key}`

const fail = (path: string, problem: string): never => {
  throw new InvalidOperationError(`invalid registry op: "${path}" ${problem}`)
}

/** A short, safe rendering of an untrusted value for error messages. */
const preview = (value: unknown): string => {
  if (typeof value === 'string') return value.length > 32 ? `a string of ${value.length} chars` : JSON.stringify(value)
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'a non-finite number'
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`
}

// ---------------------------------------------------------------------------------------
// Field readers: each takes an untrusted value and a path, returns a checked copy.

/**
 * An untrusted plain object's own data properties. Rejects arrays, class instances,
 * prototype tricks (`__proto__` and friends as own keys, odd prototypes), symbol keys and
 * accessors, so reading a value never runs foreign code through a getter.
 */
const readPlainObject = (value: unknown, path: string): Map<string, unknown> => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail(path, `must be a plain object, got ${preview(value)}`)
  }
  const proto: unknown = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return fail(path, 'must be a plain object (unexpected prototype)')
  const fields = new Map<string, unknown>()
  const keys = Reflect.ownKeys(value)
  for (const key of keys) {
    if (typeof key !== 'string') return fail(path, 'must not have symbol keys')
    if (FORBIDDEN_KEYS.has(key)) return fail(field(path, key), 'is a forbidden key')
  }
  for (const key of keys as string[]) {
    const descriptor = Object.getOwnPropertyDescriptor(value, key)
    if (descriptor === undefined || !('value' in descriptor) || descriptor.enumerable !== true) {
      return fail(field(path, key), 'must be a plain data property')
    }
    fields.set(key, descriptor.value)
  }
  return fields
}

/** A plain object with exactly the given fields (extra and missing fields both rejected). */
const readFields = (value: unknown, path: string, expected: readonly string[]): Map<string, unknown> =>
  checkFields(readPlainObject(value, path), path, expected)

const checkFields = (fields: Map<string, unknown>, path: string, expected: readonly string[]): Map<string, unknown> => {
  const unexpected = [...fields.keys()].filter(k => !expected.includes(k)).sort()
  if (unexpected[0] !== undefined) return fail(field(path, unexpected[0]), 'is not an allowed field')
  for (const key of expected) {
    if (!fields.has(key)) return fail(field(path, key), 'is missing')
  }
  return fields
}

const readString = (value: unknown, path: string): string => {
  if (typeof value !== 'string') return fail(path, `must be a string, got ${preview(value)}`)
  return value
}

const readDeviceId = (value: unknown, path: string): DeviceId => {
  if (!isDeviceId(value)) return fail(path, `must be a device id ('d' + 24 base32 chars), got ${preview(value)}`)
  return value
}

/**
 * Unpadded base64url whose unused trailing bits are zero, so that each byte string has
 * exactly one encoding (two spellings of one key must not count as two keys).
 */
export const isCanonicalBase64url = (value: string): boolean => {
  if (!BASE64URL.test(value)) return false
  const rest = value.length % 4
  if (rest === 1) return false
  if (rest === 0) return true
  const last = BASE64URL_ALPHABET.indexOf(value[value.length - 1] ?? '')
  return rest === 2 ? (last & 0x0f) === 0 : (last & 0x03) === 0
}

const readKey = (value: unknown, path: string): string => {
  const s = readString(value, path)
  if (s.length !== LIMITS.keyLength || !isCanonicalBase64url(s)) {
    return fail(path, `must be base64url of exactly 32 bytes (${LIMITS.keyLength} chars), got ${preview(s)}`)
  }
  return s
}

/** Base64url of `min`..`max` chars. */
const readBase64url = (value: unknown, path: string, min: number, max: number): string => {
  const s = readString(value, path)
  if (s.length < min || s.length > max) return fail(path, `must be ${min}..${max} base64url chars, got ${s.length}`)
  if (!isCanonicalBase64url(s)) return fail(path, 'must be canonical unpadded base64url')
  return s
}

export const isValidName = (value: unknown): value is string => {
  if (typeof value !== 'string' || value.length === 0 || value.length > LIMITS.nameLength * 2) return false
  const chars = [...value].length
  return chars <= LIMITS.nameLength && !NOT_PRINTABLE.test(value) && NOT_BLANK.test(value)
}

const readName = (value: unknown, path: string): string => {
  const s = readString(value, path)
  if (!isValidName(s)) {
    return fail(path, `must be 1..${LIMITS.nameLength} chars of printable text without control chars, got ${preview(s)}`)
  }
  return s
}

const readMode = (value: unknown, path: string): Mode => {
  const mode = MODES.find(m => m === value)
  if (mode === undefined) return fail(path, `must be one of ${MODES.join(', ')}, got ${preview(value)}`)
  return mode
}

const readRole = (value: unknown, path: string): Role => {
  const role = ROLES.find(r => r === value)
  if (role === undefined) return fail(path, `must be one of ${ROLES.join(', ')}, got ${preview(value)}`)
  return role
}

const readEpoch = (value: unknown, path: string): number => {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    return fail(path, `must be a non-negative safe integer, got ${preview(value)}`)
  }
  return value === 0 ? 0 : value // normalizes -0
}

const readDataLog = (value: unknown, path: string): string => {
  const s = readString(value, path)
  if (s.length > LIMITS.dataLogLength || !s.startsWith(DATA_LOG_PREFIX) || s.length === DATA_LOG_PREFIX.length ||
      !VISIBLE_ASCII.test(s)) {
    return fail(path, `must be an OrbitDB address ('${DATA_LOG_PREFIX}...', printable ASCII, up to ${LIMITS.dataLogLength} chars), got ${preview(s)}`)
  }
  return s
}

const readLockboxes = (value: unknown, path: string): Lockboxes => {
  if (typeof value === 'object' && value !== null && !Array.isArray(value) &&
      Reflect.ownKeys(value).length > LIMITS.lockboxCount) {
    return fail(path, `must have at most ${LIMITS.lockboxCount} entries`)
  }
  const fields = readPlainObject(value, path)
  const lockboxes: Lockboxes = {}
  for (const key of [...fields.keys()].sort()) {
    readDeviceId(key, `${path} key`)
    lockboxes[key] = readBase64url(fields.get(key), `${path}.${key}`, 1, LIMITS.lockboxLength)
  }
  return lockboxes
}

const readCut = (value: unknown, path: string): string[] => {
  if (!Array.isArray(value)) return fail(path, `must be an array, got ${preview(value)}`)
  const items: unknown[] = value
  if (items.length > LIMITS.cutLength) return fail(path, `must have at most ${LIMITS.cutLength} items`)
  const keys = Reflect.ownKeys(items)
  if (keys.length !== items.length + 1) return fail(path, 'must be a dense array without extra properties')
  const cut: string[] = []
  for (let i = 0; i < items.length; i++) {
    const descriptor = Object.getOwnPropertyDescriptor(items, i)
    if (descriptor === undefined || !('value' in descriptor)) return fail(`${path}[${i}]`, 'must be a plain data item')
    const s = readString(descriptor.value, `${path}[${i}]`)
    if (s.length > LIMITS.cutItemLength || !VISIBLE_ASCII.test(s)) {
      return fail(`${path}[${i}]`, `must be 1..${LIMITS.cutItemLength} printable ASCII chars, got ${preview(s)}`)
    }
    if (cut.includes(s)) return fail(`${path}[${i}]`, 'is a duplicate')
    cut.push(s)
  }
  return cut
}

const readDescriptor = (value: unknown, path: string): DeviceDescriptor => {
  const f = readFields(value, path, ['device', 'name', 'signingKey', 'boxKey'])
  return {
    device: readDeviceId(f.get('device'), `${path}.device`),
    name: readName(f.get('name'), `${path}.name`),
    signingKey: readKey(f.get('signingKey'), `${path}.signingKey`),
    boxKey: readKey(f.get('boxKey'), `${path}.boxKey`)
  }
}

// ---------------------------------------------------------------------------------------
// Op parsers.

const readRecoveryKey = (value: unknown, path: string): RecoveryDescriptor => {
  const f = readFields(value, path, ['device', 'signingKey', 'boxKey'])
  return {
    device: readDeviceId(f.get('device'), `${path}.device`),
    signingKey: readKey(f.get('signingKey'), `${path}.signingKey`),
    boxKey: readKey(f.get('boxKey'), `${path}.boxKey`)
  }
}

const FIELDS: { readonly [T in RegistryOpType]: readonly string[] } = {
  genesis: ['type', 'v', 'mode', 'founder', 'dataLog', 'lockboxes'],
  add: ['type', 'v', 'device', 'role', 'epoch', 'lockbox'],
  revoke: ['type', 'v', 'device'],
  rotate: ['type', 'v', 'epoch', 'dataLog', 'lockboxes', 'cut'],
  rename: ['type', 'v', 'device', 'name'],
  recovery: ['type', 'v', 'key', 'epoch', 'lockbox'],
  invitation: ['type', 'v', 'id', 'key', 'role', 'expires', 'confirm'],
  withdraw: ['type', 'v', 'invitation'],
  replica: ['type', 'v', 'peer', 'addrs', 'boxKey'],
  'replica-remove': ['type', 'v', 'peer'],
  'swarm-box': ['type', 'v', 'peer', 'epoch', 'box']
}

/** A libp2p peer id as text: base58btc (12D3KooW..., Qm...). */
const PEER_ID = /^[1-9A-HJ-NP-Za-km-z]{40,64}$/
const MAX_REPLICA_ADDRS = 8
const MAX_ADDR_LENGTH = 200

const readPeerId = (value: unknown, path: string): string => {
  const s = readString(value, path)
  if (!PEER_ID.test(s)) return fail(path, `must be a libp2p peer id (base58btc), got ${preview(s)}`)
  return s
}

/** Multiaddrs as text ('/...', printable ASCII, without duplicates); parsed as multiaddrs only where they are dialed. */
const readAddrs = (value: unknown, path: string): string[] => {
  const items = readCut(value, path)
  if (items.length < 1 || items.length > MAX_REPLICA_ADDRS) return fail(path, `must have 1..${MAX_REPLICA_ADDRS} addresses, got ${items.length}`)
  for (const [i, a] of items.entries()) {
    if (!a.startsWith('/') || a.length > MAX_ADDR_LENGTH) return fail(`${path}[${i}]`, `must be a multiaddr of up to ${MAX_ADDR_LENGTH} chars, got ${preview(a)}`)
  }
  return items
}

const readInvitationId = (value: unknown, path: string): string => {
  const s = readString(value, path)
  if (!INVITATION_ID.test(s)) return fail(path, `must be an invitation id (32 lowercase hex chars), got ${preview(s)}`)
  return s
}

const readExpires = (value: unknown, path: string): number => {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0 || value > MAX_EXPIRES) {
    return fail(path, `must be unix seconds (a positive integer up to ${MAX_EXPIRES}), got ${preview(value)}`)
  }
  return value
}

const readBoolean = (value: unknown, path: string): boolean => {
  if (typeof value !== 'boolean') return fail(path, `must be a boolean, got ${preview(value)}`)
  return value
}

/** Fields an op of `type` may carry besides its own; an add names an invitation with its proof, or neither. */
const optionalFields = (type: RegistryOpType, root: Map<string, unknown>): string[] => {
  // The genesis may carry the recovery key set at creation, and the seal of the account's one-time key.
  if (type === 'genesis') return ['recovery', 'seal'].filter(k => root.has(k))
  if (type === 'add' && (root.has('invitation') || root.has('proof'))) return ['invitation', 'proof']
  return []
}

const readType = (value: unknown): RegistryOpType => {
  const type = OP_TYPES.find(t => t === value)
  if (type === undefined) return fail('type', `must be one of ${OP_TYPES.join(', ')}, got ${preview(value)}`)
  return type
}

/**
 * Validates an untrusted registry payload and returns a fresh, fully typed copy.
 * @throws InvalidOperationError naming the offending field.
 */
export const parseOp = (payload: unknown): RegistryOp => {
  const root = readPlainObject(payload, 'op')
  if (!root.has('type')) return fail('type', 'is missing')
  const type = readType(root.get('type'))
  const optional = optionalFields(type, root)
  const f = checkFields(root, 'op', [...FIELDS[type], ...optional])
  if (f.get('v') !== OP_VERSION) return fail('v', `must be ${OP_VERSION}, got ${preview(f.get('v'))}`)
  switch (type) {
    case 'genesis': {
      const op: GenesisOp = {
        type,
        v: OP_VERSION,
        mode: readMode(f.get('mode'), 'mode'),
        founder: readDescriptor(f.get('founder'), 'founder'),
        dataLog: readDataLog(f.get('dataLog'), 'dataLog'),
        lockboxes: readLockboxes(f.get('lockboxes'), 'lockboxes'),
        ...(f.has('recovery') ? { recovery: readRecoveryKey(f.get('recovery'), 'recovery') } : {}),
        ...(f.has('seal') ? { seal: readBase64url(f.get('seal'), 'seal', 86, 86) } : {})
      }
      return op
    }
    case 'add': {
      const op: AddOp = {
        type,
        v: OP_VERSION,
        device: readDescriptor(f.get('device'), 'device'),
        role: readRole(f.get('role'), 'role'),
        epoch: readEpoch(f.get('epoch'), 'epoch'),
        lockbox: readBase64url(f.get('lockbox'), 'lockbox', 0, LIMITS.lockboxLength),
        ...(f.has('invitation')
          ? {
              invitation: readInvitationId(f.get('invitation'), 'invitation'),
              proof: readBase64url(f.get('proof'), 'proof', LIMITS.signatureLength, LIMITS.signatureLength)
            }
          : {})
      }
      return op
    }
    case 'invitation': {
      const op: InvitationOp = {
        type,
        v: OP_VERSION,
        id: readInvitationId(f.get('id'), 'id'),
        key: readKey(f.get('key'), 'key'),
        role: readRole(f.get('role'), 'role'),
        expires: readExpires(f.get('expires'), 'expires'),
        confirm: readBoolean(f.get('confirm'), 'confirm')
      }
      return op
    }
    case 'replica': {
      const op: ReplicaOp = { type, v: OP_VERSION, peer: readPeerId(f.get('peer'), 'peer'), addrs: readAddrs(f.get('addrs'), 'addrs'), boxKey: readKey(f.get('boxKey'), 'boxKey') }
      return op
    }
    case 'swarm-box': {
      const op: SwarmBoxOp = { type, v: OP_VERSION, peer: readPeerId(f.get('peer'), 'peer'), epoch: readEpoch(f.get('epoch'), 'epoch'), box: readBase64url(f.get('box'), 'box', 1, LIMITS.lockboxLength) }
      return op
    }
    case 'replica-remove': {
      const op: ReplicaRemoveOp = { type, v: OP_VERSION, peer: readPeerId(f.get('peer'), 'peer') }
      return op
    }
    case 'withdraw': {
      const op: WithdrawOp = { type, v: OP_VERSION, invitation: readInvitationId(f.get('invitation'), 'invitation') }
      return op
    }
    case 'revoke': {
      const op: RevokeOp = { type, v: OP_VERSION, device: readDeviceId(f.get('device'), 'device') }
      return op
    }
    case 'rotate': {
      const op: RotateOp = {
        type,
        v: OP_VERSION,
        epoch: readEpoch(f.get('epoch'), 'epoch'),
        dataLog: readDataLog(f.get('dataLog'), 'dataLog'),
        lockboxes: readLockboxes(f.get('lockboxes'), 'lockboxes'),
        cut: readCut(f.get('cut'), 'cut')
      }
      return op
    }
    case 'rename': {
      const op: RenameOp = {
        type,
        v: OP_VERSION,
        device: readDeviceId(f.get('device'), 'device'),
        name: readName(f.get('name'), 'name')
      }
      return op
    }
    case 'recovery': {
      const op: RecoveryOp = {
        type,
        v: OP_VERSION,
        key: readRecoveryKey(f.get('key'), 'key'),
        epoch: readEpoch(f.get('epoch'), 'epoch'),
        lockbox: readBase64url(f.get('lockbox'), 'lockbox', 0, LIMITS.lockboxLength)
      }
      return op
    }
    default: {
      const unhandled: never = type
      throw new Error(`unhandled op type ${String(unhandled)}`)
    }
  }
}

// ---------------------------------------------------------------------------------------
// Builders: typed, validated ops for the local device to append.

type OpOf<T extends RegistryOpType> = Extract<RegistryOp, { type: T }>

const parseAs = <T extends RegistryOpType>(type: T, payload: Record<string, unknown>): OpOf<T> => {
  const op = parseOp(payload)
  if (op.type !== type) throw new Error(`parseOp returned a ${op.type} op for a ${type} payload`)
  return op as OpOf<T>
}

/** Only the descriptor fields, so a DeviceRecord can be passed as a descriptor. */
const descriptor = (d: DeviceDescriptor): DeviceDescriptor =>
  ({ device: d.device, name: d.name, signingKey: d.signingKey, boxKey: d.boxKey })

export interface GenesisInput {
  mode: Mode
  founder: DeviceDescriptor
  dataLog: string
  /** Defaults to none (public mode). */
  lockboxes?: Lockboxes
  /** The recovery key set at creation (its lockbox goes in `lockboxes`). */
  recovery?: RecoveryDescriptor
}

export const genesisOp = (input: GenesisInput): GenesisOp => parseAs('genesis', {
  type: 'genesis',
  v: OP_VERSION,
  mode: input.mode,
  founder: descriptor(input.founder),
  dataLog: input.dataLog,
  lockboxes: { ...input.lockboxes },
  ...(input.recovery !== undefined ? { recovery: { device: input.recovery.device, signingKey: input.recovery.signingKey, boxKey: input.recovery.boxKey } } : {})
})

export interface AddInput {
  device: DeviceDescriptor
  role: Role
  epoch: number
  /** Defaults to '' (public mode). */
  lockbox?: string
  /** The recorded invitation this admission uses, with the invitation key's signature of it. */
  invitation?: { id: string, proof: string }
}

export const addOp = (input: AddInput): AddOp => parseAs('add', {
  type: 'add',
  v: OP_VERSION,
  device: descriptor(input.device),
  role: input.role,
  epoch: input.epoch,
  lockbox: input.lockbox ?? '',
  ...(input.invitation !== undefined ? { invitation: input.invitation.id, proof: input.invitation.proof } : {})
})

export interface InvitationInput {
  id: string
  key: string
  role: Role
  expires: number
  confirm: boolean
}

export const replicaOp = (input: { peer: string, addrs: readonly string[], boxKey: string }): ReplicaOp =>
  parseAs('replica', { type: 'replica', v: OP_VERSION, peer: input.peer, addrs: [...input.addrs], boxKey: input.boxKey })

export const swarmBoxOp = (input: { peer: string, epoch: number, box: string }): SwarmBoxOp =>
  parseAs('swarm-box', { type: 'swarm-box', v: OP_VERSION, peer: input.peer, epoch: input.epoch, box: input.box })

export const replicaRemoveOp = (input: { peer: string }): ReplicaRemoveOp =>
  parseAs('replica-remove', { type: 'replica-remove', v: OP_VERSION, peer: input.peer })

export const withdrawOp = (input: { invitation: string }): WithdrawOp =>
  parseAs('withdraw', { type: 'withdraw', v: OP_VERSION, invitation: input.invitation })

export const invitationOp = (input: InvitationInput): InvitationOp => parseAs('invitation', {
  type: 'invitation', v: OP_VERSION, id: input.id, key: input.key, role: input.role, expires: input.expires, confirm: input.confirm
})

export const renameOp = (input: { device: DeviceId, name: string }): RenameOp =>
  parseAs('rename', { type: 'rename', v: OP_VERSION, device: input.device, name: input.name })

export const revokeOp = (input: { device: DeviceId }): RevokeOp =>
  parseAs('revoke', { type: 'revoke', v: OP_VERSION, device: input.device })

export interface RotateInput {
  epoch: number
  dataLog: string
  lockboxes: Lockboxes
  cut: readonly string[]
}

export const rotateOp = (input: RotateInput): RotateOp => parseAs('rotate', {
  type: 'rotate',
  v: OP_VERSION,
  epoch: input.epoch,
  dataLog: input.dataLog,
  lockboxes: { ...input.lockboxes },
  cut: [...input.cut]
})

export interface RecoveryInput {
  key: RecoveryDescriptor
  epoch: number
  /** Defaults to '' (public mode). */
  lockbox?: string
}

export const recoveryOp = (input: RecoveryInput): RecoveryOp => parseAs('recovery', {
  type: 'recovery',
  v: OP_VERSION,
  key: { device: input.key.device, signingKey: input.key.signingKey, boxKey: input.key.boxKey },
  epoch: input.epoch,
  lockbox: input.lockbox ?? ''
})
