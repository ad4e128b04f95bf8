/** The account directory's public config file (which account, which device). */
import { readFile, rename, writeFile } from 'node:fs/promises'
import { NoAccountError, PermissionDeniedError } from '../errors.ts'
import type { AccountAddress, DeviceId, Mode } from '../types.ts'
import type { AccountPaths } from './paths.ts'

export interface AccountConfig {
  version: 1
  account: AccountAddress
  device: DeviceId
  name: string
  mode: Mode
  /** The data log this device used last (a newer epoch is joined from there, carrying its writes). */
  dataLog?: string
}

export const readConfig = async (paths: AccountPaths): Promise<AccountConfig> => {
  let text: string
  try {
    text = await readFile(paths.config, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new NoAccountError(`no account in ${paths.dir}: create one with \`orbit-account create --name <device>\` or join one with \`orbit-account join - --name <device>\` (the invite on stdin)`)
    }
    if ((err as NodeJS.ErrnoException).code === 'EACCES') throw new PermissionDeniedError(`this user may not read ${paths.config}: use an account directory of your own (--dir)`, { cause: err })
    throw err
  }
  let config: AccountConfig
  try {
    config = JSON.parse(text) as AccountConfig
  } catch {
    throw new NoAccountError(`${paths.config} is not valid JSON: restore it or create the account again`)
  }
  if (typeof config !== 'object' || config === null || config.version !== 1 || typeof config.account !== 'string') throw new NoAccountError(`${paths.config} is not an orbit-account config`)
  return config
}

export const writeConfig = async (paths: AccountPaths, config: AccountConfig): Promise<void> => {
  const tmp = `${paths.config}.tmp`
  await writeFile(tmp, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 })
  await rename(tmp, paths.config)
}

/**
 * Remembers in the config the data log this device moved to, so the next open starts
 * there (one that starts on a retired log replays it whole before it moves again).
 * `flush` waits for the writes under way (a close does).
 */
export interface EpochMemory {
  onEpoch: (epoch: { dataLog: string }) => void
  flush: () => Promise<void>
  /** Calls `listener` each time a move is on disk (the config names the new log). */
  onWritten: (listener: () => void) => void
}

export const epochMemory = (paths: AccountPaths): EpochMemory => {
  let writes: Promise<void> = Promise.resolve()
  let written = (): void => {}
  return {
    onEpoch: (epoch) => {
      writes = writes.then(async () => {
        const config = await readConfig(paths)
        if (config.dataLog === epoch.dataLog) return
        await writeConfig(paths, { ...config, dataLog: epoch.dataLog })
        written()
      }).catch(() => {})
    },
    flush: async () => { await writes },
    onWritten: (listener) => { written = listener }
  }
}
