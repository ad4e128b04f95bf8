/**
 * The recovery key at work (browser-ready): setting it, replacing it, and bringing the
 * account to a new device from any peer that holds its logs (a blind replica is
 * enough). Ops of the recovery key are signed with keys derived from the words, held in
 * memory only for the call.
 */
import { addOp, recoveryOp } from '../../acl/ops.ts'
import type { AccountState, RecoveryDescriptor } from '../../acl/types.ts'
import { createDeviceIdentities } from '../../identity/identities.ts'
import type { DeviceSecrets } from '../../identity/keystore.ts'
import { base64urlDecode, base64urlEncode } from '../crypto/bytes.ts'
import { lockboxAad, openBox, sealTo } from '../crypto/lockbox.ts'
import { NotAuthorizedError, RecoveryFailedError, WrongRecoveryWordsError, type OrbitAccountError } from '../errors.ts'
import type { OrbitDB, OrbitIdentity } from '../orbit/orbitdb.ts'
import { prefetchDatabase } from '../orbit/prefetch.ts'
import type { AccountAddress, DeviceId } from '../types.ts'
import { buildAccount, type Account } from './account.ts'
import { lockboxOf, PUBLIC_LOCKBOX } from './epochs.ts'
import { openRegistry } from './open.ts'
import type { RegistryDatabase } from './registry.ts'
import type { RecoveryKeys } from './recovery-words.ts'

/** The lockbox of the current epoch's key for a new holder: sealed in encrypted modes, a marker in public mode. */
export const sealCurrentKey = (address: string, epoch: number, key: Uint8Array | undefined, holder: { device: string, boxKey: string }): string =>
  key === undefined ? PUBLIC_LOCKBOX : base64urlEncode(sealTo(base64urlDecode(holder.boxKey, 'boxKey'), key, lockboxAad(address, epoch, holder.device)))

/** The current epoch's key as the recovery key opens it (undefined in public mode). */
const currentKeyFor = (state: AccountState, address: string, keys: RecoveryKeys): { epoch: number, key: Uint8Array | undefined } => {
  const current = state.epoch
  if (current === null) throw new RecoveryFailedError('the registry has no epoch yet')
  if (state.params.mode === 'public') return { epoch: current.epoch, key: undefined }
  const box = lockboxOf(state, current, keys.descriptor.device)
  if (box === undefined) throw new RecoveryFailedError(`the recovery key holds no key of epoch ${current.epoch} yet: try again once a device of the account has rotated`)
  return { epoch: current.epoch, key: openBox(keys.box.secretKey, base64urlDecode(box, 'lockbox'), lockboxAad(address, current.epoch, keys.descriptor.device)) }
}

/** Whether `keys` are this account's current recovery key; throws a clear error when they are not. */
export const checkRecoveryKey = (state: AccountState, keys: RecoveryKeys): void => {
  const id = keys.descriptor.device
  if (state.recovery?.device === id) return
  if (state.retiredRecovery.includes(id)) throw new WrongRecoveryWordsError('these recovery words were replaced by newer ones (recovery rotate): use the newest words')
  if (state.recovery === null) throw new WrongRecoveryWordsError('this account has no recovery key')
  throw new WrongRecoveryWordsError('these are not the recovery words of this account')
}

const recoveryIdentity = async (orbitdb: OrbitDB, keys: RecoveryKeys): Promise<OrbitIdentity> => {
  const { identity } = await createDeviceIdentities({ ipfs: orbitdb.ipfs, signing: keys.signing })
  if (identity === undefined) throw new Error('no identity made for the recovery key')
  return identity
}

/**
 * Sets the recovery key of an account that has none (an admin device), with a lockbox
 * of the current epoch's key.
 */
export const setRecoveryKey = async (account: Account, registry: RegistryDatabase, key: RecoveryDescriptor, epochKey: Uint8Array | undefined): Promise<void> => {
  const state = registry.state()
  const me = state.devices[account.device]
  if (me?.status !== 'active' || me.role !== 'admin') throw new NotAuthorizedError('only an active admin device can set the recovery key')
  if (state.recovery !== null) throw new NotAuthorizedError('this account has a recovery key: only its words can replace it (recovery rotate)')
  const epoch = account.info().epoch
  await registry.append(recoveryOp({ key, epoch, lockbox: sealCurrentKey(account.address, epoch, epochKey, key) }))
}

/** Replaces the recovery key with `next`: an op signed by the current one (`current`). */
export const replaceRecoveryKey = async (orbitdb: OrbitDB, registry: RegistryDatabase, address: string, current: RecoveryKeys, next: RecoveryDescriptor): Promise<void> => {
  const state = registry.state()
  checkRecoveryKey(state, current)
  const { epoch, key } = currentKeyFor(state, address, current)
  await registry.appendAs(await recoveryIdentity(orbitdb, current), recoveryOp({ key: next, epoch, lockbox: sealCurrentKey(address, epoch, key, next) }))
}

export interface RecoverCoreOptions {
  orbitdb: OrbitDB
  /** The new device's keys. */
  secrets: DeviceSecrets
  address: string
  keys: RecoveryKeys
  signal: AbortSignal
  onProgress?: (message: string) => void
  /** How long the registry must stay unchanged before it is taken as synced. */
  settleMs?: number
}

const sleep = async (ms: number, signal: AbortSignal): Promise<void> => {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms)
    signal.addEventListener('abort', () => { clearTimeout(timer); resolve() }, { once: true })
  })
}

const failed = (signal: AbortSignal, what: string): OrbitAccountError =>
  new RecoveryFailedError(`gave up waiting for ${what}: ${signal.reason instanceof Error ? signal.reason.message : String(signal.reason ?? 'aborted')} (is a device or a replica of the account reachable? give its address with --peer)`)

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
  try {
    await prefetchDatabase(orbitdb.ipfs, address, signal)
  } catch (err) {
    throw signal.aborted ? failed(signal, 'the device registry') : err
  }
  const registry = await openRegistry(orbitdb, address, signal)
  let handedOver = false
  let epochKey: Uint8Array | undefined
  try {
    while (!registry.state().initialized || registry.state().recovery === null) {
      if (signal.aborted) throw failed(signal, 'the device registry')
      await sleep(100, signal)
    }
    await settle(async () => (await registry.log.heads()).map((h) => h.hash).sort().join(), settleMs, signal)
    checkRecoveryKey(registry.state(), keys)
    const { epoch, key } = currentKeyFor(registry.state(), address, keys)
    epochKey = key
    options.onProgress?.('admitting this device with the recovery key')
    const device = { device: secrets.device, name: secrets.name, signingKey: base64urlEncode(secrets.signing.publicKey), boxKey: base64urlEncode(secrets.box.publicKey) }
    await registry.appendAs(await recoveryIdentity(orbitdb, keys), addOp({ device, role: 'admin', epoch, lockbox: sealCurrentKey(address, epoch, key, device) }))
    if (registry.state().devices[secrets.device]?.status !== 'active') throw new RecoveryFailedError('the registry did not admit this device')
    handedOver = true
  } finally {
    if (!handedOver) await registry.close().catch(() => {})
  }
  const account = await buildAccount(orbitdb, secrets, registry, epochKey !== undefined ? { knownKey: epochKey } : {})
  try {
    options.onProgress?.('syncing app data')
    while (account.syncedPeers('data').length === 0) {
      if (signal.aborted) throw failed(signal, 'the app data')
      await sleep(100, signal)
    }
    await settle(async () => (await account.heads()).dataHeads.sort().join(), settleMs, signal)
    return account
  } catch (err) {
    await account.close().catch(() => {})
    throw err
  }
}

/** What `recover` reports. */
export interface RecoveredInfo { account: AccountAddress, device: DeviceId, name: string, epoch: number }
