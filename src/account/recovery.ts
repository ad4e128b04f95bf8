/**
 * Recovery (browser-ready): bringing the account to a new device with the recovery key,
 * from any peer that holds its logs (a blind replica is enough).
 */
import type { StateStore } from '../store/state-store.ts'
import type { EpochRecord } from '../../acl/types.ts'
import { addOp } from '../../acl/ops.ts'
import type { DeviceSecrets } from '../../identity/keystore.ts'
import { base64urlEncode } from '../crypto/bytes.ts'
import { RecoveryFailedError, type OrbitAccountError } from '../errors.ts'
import type { OrbitDB } from '../orbit/orbitdb.ts'
import { abortReason, poll, prefetch } from './waits.ts'
import { buildAccount, type Account } from './account.ts'
import { openRegistry } from './open.ts'
import { checkRecoveryKey, currentKeyFor, recoveryIdentity } from './recovery-key.ts'
import { sealEpochKey } from './epochs.ts'
import type { RecoveryKeys } from './recovery-words.ts'

export interface RecoverCoreOptions {
  orbitdb: OrbitDB
  /** Where the device keeps the state it derives from the logs (BuildOptions.store). */
  store?: (account: string) => StateStore
  /** The new device's keys. */
  secrets: DeviceSecrets
  /** Told when this device moves to a new epoch (BuildOptions.onEpoch). */
  onEpoch?: (epoch: EpochRecord) => void
  address: string
  keys: RecoveryKeys
  signal: AbortSignal
  onProgress?: (message: string) => void
  /** How long the registry (then the data) must stay unchanged before it is taken as synced. */
  settleMs?: number
  /** How long to wait for a peer to serve the app data once this device is admitted (default 20 s). */
  dataWaitMs?: number
}

const sleep = async (ms: number, signal: AbortSignal): Promise<void> => {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms)
    signal.addEventListener('abort', () => { clearTimeout(timer); resolve() }, { once: true })
  })
}

const failed = (signal: AbortSignal, what: string) => (): OrbitAccountError =>
  new RecoveryFailedError(`gave up waiting for ${what}: ${abortReason(signal)} (is a device or a replica of the account reachable? give its address with --peer)`)

/** Waits until `read` stays the same for `ms` (the logs have stopped arriving). */
const settle = async (read: () => Promise<string> | string, ms: number, signal: AbortSignal): Promise<void> => {
  let last = await read()
  let since = Date.now()
  while (Date.now() - since < ms) {
    if (signal.aborted) return
    await sleep(100, signal)
    const now = await read()
    if (now !== last) {
      last = now
      since = Date.now()
    }
  }
}

/**
 * Brings the account to a new device with the recovery key: syncs the registry from
 * whatever peer has it, admits the new device as admin with an op signed by the recovery
 * key (a lockbox of the current epoch's key inside), then opens the account and waits
 * for its data.
 */
export const recoverAccountCore = async (options: RecoverCoreOptions): Promise<Account> => {
  const { orbitdb, secrets, address, keys, signal } = options
  const settleMs = options.settleMs ?? 1500
  options.onProgress?.('syncing the device registry')
  await prefetch(orbitdb, address, signal, failed(signal, 'the device registry'))
  const registry = await openRegistry(orbitdb, address, signal)
  let handedOver = false
  let epochKey: Uint8Array | undefined
  try {
    await poll(() => registry.state().initialized && registry.state().recovery !== null, signal, failed(signal, 'the device registry'), 100)
    await settle(async () => (await registry.log.heads()).map((h) => h.hash).sort().join(), settleMs, signal)
    checkRecoveryKey(registry.state(), keys)
    const { epoch, key } = currentKeyFor(registry.state(), address, keys)
    epochKey = key
    options.onProgress?.('admitting this device with the recovery key')
    const device = { device: secrets.device, name: secrets.name, signingKey: base64urlEncode(secrets.signing.publicKey), boxKey: base64urlEncode(secrets.box.publicKey) }
    await registry.appendAs(await recoveryIdentity(orbitdb, keys), addOp({ device, role: 'admin', epoch, lockbox: sealEpochKey(address, epoch, key, device) }))
    if (registry.state().devices[secrets.device]?.status !== 'active') throw new RecoveryFailedError('the registry did not admit this device')
    handedOver = true
  } finally {
    if (!handedOver) await registry.close().catch(() => {})
  }
  const account = await buildAccount(orbitdb, secrets, registry, { ...(epochKey !== undefined ? { knownKey: epochKey } : {}), ...(options.store !== undefined ? { store: options.store } : {}), ...(options.onEpoch !== undefined ? { onEpoch: options.onEpoch } : {}) })
  try {
    options.onProgress?.('syncing app data')
    // The device is admitted now: the data may also come later, from whichever peer has it.
    const waitData = AbortSignal.any([signal, AbortSignal.timeout(options.dataWaitMs ?? 20_000)])
    while (account.syncedPeers('data').length === 0 && !waitData.aborted) await sleep(100, waitData)
    if (account.syncedPeers('data').length === 0) {
      options.onProgress?.('no peer has served the app data yet: it syncs when a device or replica that holds it is online')
      return account
    }
    await settle(async () => (await account.heads()).dataHeads.sort().join(), settleMs, signal)
    return account
  } catch (err) {
    await account.close().catch(() => {})
    throw err
  }
}
