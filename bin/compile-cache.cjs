/*
 * Node keeps the compiled modules of the command in a cache (with it, a daemon is ready
 * ~0.25 s sooner, a command that opens the store starts about a quarter faster).
 * Compiled code is code: whoever can swap those files runs code as the next user of the
 * cache. So the cache lives in the home of the user this process runs as, from the
 * password database (`sudo -E` keeps another user's $HOME: root would write into, then
 * run from, that user's files), and only in directories that user alone owns and can
 * write to. Else no cache: no harm, just slower.
 *
 * Plain JavaScript, so that the launcher (start.cjs) turns the cache on before it loads
 * any TypeScript: with the cache on first, even the type stripping of the sources comes
 * from the cache, and Node never loads its TypeScript stripper.
 */
'use strict'
const nodeModule = require('node:module')
const { lstatSync, mkdirSync, statSync } = require('node:fs')
const { userInfo } = require('node:os')
const { join } = require('node:path')

/** Under the home: made 0700 where missing. */
const BELOW_HOME = ['.cache', 'orbit-account', 'compile-cache']

/** A directory `uid` owns that no other user can write to (so none can swap what is in it). */
const isOwnDir = (st, uid) => st.isDirectory() && st.uid === uid && (st.mode & 0o022) === 0

/**
 * The compile cache directory under `home`, made owner-only where missing; undefined when
 * the home or any directory down to the cache is not `uid`'s alone, or is a link.
 * @param {string} home
 * @param {number} uid
 * @returns {string | undefined}
 */
const compileCacheDir = (home, uid) => {
  try {
    // The home itself may be a link (/home -> /usr/home): what it points to must be the user's.
    if (!isOwnDir(statSync(home), uid)) return undefined
    let dir = home
    for (const name of BELOW_HOME) {
      dir = join(dir, name)
      try {
        mkdirSync(dir, { mode: 0o700 })
      } catch (err) {
        if (err.code !== 'EEXIST') return undefined
      }
      if (!isOwnDir(lstatSync(dir), uid)) return undefined
    }
    return dir
  } catch {
    return undefined
  }
}

/** Turns the cache on when a safe place for it exists (once; later calls do nothing). Best effort: no cache, no harm. */
const useCompileCache = () => {
  try {
    if (nodeModule.enableCompileCache === undefined || nodeModule.getCompileCacheDir?.() !== undefined) return
    const home = userInfo().homedir
    const uid = process.geteuid?.()
    // No uids (Windows): no other user's home to be handed either; the profile is the user's.
    const dir = uid === undefined ? join(home, ...BELOW_HOME) : compileCacheDir(home, uid)
    if (dir !== undefined) nodeModule.enableCompileCache(dir)
  } catch {}
}

module.exports = { compileCacheDir, useCompileCache }
