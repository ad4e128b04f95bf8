/**
 * The joining device's side after the inviter admitted it: open the registry by
 * address, wait until this device's admission (and the heads the inviter named) have
 * arrived, then open the data log and wait until it holds the inviter's heads, so
 * everything written before the join is readable when `join` returns.
 */
import type { StateStore } from '../store/state-store.ts'
import type { EpochRecord } from '../../acl/types.ts'
import type { OrbitDB } from '../orbit/orbitdb.ts'
import { holdsAll } from '../orbit/orbitdb.ts'
import type { DeviceSecrets } from '../../identity/keystore.ts'
import { JoinFailedError, type OrbitAccountError } from '../errors.ts'
import { abortReason, poll, prefetch } from './waits.ts'
import type { KvDatabase } from '../store/kv-database.ts'
import { buildAccount, type Account } from './account.ts'
import { openRegistry } from './open.ts'

export interface JoinCoreOptions {
  orbitdb: OrbitDB
  secrets: DeviceSecrets
  /** Where the device keeps the state it derives from the logs (BuildOptions.store). */
  store?: (account: string) => StateStore
  address: string
  registryHeads: string[]
  dataHeads: string[]
  signal: AbortSignal
  onProgress?: (message: string) => void
  /** Private mode: the swarm key from the invite. */
  swarmKey?: Uint8Array
  /** Told when this device moves to a new epoch (BuildOptions.onEpoch). */
  onEpoch?: (epoch: EpochRecord) => void
}

const gaveUp = (signal: AbortSignal, what: string) => (): OrbitAccountError =>
  new JoinFailedError(`gave up waiting for ${what}: ${abortReason(signal)}`)

export const joinAccountCore = async (options: JoinCoreOptions): Promise<Account> => {
  const { orbitdb, secrets, address, signal } = options
  options.onProgress?.('syncing the device registry')
  await prefetch(orbitdb, address, signal, gaveUp(signal, 'the device registry'))
  const registry = await openRegistry(orbitdb, address, signal)
  try {
    await poll(async () => {
      const state = registry.state()
      return state.initialized && state.devices[secrets.device] !== undefined && await holdsAll(registry.log, options.registryHeads)
    }, signal, gaveUp(signal, 'this device\'s admission in the registry'))
  } catch (err) {
    await registry.close().catch(() => {})
    throw err
  }
  options.onProgress?.('syncing app data')
  const dataLog = registry.state().epoch?.dataLog
  try {
    if (dataLog !== undefined) await prefetch(orbitdb, dataLog, signal, gaveUp(signal, 'the data log'))
  } catch (err) {
    await registry.close().catch(() => {})
    throw err
  }
  const account = await buildAccount(orbitdb, secrets, registry, { ...(options.swarmKey !== undefined ? { swarm: { epoch: -1, key: options.swarmKey } } : {}), ...(options.store !== undefined ? { store: options.store } : {}), ...(options.onEpoch !== undefined ? { onEpoch: options.onEpoch } : {}) })
  try {
    const epoch = account.state().epoch
    if (epoch !== null) {
      const data = await orbitdb.open(epoch.dataLog) as KvDatabase
      await poll(() => data.hasApplied(options.dataHeads), signal, gaveUp(signal, 'the data written before the join'))
    }
    return account
  } catch (err) {
    await account.close().catch(() => {})
    throw err
  }
}
