/**
 * Node adapter for the keystore: atomic 0600 writes, permission-checked reads,
 * and passphrase lookup (--passphrase-file, then ORBIT_ACCOUNT_PASSPHRASE).
 */
import { randomUUID } from 'node:crypto'
import { chmod, mkdir, open, readFile, rename, unlink } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import {
  InvalidArgumentError,
  KeystoreCorruptError,
  KeystoreMissingError,
  KeystorePermissionsError
} from '../src/errors.ts'

export const PASSPHRASE_ENV = 'ORBIT_ACCOUNT_PASSPHRASE'
const FILE_MODE = 0o600
const DIR_MODE = 0o700
/** Keystores are small; refuse to slurp anything absurd. */
const MAX_KEYSTORE_BYTES = 1024 * 1024
const checksModes = process.platform !== 'win32'

const errCode = (e: unknown): string | undefined =>
  typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : undefined

const checkPath = (path: string, label: string): string => {
  if (typeof path !== 'string' || path.length === 0) throw new InvalidArgumentError(`${label} must be a non-empty path`)
  return resolve(path)
}

/** mkdir -p with 0700 on every directory this call creates (chmod'ed explicitly so umask cannot loosen or break it). */
const ensureDir = async (dir: string): Promise<void> => {
  const first = await mkdir(dir, { recursive: true, mode: DIR_MODE })
  if (first === undefined || !checksModes) return
  const created: string[] = []
  for (let d = dir; d.length >= first.length; d = dirname(d)) {
    created.push(d)
    if (d === first || dirname(d) === d) break
  }
  for (const d of created.reverse()) await chmod(d, DIR_MODE)
}

const fsyncDir = async (dir: string): Promise<void> => {
  let handle: FileHandle | undefined
  try {
    handle = await open(dir, 'r')
    await handle.sync()
  } catch (e) {
    // Some platforms/filesystems cannot fsync a directory; the rename is still atomic.
    if (!['EISDIR', 'EPERM', 'EINVAL', 'EACCES'].includes(errCode(e) ?? '')) throw e
  } finally {
    await handle?.close()
  }
}

/**
 * Atomically replaces `path` with `text`: temp file (0600) in the same directory,
 * fsync, rename over the target, fsync the directory.
 */
export const writeKeystoreFile = async (path: string, text: string): Promise<void> => {
  const target = checkPath(path, 'keystore path')
  if (typeof text !== 'string') throw new InvalidArgumentError('keystore text must be a string')
  const dir = dirname(target)
  await ensureDir(dir)
  const tmp = join(dir, `.${basename(target)}.${randomUUID()}.tmp`)
  let handle: FileHandle | undefined
  let renamed = false
  try {
    handle = await open(tmp, 'wx', FILE_MODE)
    if (checksModes) await handle.chmod(FILE_MODE)
    await handle.writeFile(text, 'utf8')
    await handle.sync()
    await handle.close()
    handle = undefined
    await rename(tmp, target)
    renamed = true
    await fsyncDir(dir)
  } finally {
    await handle?.close()
    if (!renamed) await unlink(tmp).catch(() => undefined)
  }
}

/**
 * Reads a keystore file, refusing it if group/other have any permission bits.
 * Missing file -> KeystoreMissingError; loose mode -> KeystorePermissionsError.
 */
export const readKeystoreFile = async (path: string): Promise<string> => {
  const target = checkPath(path, 'keystore path')
  let handle: FileHandle
  try {
    handle = await open(target, 'r')
  } catch (e) {
    const code = errCode(e)
    if (code === 'ENOENT') throw new KeystoreMissingError(`no keystore at ${target}`, { cause: e })
    if (code === 'EACCES' || code === 'EPERM') {
      throw new KeystorePermissionsError(`cannot read keystore ${target}: permission denied`, { cause: e })
    }
    throw e
  }
  try {
    const st = await handle.stat()
    if (!st.isFile()) throw new KeystoreCorruptError(`keystore ${target} is not a regular file`)
    if (checksModes && (st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(3, '0')
      throw new KeystorePermissionsError(
        `keystore ${target} is accessible by group/others (mode ${mode}); fix with: chmod 600 ${target}`
      )
    }
    if (st.size > MAX_KEYSTORE_BYTES) throw new KeystoreCorruptError(`keystore ${target} is too large (${st.size} bytes)`)
    return await handle.readFile('utf8')
  } finally {
    await handle.close()
  }
}

export type ReadPassphraseOptions = {
  passphraseFile?: string
  env?: Record<string, string | undefined>
}

/**
 * The passphrase from the first line of `passphraseFile` (trailing CR/LF stripped),
 * else from env.ORBIT_ACCOUNT_PASSPHRASE (env defaults to process.env), else undefined.
 * An empty file, empty first line or empty variable is an InvalidArgumentError.
 */
export const readPassphrase = async (options: ReadPassphraseOptions = {}): Promise<string | undefined> => {
  const { passphraseFile, env = process.env } = options
  if (passphraseFile !== undefined) {
    const file = checkPath(passphraseFile, 'passphrase file')
    let content: string
    try {
      content = await readFile(file, 'utf8')
    } catch (e) {
      const code = errCode(e) ?? 'error'
      throw new InvalidArgumentError(`cannot read passphrase file ${file} (${code})`, { cause: e })
    }
    const firstLine = content.split('\n', 1)[0]!.replace(/\r$/, '')
    if (firstLine.length === 0) throw new InvalidArgumentError(`passphrase file ${file} is empty (the first line holds the passphrase)`)
    return firstLine
  }
  const value = env[PASSPHRASE_ENV]
  if (value === undefined) return undefined
  if (value.length === 0) throw new InvalidArgumentError(`${PASSPHRASE_ENV} is set but empty`)
  return value
}

/** Whether the keystore at `path` is sealed with a passphrase (false when it is missing or unreadable as JSON). */
export const isKeystoreFileSealed = async (path: string): Promise<boolean> => {
  try {
    const doc = JSON.parse(await readKeystoreFile(path)) as { sealed?: unknown }
    return doc.sealed === true
  } catch {
    return false
  }
}
