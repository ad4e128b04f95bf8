/**
 * The recovery key's part in an open account (browser-ready): the current epoch's key as
 * the recovery key opens it, lockboxes for new holders, and the OrbitDB identity that
 * signs the recovery key's registry ops (from keys held in memory only for the call).
 */
import type { AccountState } from '../../acl/types.ts'
import { createDeviceIdentities } from '../../identity/identities.ts'
import { base64urlDecode } from '../crypto/bytes.ts'
import { lockboxAad, openBox } from '../crypto/lockbox.ts'
import { RecoveryFailedError, WrongRecoveryWordsError } from '../errors.ts'
import type { OrbitDB, OrbitIdentity } from '../orbit/orbitdb.ts'
import { lockboxOf } from './epochs.ts'
import type { RecoveryKeys } from './recovery-words.ts'

/** The current epoch's key as the recovery key opens it (undefined in public mode). */
export const currentKeyFor = (state: AccountState, address: string, keys: RecoveryKeys): { epoch: number, key: Uint8Array | undefined } => {
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
  if (state.retiredRecovery.some((r) => r.device === id)) throw new WrongRecoveryWordsError('these recovery words were replaced by newer ones (recovery rotate): use the newest words')
  if (state.recovery === null) throw new WrongRecoveryWordsError('this account has no recovery key')
  throw new WrongRecoveryWordsError('these are not the recovery words of this account')
}

export const recoveryIdentity = async (orbitdb: OrbitDB, keys: RecoveryKeys): Promise<OrbitIdentity> => {
  const { identity } = await createDeviceIdentities({ ipfs: orbitdb.ipfs, signing: keys.signing })
  if (identity === undefined) throw new Error('no identity made for the recovery key')
  return identity
}
