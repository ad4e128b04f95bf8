/** Keys, values and their size limits: checked where they enter, typed errors out. */
import { InvalidArgumentError, InvalidJsonError, ValueTooLargeError } from '../errors.ts'
import { utf8Length } from '../crypto/bytes.ts'

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }

/** A key is 1 to 1,024 bytes of UTF-8 text without control characters. */
export const MAX_KEY_BYTES = 1024
/** A value is at most 256 KiB of JSON text. */
export const MAX_VALUE_BYTES = 256 * 1024

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/

export const checkKey = (key: string): string => {
  if (typeof key !== 'string' || key.length === 0) throw new InvalidArgumentError('key must be a non-empty string')
  if (CONTROL.test(key)) throw new InvalidArgumentError('key must not contain control characters')
  const n = utf8Length(key)
  if (n > MAX_KEY_BYTES) throw new ValueTooLargeError(`key is ${n} bytes; the limit is ${MAX_KEY_BYTES}`)
  return key
}

/** How deep arrays and objects may nest (checking stops there: no stack overflow, however deep the input). */
export const MAX_VALUE_DEPTH = 100

/**
 * Plain JSON only: null, booleans, finite numbers, strings, arrays and plain objects (no
 * bytes, no CIDs, no classes), nested at most MAX_VALUE_DEPTH deep. Undefined when it is;
 * else what is wrong, for the person who gave it.
 */
const plainJsonProblem = (v: unknown, depth = 0): string | undefined => {
  if (depth > MAX_VALUE_DEPTH) return `it nests deeper than ${MAX_VALUE_DEPTH} levels`
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return undefined
  if (typeof v === 'number') return Number.isFinite(v) ? undefined : `${String(v)} is not a number JSON can hold (too large, like 1e999)`
  if (Array.isArray(v)) return v.reduce<string | undefined>((found, x) => found ?? plainJsonProblem(x, depth + 1), undefined)
  if (typeof v !== 'object') return `a ${typeof v} is not JSON`
  const proto = Object.getPrototypeOf(v) as unknown
  if (proto !== Object.prototype && proto !== null) return 'only plain objects are JSON'
  return Object.values(v as Record<string, unknown>).reduce<string | undefined>((found, x) => found ?? plainJsonProblem(x, depth + 1), undefined)
}

/** Checks that a value is plain JSON within the size limit; returns its JSON text. */
export const checkValue = (value: JsonValue): string => {
  if (value === undefined) throw new InvalidJsonError('value must be a JSON value, got undefined')
  const problem = plainJsonProblem(value)
  if (problem !== undefined) throw new InvalidJsonError(`value must be plain JSON (null, booleans, finite numbers, strings, arrays, objects): ${problem}`)
  let text: string
  try {
    text = JSON.stringify(value)
  } catch (err) {
    throw new InvalidJsonError(`value is not serializable as JSON: ${(err as Error).message}`)
  }
  if (typeof text !== 'string') throw new InvalidJsonError('value is not a JSON value')
  const n = utf8Length(text)
  if (n > MAX_VALUE_BYTES) throw new ValueTooLargeError(`value is ${n} bytes of JSON; the limit is ${MAX_VALUE_BYTES}`)
  return text
}

/** Parses JSON text given by a person (a CLI argument or stdin). */
export const parseJsonValue = (text: string): JsonValue => {
  try {
    return JSON.parse(text) as JsonValue
  } catch (err) {
    throw new InvalidJsonError(`value is not valid JSON: ${(err as Error).message}. Quote strings, e.g. '"hello"'`)
  }
}
