/**
 * The join protocol's messages and proofs (browser-ready). A new device proves it
 * holds the invite secret with a MAC over a transcript that includes a fresh nonce of
 * the inviter, so a captured request cannot be replayed; the inviter proves the same
 * back when it admits. Both can show a short code derived from the secret and both
 * devices' signing keys, for a person to compare.
 */
import { hmac } from '@noble/hashes/hmac.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { base64urlDecode, base64urlEncode, equalBytes, utf8Decode, utf8Encode } from '../crypto/bytes.ts'
import { parseOp } from '../../acl/ops.ts'
import type { DeviceDescriptor } from '../../acl/types.ts'
import type { Role } from '../types.ts'
import { ProtocolError } from '../errors.ts'

export const JOIN_PROTOCOL = '/orbit-account/join/1.0.0'
export const MAX_MESSAGE_BYTES = 16 * 1024
export const NONCE_BYTES = 16

/** BUSY: not now (the waiting room is full, or another device is joining with this invite); try again. */
export type JoinErrorCode = 'INVITE_REJECTED' | 'INVITE_EXPIRED' | 'INVITE_USED' | 'CONFIRMATION_REJECTED' | 'JOIN_FAILED' | 'PROTOCOL_ERROR' | 'BUSY'
const ERROR_CODES = new Set<string>(['INVITE_REJECTED', 'INVITE_EXPIRED', 'INVITE_USED', 'CONFIRMATION_REJECTED', 'JOIN_FAILED', 'PROTOCOL_ERROR', 'BUSY'])

export type JoinMessage =
  | { t: 'hello', v: 1, invite: string }
  | { t: 'challenge', nonce: string, account: string, inviter: { device: string, signingKey: string }, confirm: boolean, role: Role }
  /** `proof`: the invitation key's signature of the admission asked for (acl/invitation.ts), which any device can check against the registry. */
  | { t: 'request', nonce: string, device: DeviceDescriptor, mac: string, proof: string }
  | { t: 'confirming', code: string }
  /** `mac`: only from a device that holds the invite secret (the inviter); any other proves nothing and the joiner checks its admission in the registry. */
  | { t: 'admitted', role: Role, registryHeads: string[], dataHeads: string[], mac?: string }
  | { t: 'error', code: JoinErrorCode, message: string }

const isStr = (v: unknown, max = 200): v is string => typeof v === 'string' && v.length <= max
const isHashList = (v: unknown): v is string[] => Array.isArray(v) && v.length <= 64 && v.every((h) => isStr(h, 100))
const isB64 = (v: unknown, bytes: number): v is string => {
  if (!isStr(v, 200)) return false
  try {
    return base64urlDecode(v).length === bytes
  } catch {
    return false
  }
}

const fail = (what: string): never => { throw new ProtocolError(`malformed join message: ${what}`) }

/** Decodes and checks one message from the network; throws ProtocolError on anything else. */
export const decodeMessage = (bytes: Uint8Array): JoinMessage => {
  if (bytes.length > MAX_MESSAGE_BYTES) fail('too long')
  let v: unknown
  try {
    v = JSON.parse(utf8Decode(bytes, 'message'))
  } catch {
    return fail('not JSON')
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail('not an object')
  const o = v as Record<string, unknown>
  switch (o.t) {
    case 'hello':
      if (o.v !== 1 || !isStr(o.invite, 64)) fail('hello')
      return { t: 'hello', v: 1, invite: o.invite as string }
    case 'challenge': {
      const inviter = o.inviter as Record<string, unknown> | null
      if (!isB64(o.nonce, NONCE_BYTES) || !isStr(o.account) || typeof o.confirm !== 'boolean' || (o.role !== 'admin' && o.role !== 'member') ||
        typeof inviter !== 'object' || inviter === null || !isStr(inviter.device, 40) || !isB64(inviter.signingKey, 32)) fail('challenge')
      return { t: 'challenge', nonce: o.nonce as string, account: o.account as string, inviter: { device: (inviter as { device: string }).device, signingKey: (inviter as { signingKey: string }).signingKey }, confirm: o.confirm as boolean, role: o.role as Role }
    }
    case 'request': {
      if (!isB64(o.nonce, NONCE_BYTES) || !isB64(o.mac, 32) || !isB64(o.proof, 64)) fail('request')
      // The descriptor is checked by the registry op validator.
      let device: DeviceDescriptor
      try {
        const op = parseOp({ type: 'add', v: 1, device: o.device, role: 'member', epoch: 0, lockbox: '' })
        if (op.type !== 'add') return fail('request device')
        device = op.device
      } catch (err) {
        return fail(`request device: ${(err as Error).message}`)
      }
      return { t: 'request', nonce: o.nonce as string, device, mac: o.mac as string, proof: o.proof as string }
    }
    case 'confirming':
      if (!isStr(o.code, 16)) fail('confirming')
      return { t: 'confirming', code: o.code as string }
    case 'admitted':
      if ((o.role !== 'admin' && o.role !== 'member') || !isHashList(o.registryHeads) || !isHashList(o.dataHeads) || (o.mac !== undefined && !isB64(o.mac, 32))) fail('admitted')
      return { t: 'admitted', role: o.role as Role, registryHeads: o.registryHeads as string[], dataHeads: o.dataHeads as string[], ...(o.mac !== undefined ? { mac: o.mac as string } : {}) }
    case 'error':
      if (!isStr(o.code, 40) || !ERROR_CODES.has(o.code) || !isStr(o.message, 500)) fail('error')
      return { t: 'error', code: o.code as JoinErrorCode, message: o.message as string }
    default:
      return fail(`unknown type ${typeof o.t === 'string' ? JSON.stringify(o.t).slice(0, 40) : typeof o.t}`)
  }
}

export const encodeMessage = (message: JoinMessage): Uint8Array => utf8Encode(JSON.stringify(message))

/** What both sides MAC: everything the admission depends on, in a fixed order. */
export interface Transcript {
  inviteId: string
  account: string
  inviterDevice: string
  inviterNonce: string
  joinerNonce: string
  joiner: DeviceDescriptor
}

const transcriptBytes = (label: string, t: Transcript): Uint8Array => utf8Encode(JSON.stringify([
  label, t.inviteId, t.account, t.inviterDevice, t.inviterNonce, t.joinerNonce,
  t.joiner.device, t.joiner.name, t.joiner.signingKey, t.joiner.boxKey
]))

const macKey = (secret: Uint8Array): Uint8Array => hkdf(sha256, secret, undefined, utf8Encode('orbit-account/join/v1'), 32)

export const requestMac = (secret: Uint8Array, t: Transcript): string =>
  base64urlEncode(hmac(sha256, macKey(secret), transcriptBytes('request', t)))

export const admittedMac = (secret: Uint8Array, t: Transcript, role: Role): string =>
  base64urlEncode(hmac(sha256, macKey(secret), transcriptBytes(`admitted:${role}`, t)))

/** Constant-time comparison of two base64url MACs. */
export const macEquals = (a: string, b: string): boolean => {
  try {
    return equalBytes(base64urlDecode(a), base64urlDecode(b))
  } catch {
    return false
  }
}

/** A six-digit code both devices show when a person confirms the join. */
export const shortCode = (secret: Uint8Array, inviterSigningKey: string, joinerSigningKey: string): string => {
  const mac = hmac(sha256, macKey(secret), utf8Encode(`code|${inviterSigningKey}|${joinerSigningKey}`))
  const n = (((mac[0] ?? 0) << 24) | ((mac[1] ?? 0) << 16) | ((mac[2] ?? 0) << 8) | (mac[3] ?? 0)) >>> 0
  const digits = String(n % 1_000_000).padStart(6, '0')
  return `${digits.slice(0, 3)} ${digits.slice(3)}`
}
