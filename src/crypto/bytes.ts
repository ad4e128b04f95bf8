/**
 * Byte helpers shared by the crypto and identity code: UTF-8, strict unpadded
 * base64url, lowercase base32, concatenation, comparison and randomness.
 * Browser-ready: Uint8Array only, no Buffer, no node:* imports.
 */
import { randomBytes as nobleRandomBytes } from '@noble/hashes/utils.js'
import { InvalidArgumentError } from '../errors.ts'

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Throws InvalidArgumentError unless `value` is a Uint8Array (optionally of exact `length`). */
export const assertBytes = (value: unknown, label: string, length?: number): Uint8Array => {
  if (!(value instanceof Uint8Array)) {
    throw new InvalidArgumentError(`${label} must be a Uint8Array, got ${describe(value)}`)
  }
  if (length !== undefined && value.length !== length) {
    throw new InvalidArgumentError(`${label} must be ${length} bytes, got ${value.length}`)
  }
  return value
}

export const utf8Encode = (text: string): Uint8Array => {
  if (typeof text !== 'string') throw new InvalidArgumentError(`text must be a string, got ${describe(text)}`)
  return encoder.encode(text)
}

/**
 * The length of `text` in UTF-8, as `utf8Encode` writes it (a lone surrogate as U+FFFD,
 * 3 bytes), without writing it: for size checks run on every value of a snapshot.
 */
export const utf8Length = (text: string): number => {
  let n = text.length
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x80) continue
    if (c < 0x800) {
      n += 1
      continue
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) {
        // A pair: two code units, four bytes.
        n += 2
        i++
        continue
      }
    }
    n += 2
  }
  return n
}

/** Decodes UTF-8; invalid sequences throw InvalidArgumentError naming `label`. */
export const utf8Decode = (bytes: Uint8Array, label = 'bytes'): string => {
  assertBytes(bytes, label)
  try {
    return decoder.decode(bytes)
  } catch (cause) {
    throw new InvalidArgumentError(`${label} is not valid UTF-8`, { cause })
  }
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const B64URL_LOOKUP: Int16Array = (() => {
  const table = new Int16Array(128).fill(-1)
  for (let i = 0; i < B64URL.length; i++) table[B64URL.charCodeAt(i)] = i
  return table
})()

/** base64url (RFC 4648 §5) without padding. */
export const base64urlEncode = (bytes: Uint8Array): string => {
  assertBytes(bytes, 'bytes')
  let out = ''
  let i = 0
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!
    out += B64URL[(n >> 18) & 63]! + B64URL[(n >> 12) & 63]! + B64URL[(n >> 6) & 63]! + B64URL[n & 63]!
  }
  const rest = bytes.length - i
  if (rest === 1) {
    const n = bytes[i]! << 16
    out += B64URL[(n >> 18) & 63]! + B64URL[(n >> 12) & 63]!
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8)
    out += B64URL[(n >> 18) & 63]! + B64URL[(n >> 12) & 63]! + B64URL[(n >> 6) & 63]!
  }
  return out
}

/**
 * Strict unpadded base64url decoding: rejects padding, whitespace, the standard
 * base64 alphabet ('+', '/'), impossible lengths and non-canonical trailing bits.
 * Errors are InvalidArgumentError naming `label`.
 */
export const base64urlDecode = (text: string, label = 'value'): Uint8Array => {
  if (typeof text !== 'string') {
    throw new InvalidArgumentError(`${label} must be a base64url string, got ${describe(text)}`)
  }
  if (text.length % 4 === 1) {
    throw new InvalidArgumentError(`${label} is not valid base64url: impossible length ${text.length}`)
  }
  const out = new Uint8Array(Math.floor((text.length * 3) / 4))
  let acc = 0
  let bits = 0
  let o = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    const v = c < 128 ? B64URL_LOOKUP[c]! : -1
    if (v < 0) {
      throw new InvalidArgumentError(`${label} is not valid base64url: unexpected character at index ${i}`)
    }
    acc = ((acc << 6) | v) & 0xffffff
    bits += 6
    if (bits >= 8) {
      bits -= 8
      out[o++] = (acc >> bits) & 0xff
    }
  }
  if ((acc & ((1 << bits) - 1)) !== 0) {
    throw new InvalidArgumentError(`${label} is not valid base64url: non-zero trailing bits`)
  }
  return out
}

/** Bytes from a hexadecimal string, for constants written in the code (test vectors); trusted input. */
export const hexDecode = (hex: string): Uint8Array => Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16))

const B32 = 'abcdefghijklmnopqrstuvwxyz234567'

/** Lowercase base32 (RFC 4648 alphabet) without padding. */
export const base32LowerEncode = (bytes: Uint8Array): string => {
  assertBytes(bytes, 'bytes')
  let out = ''
  let acc = 0
  let bits = 0
  for (const b of bytes) {
    acc = ((acc << 8) | b) & 0xffff
    bits += 8
    while (bits >= 5) {
      bits -= 5
      out += B32[(acc >> bits) & 31]!
    }
  }
  if (bits > 0) out += B32[(acc << (5 - bits)) & 31]!
  return out
}

export const concatBytes = (...parts: Uint8Array[]): Uint8Array => {
  for (const [i, p] of parts.entries()) assertBytes(p, `part ${i}`)
  return joinBytes(parts)
}

/** Copies `parts` one after the other into `out` from `start` (default: a new array of their total length); a list of any length. */
export const joinBytes = (parts: Uint8Array[], out?: Uint8Array, start = 0): Uint8Array => {
  const into = out ?? new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let offset = start
  for (const p of parts) {
    into.set(p, offset)
    offset += p.length
  }
  return into
}

/**
 * Compares two byte arrays without an early exit on the first difference
 * (the length itself is not secret).
 */
export const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  assertBytes(a, 'a')
  assertBytes(b, 'b')
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!
  return diff === 0
}

/** `n` cryptographically secure random bytes (crypto.getRandomValues). */
export const randomBytes = (n: number): Uint8Array => {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new InvalidArgumentError(`n must be a non-negative integer, got ${String(n)}`)
  }
  return nobleRandomBytes(n)
}

const describe = (value: unknown): string => {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  return typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value
}
