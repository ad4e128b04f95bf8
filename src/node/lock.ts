/**
 * One process at a time per account directory. The lock is a file created with O_EXCL
 * holding the owner's pid and role; a lock whose process is gone (killed, crashed) is
 * taken over. LevelDB's own lock stays underneath as a second guard.
 */
import { link, readFile, unlink, writeFile } from 'node:fs/promises'
import { StoreLockedError } from '../errors.ts'

export interface LockInfo {
  pid: number
  role: 'daemon' | 'command'
  since: string
}

export interface StoreLock {
  release: () => Promise<void>
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export const readLock = async (path: string): Promise<LockInfo | undefined> => {
  const state = await lockState(path)
  return state.kind === 'held' ? state.info : undefined
}

/**
 * What is at the lock's path: a holder, nothing (never taken, or released since: the
 * holder of a moment ago finished), or a file that does not read as a lock.
 */
export type LockState = { kind: 'held', info: LockInfo } | { kind: 'gone' } | { kind: 'unreadable' }

export const lockState = async (path: string): Promise<LockState> => {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? { kind: 'gone' } : { kind: 'unreadable' }
  }
  try {
    const info = JSON.parse(text) as LockInfo
    return typeof info?.pid === 'number' ? { kind: 'held', info } : { kind: 'unreadable' }
  } catch {
    return { kind: 'unreadable' }
  }
}

/** How many times a take tries to link the lock, at most. */
const MAX_TRIES = 100

/**
 * Takes the lock at `path`. The file is written whole under a temporary name and
 * linked into place (atomic, fails if it exists), so a reader never sees it half-written.
 */
export const acquireLock = async (path: string, role: LockInfo['role']): Promise<StoreLock> => {
  const info: LockInfo = { pid: process.pid, role, since: new Date().toISOString() }
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}`
  await writeFile(tmp, JSON.stringify(info), { mode: 0o600, flush: true })
  try {
    // A stale lock is taken over twice at most; a lock released under us (commands run
    // together, each holding it briefly) is tried again, many times if need be.
    let takeovers = 0
    for (let tries = 0; tries < MAX_TRIES && takeovers <= 2; tries++) {
      try {
        await link(tmp, path)
        let released = false
        return {
          release: async () => {
            if (released) return
            released = true
            const current = await readLock(path)
            if (current?.pid === process.pid && current.since === info.since) await unlink(path).catch(() => {})
          }
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      }
      const state = await lockState(path)
      // Released between our link and this read (commands run together): try the link again.
      if (state.kind === 'gone') continue
      if (state.kind === 'unreadable') {
        throw new StoreLockedError(`the account store lock ${path} is unreadable; if no orbit-account process uses this directory, delete that file`)
      }
      const holder = state.info
      if (holder.pid === process.pid || alive(holder.pid)) {
        throw new StoreLockedError(`the account store is in use by ${holder.role === 'daemon' ? 'a daemon' : 'another command'} (pid ${holder.pid}${holder.pid === process.pid ? ', this process' : ''}); ` +
          (holder.role === 'daemon' ? 'commands reach it through its socket' : 'wait for it to finish'))
      }
      // A stale lock: its process is gone (killed or crashed). Take it over.
      takeovers++
      await unlink(path).catch(() => {})
    }
    throw new StoreLockedError('could not take the account store lock')
  } finally {
    await unlink(tmp).catch(() => {})
  }
}

/** LevelDB refuses a second open of its files: that too means the store is in use. */
export const isLevelLocked = (err: unknown): boolean => {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = (e as Error & { cause?: unknown }).cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'LEVEL_LOCKED' || code === 'LEVEL_DATABASE_NOT_OPEN' || /failed to open/i.test(e.message)) return true
  }
  return false
}
