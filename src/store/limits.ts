/** Keys, values and their size limits: checked where they enter, typed errors out. */
import { InvalidArgumentError, InvalidJsonError, ValueTooLargeError } from '../errors.ts'
import { utf8Length } from '../crypto/bytes.ts'

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }

/** A key is 1 to 1,024 bytes of UTF-8 text without control characters. */
export const MAX_KEY_BYTES = 1024
/** A value is at most 256 KiB of JSON text. */
export const MAX_VALUE_BYTES = 256 * 1024

/**
 * The JSON text of the largest data op: a key (JSON escapes at most double it), a
 * value at its limit, and the op's wrapper or a carried record's stamp (its id and hash
 * are at most 200 characters each, src/store/codec.ts). A snapshot part or a carry holds
 * at most this much (src/rotation/parts.ts), also once inflated.
 */
export const MAX_OP_JSON = 2 * MAX_KEY_BYTES + MAX_VALUE_BYTES + 1024

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/

export const checkKey = (key: string): string => {
  if (typeof key !== 'string' || key.length === 0) throw new InvalidArgumentError('key must be a non-empty string')
  if (CONTROL.test(key)) throw new InvalidArgumentError('key must not contain control characters')
  // Three bytes of UTF-8 at most a character: a short key is not measured.
  const n = 3 * key.length > MAX_KEY_BYTES ? utf8Length(key) : 0
  if (n > MAX_KEY_BYTES) throw new ValueTooLargeError(`key is ${n} bytes; the limit is ${MAX_KEY_BYTES}`)
  return key
}

/** How deep arrays and objects may nest (checking stops there: no stack overflow, however deep the input). */
export const MAX_VALUE_DEPTH = 100

/** What each number, array, object, property or string costs in memory besides its characters (the quotas' measure, src/store/quota.ts). */
export const NODE_COST = 32

/** What one walk of a value finds (see `measure`). */
interface Measure {
  /** The memory it holds, estimated: NODE_COST a node and two bytes a character. */
  cost: number
  /** At least the length of its JSON text (a character escaped takes at most 6). */
  bound: number
  problem: string | undefined
}

/** The longest JSON text of a finite number (`-1.2345678901234567e-308`), and its comma. */
const NUMBER_TEXT = 25

/**
 * Walks a value once: is it plain JSON (null, booleans, finite numbers, strings, arrays
 * and plain objects: no bytes, no CIDs, no classes), nested at most MAX_VALUE_DEPTH deep?
 * Adds its cost and a bound of its text's length to `m`; stops at the first problem.
 */
const measure = (v: unknown, depth: number, m: Measure): void => {
  if (depth > MAX_VALUE_DEPTH) {
    m.problem = `it nests deeper than ${MAX_VALUE_DEPTH} levels`
    return
  }
  m.cost += NODE_COST
  if (typeof v === 'string') {
    m.cost += 2 * v.length
    m.bound += 6 * v.length + 3
  } else if (typeof v === 'number') {
    if (!Number.isFinite(v)) m.problem = `${String(v)} is not a number JSON can hold (too large, like 1e999)`
    m.bound += NUMBER_TEXT
  } else if (v === null || typeof v === 'boolean') {
    m.bound += 6
  } else if (Array.isArray(v)) {
    m.bound += 3
    for (let i = 0; i < v.length && m.problem === undefined; i++) measure(v[i], depth + 1, m)
  } else if (typeof v !== 'object') {
    m.problem = `a ${typeof v} is not JSON`
  } else {
    const proto = Object.getPrototypeOf(v) as unknown
    if (proto !== Object.prototype && proto !== null) {
      m.problem = 'only plain objects are JSON'
      return
    }
    m.bound += 3
    const o = v as Record<string, unknown>
    for (const k of Object.keys(o)) {
      m.cost += NODE_COST + 2 * k.length
      m.bound += 6 * k.length + 3
      measure(o[k], depth + 1, m)
      if (m.problem !== undefined) return
    }
  }
}

/** One walk of a whole value (see `measure`). */
const walk = (value: unknown): Measure => {
  const m: Measure = { cost: 0, bound: 0, problem: undefined }
  measure(value, 0, m)
  return m
}

/** The memory a checked value holds, estimated (see Measure); the quotas count it. */
export const jsonCost = (value: JsonValue): number => walk(value).cost

/** Walks a value to check it; throws InvalidJsonError naming what is wrong. */
const checked = (value: JsonValue): Measure => {
  if (value === undefined) throw new InvalidJsonError('value must be a JSON value, got undefined')
  const m = walk(value)
  if (m.problem !== undefined) throw new InvalidJsonError(`value must be plain JSON (null, booleans, finite numbers, strings, arrays, objects): ${m.problem}`)
  return m
}

/** Checks that a value is plain JSON within the size limit; returns its JSON text. */
export const checkValue = (value: JsonValue): string => {
  checked(value)
  return sizedText(value)
}

/**
 * The same check for a value of a decoded op (thousands in a snapshot part): its JSON
 * text is written only when its bound could pass the limit (a character takes at most
 * three bytes of UTF-8), not for every value. Returns its `jsonCost`, found by the same
 * walk (a snapshot's apply then need not walk each value again).
 */
export const checkDecodedValue = (value: JsonValue): number => {
  const m = checked(value)
  if (3 * m.bound > MAX_VALUE_BYTES) sizedText(value)
  return m.cost
}

/** The JSON text of a plain JSON value, within the size limit. */
const sizedText = (value: JsonValue): string => {
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
