/**
 * `orbit-account import [<file>|-]`: a JSON object of keys to values, from a file or
 * stdin, written as one batch (every device shows all of it or none). Everything is
 * checked here before a request is made: nothing is written when any of it is wrong.
 */
import { readFile, stat } from 'node:fs/promises'
import { InvalidArgumentError, ValueTooLargeError, isOrbitAccountError } from '../errors.ts'
import { checkKey, checkValue, type JsonValue } from '../store/limits.ts'
import type { Request } from '../daemon/protocol.ts'
import { MAX_IMPORT_BYTES } from '../daemon/protocol.ts'
import { readStdin } from './prompt.ts'

const tooLarge = (n: number): Error => new ValueTooLargeError(`the import is over ${n} bytes of JSON; the limit is ${MAX_IMPORT_BYTES}: split it`)

/** The text to import: stdin for `-` or nothing, else the file. */
const readSource = async (source: string | undefined): Promise<string> => {
  if (source === undefined || source === '-') return await readStdin(MAX_IMPORT_BYTES, tooLarge)
  let size: number
  try {
    size = (await stat(source)).size
  } catch (err) {
    throw new InvalidArgumentError(`import: cannot read ${source}: ${(err as Error).message}`)
  }
  if (size > MAX_IMPORT_BYTES) throw tooLarge(size)
  return await readFile(source, 'utf8')
}

/**
 * Parses an import: a JSON object whose keys are keys and values their values. Not JSON,
 * not an object, or a bad key: INVALID_ARGUMENT (exit 2); a value as `put` would refuse
 * it: INVALID_JSON or VALUE_TOO_LARGE.
 */
export const parseImport = (text: string): Record<string, JsonValue> => {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw new InvalidArgumentError(`import: not valid JSON: ${(err as Error).message}`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidArgumentError(`import: the JSON must be an object of keys to values, e.g. {"settings/theme": "dark"}; got ${Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : `a ${typeof parsed}`}`)
  }
  const entries = parsed as Record<string, JsonValue>
  for (const [key, value] of Object.entries(entries)) {
    try {
      checkKey(key)
    } catch (err) {
      throw new InvalidArgumentError(`import: key ${JSON.stringify(key.slice(0, 80))}: ${isOrbitAccountError(err) ? err.message : String(err)}`)
    }
    checkValue(value)
  }
  return entries
}

export const importRequest = async (source: string | undefined): Promise<Request> =>
  ({ v: 1, cmd: 'import', entries: parseImport(await readSource(source)) })
