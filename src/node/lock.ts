/**
 * One process at a time per account directory. The lock is a file created with O_EXCL
 * holding the owner's pid and role; a lock whose process is gone (killed, crashed) is
 * taken over. LevelDB's own lock stays underneath as a second guard.
 */
import { open, readFile, unlink } from 'node:fs/promises'
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
  try {
    const info = JSON.parse(await readFile(path, 'utf8')) as LockInfo
    return typeof info.pid === 'number' ? info : undefined
  } catch {
    return undefined
  }
}

export const acquireLock = async (path: string, role: LockInfo['role']): Promise<StoreLock> => {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o600)
      const info: LockInfo = { pid: process.pid, role, since: new Date().toISOString() }
      await handle.writeFile(JSON.stringify(info))
      await handle.sync()
      await handle.close()
      let released = false
      return {
        release: async () => {
          if (released) return
          released = true
          const current = await readLock(path)
          if (current?.pid === process.pid) await unlink(path).catch(() => {})
        }
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const holder = await readLock(path)
    if (holder !== undefined && (holder.pid === process.pid || alive(holder.pid))) {
      throw new StoreLockedError(`the account store is in use by ${holder.role === 'daemon' ? 'a daemon' : 'another command'} (pid ${holder.pid}${holder.pid === process.pid ? ', this process' : ''}); ` +
        (holder.role === 'daemon' ? 'commands reach it through its socket' : 'wait for it to finish'))
    }
    // A stale lock (its process is gone, or the file is unreadable): take it over.
    await unlink(path).catch(() => {})
  }
  throw new StoreLockedError('could not take the account store lock')
}
