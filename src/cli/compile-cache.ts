/**
 * Node keeps the compiled modules of this command in a cache (about a quarter less
 * start-up for a command that opens the store). Compiled code is code: whoever can swap
 * those files runs code as the next user of the cache. So the cache lives in the home of
 * the user this process runs as, from the password database (`sudo -E` keeps another
 * user's $HOME: root would write into, then run from, that user's files), and only in
 * directories that user alone owns and can write to. Else no cache: no harm, just slower.
 */
import module from 'node:module'
import { lstatSync, mkdirSync, statSync, type Stats } from 'node:fs'
import { userInfo } from 'node:os'
import { join } from 'node:path'

/** Under the home: made 0700 where missing. */
const BELOW_HOME = ['.cache', 'orbit-account', 'compile-cache']

/** A directory `uid` owns that no other user can write to (so none can swap what is in it). */
const isOwnDir = (st: Stats, uid: number): boolean => st.isDirectory() && st.uid === uid && (st.mode & 0o022) === 0

/**
 * The compile cache directory under `home`, made owner-only where missing; undefined when
 * the home or any directory down to the cache is not `uid`'s alone, or is a link.
 */
export const compileCacheDir = (home: string, uid: number): string | undefined => {
  try {
    // The home itself may be a link (/home -> /usr/home): what it points to must be the user's.
    if (!isOwnDir(statSync(home), uid)) return undefined
    let dir = home
    for (const name of BELOW_HOME) {
      dir = join(dir, name)
      try {
        mkdirSync(dir, { mode: 0o700 })
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return undefined
      }
      if (!isOwnDir(lstatSync(dir), uid)) return undefined
    }
    return dir
  } catch {
    return undefined
  }
}

/** Turns the cache on when a safe place for it exists. Best effort: no cache, no harm. */
export const useCompileCache = (): void => {
  try {
    if (module.enableCompileCache === undefined) return
    const home = userInfo().homedir
    const uid = process.geteuid?.()
    // No uids (Windows): no other user's home to be handed either; the profile is the user's.
    const dir = uid === undefined ? join(home, ...BELOW_HOME) : compileCacheDir(home, uid)
    if (dir !== undefined) module.enableCompileCache(dir)
  } catch {}
}
