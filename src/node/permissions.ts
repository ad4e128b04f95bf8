/**
 * An account directory is owner-only: its directories 0700, its files without group or
 * other bits. The stores under it (LevelDB, the blockstore) create their files with the
 * process umask, so the umask is tightened before they open; what a hand-made directory,
 * an older version or another umask left open is closed at every create and open.
 */
import { chmod, lstat, mkdir, readdir, realpath } from 'node:fs/promises'
import type { Stats } from 'node:fs'
import { join } from 'node:path'
import { PermissionDeniedError, UnsafePermissionsError } from '../errors.ts'

const DIR_MODE = 0o700
/** Group and other bits. */
const OPEN_BITS = 0o077
const checksModes = process.platform !== 'win32'

const errCode = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code

const octal = (mode: number): string => (mode & 0o777).toString(8).padStart(3, '0')

/**
 * Adds the group and other bits to the process umask, so every file created from now on
 * (by the stores too) is owner-only. Process-wide and kept: the stores create files for
 * as long as the account is open. A worker thread may not set it; its files are then
 * closed at the next open.
 */
const restrictUmask = (): void => {
  if (!checksModes) return
  try {
    const previous = process.umask(OPEN_BITS)
    if ((previous | OPEN_BITS) !== OPEN_BITS) process.umask(previous | OPEN_BITS)
  } catch (err) {
    if (errCode(err) !== 'ERR_WORKER_UNSUPPORTED_OPERATION') throw err
  }
}

const denied = (path: string, err: unknown): Error =>
  new PermissionDeniedError(`this user (uid ${process.getuid?.() ?? '?'}) may not access ${path}: use an account directory of your own (--dir)`, { cause: err })

/** What a lookup of something another process (holding the lock) deleted meanwhile gives. */
const unlessGone = <T>(value: T) => (err: unknown): T => {
  if (errCode(err) === 'ENOENT') return value
  throw err
}

/** Takes the group and other bits off `path` (a directory also gets its owner's rwx). */
const tighten = async (path: string, st: Stats): Promise<void> => {
  const wanted = st.isDirectory() ? DIR_MODE : st.mode & 0o700
  if ((st.mode & 0o777) === wanted) return
  try {
    await chmod(path, wanted)
  } catch (err) {
    if (errCode(err) !== 'EPERM') throw err
    throw new UnsafePermissionsError(`${path} is open to other users (mode ${octal(st.mode)}) and belongs to uid ${st.uid}, not to this user: ` +
      'run `chmod -R go-rwx` on the account directory as its owner, or use an account directory of your own (--dir)', { cause: err })
  }
}

/**
 * Tightens what the (already tightened) directory `dir` holds. Symbolic links are left alone:
 * chmod would follow them out. A directory is closed before it is read, so once the top
 * one is, no other user can reach (or swap) anything below it.
 */
const tightenContents = async (dir: string): Promise<void> => {
  const names = await readdir(dir).catch(unlessGone<string[]>([]))
  const dirs: string[] = []
  await Promise.all(names.map(async (name) => {
    const path = join(dir, name)
    const st = await lstat(path).catch(unlessGone(undefined))
    if (st === undefined || st.isSymbolicLink()) return
    await tighten(path, st)
    if (st.isDirectory()) dirs.push(path)
  }))
  // One directory at a time: a blockstore holds many, each with many files.
  for (const d of dirs) await tightenContents(d)
}

/**
 * Tightens the umask, then makes `dir` and everything under it owner-only. Refuses with
 * UNSAFE_PERMISSIONS what cannot be closed (another user's files) and with
 * PERMISSION_DENIED a directory this user may not enter or read. A missing `dir` is left
 * to the caller (no account there).
 */
export const makeOwnerOnly = async (dir: string): Promise<void> => {
  if (!checksModes) return
  restrictUmask()
  let root: string
  try {
    // The directory itself may be a link the user made (a store on another disk): that one is followed.
    root = await realpath(dir)
  } catch (err) {
    if (errCode(err) === 'ENOENT') return
    if (errCode(err) === 'EACCES') throw denied(dir, err)
    throw err
  }
  try {
    const st = await lstat(root)
    await tighten(root, st)
    if (st.isDirectory()) await tightenContents(root)
  } catch (err) {
    if (errCode(err) === 'EACCES') throw denied(dir, err)
    throw err
  }
}

/** Creates `dir` (0700) if it is missing, then makes it owner-only: where an account is created or served. */
export const ownerOnlyDir = async (dir: string): Promise<void> => {
  restrictUmask()
  try {
    await mkdir(dir, { recursive: true, mode: DIR_MODE })
  } catch (err) {
    if (errCode(err) === 'EACCES') throw denied(dir, err)
    throw err
  }
  await makeOwnerOnly(dir)
}
