/**
 * Keeps the registry's state in the account's state store (src/store/state-store.ts)
 * whenever it changes, so a command with no daemon answers `status` and `devices`
 * without opening the logs (src/cli/offline.ts). Browser-ready.
 */
import type { AccountState } from '../../acl/types.ts'
import { utf8Decode, utf8Encode } from '../crypto/bytes.ts'
import { CorruptStateError } from '../errors.ts'
import { REGISTRY_STATE, type StateStore } from '../store/state-store.ts'
import type { RegistryDatabase } from './registry.ts'

/** How long a burst of registry changes is let settle before the state is written. */
const DELAY_MS = 200

export interface SavedRegistry { v: 1, state: AccountState }

/** Writes the registry's state now and after each change; the returned function stops and writes the last one. */
export const persistRegistryState = (registry: RegistryDatabase, store: StateStore | undefined): () => Promise<void> => {
  if (store === undefined) return async () => {}
  let timer: ReturnType<typeof setTimeout> | undefined
  let writing: Promise<void> = Promise.resolve()
  const save = (): void => {
    timer = undefined
    const saved: SavedRegistry = { v: 1, state: registry.state() }
    // A failed write only makes a command with no daemon open the logs.
    writing = writing.then(async () => { await store.write(REGISTRY_STATE, utf8Encode(JSON.stringify(saved))) }).catch(() => {})
  }
  const stop = registry.onState(() => {
    if (timer !== undefined) return
    timer = setTimeout(save, DELAY_MS)
    timer.unref?.()
  })
  save()
  return async () => {
    stop()
    if (timer !== undefined) clearTimeout(timer)
    save()
    await writing
  }
}

/** The registry state a store holds, or undefined when none. Throws CorruptStateError when it does not read. */
export const readRegistryState = async (store: StateStore): Promise<AccountState | undefined> => {
  const bytes = await store.read(REGISTRY_STATE)
  if (bytes === undefined) return undefined
  try {
    const saved = JSON.parse(utf8Decode(bytes, 'registry state')) as SavedRegistry
    if (saved.v !== 1 || typeof saved.state !== 'object' || saved.state === null) throw new Error(`version ${String(saved.v)}`)
    return saved.state
  } catch (cause) {
    throw new CorruptStateError('the saved registry state does not read', { cause })
  }
}
