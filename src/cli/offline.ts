/**
 * Reads with no daemon (`get`, `list`, `status`, `devices`): answered from the state this
 * device saved when it last closed its store (src/store/state-store.ts), without starting
 * libp2p or OrbitDB: no network, so what it shows is what this device had then. When that
 * state is missing or was not saved by a clean close (a crash, a version without it), or
 * a lock says another process holds the store (or was killed holding it), the caller
 * opens the store instead (`--sync` asks for that too).
 */
import { decodeKeystore } from '../../identity/keystore.ts'
import { readKeystoreFile } from '../../identity/keystore-fs.ts'
import { readRegistryState } from '../account/registry-state.ts'
import type { Frame, Request } from '../daemon/protocol.ts'
import { REVOKED_NOTE } from '../daemon/notes.ts'
import { stateFiles } from '../node/state-files.ts'
import type { AccountConfig } from '../node/config.ts'
import type { AccountPaths } from '../node/paths.ts'
import { decodeCheckpoint, type KvCheckpoint } from '../store/checkpoint.ts'
import type { AccountState } from '../../acl/types.ts'
import { checkpointName, stateKey } from '../store/state-store.ts'
import { KvIndex } from '../store/kv-index.ts'
import { CorruptStateError } from '../errors.ts'


/**
 * Answers `request` from the saved state; false (nothing emitted) when there is none to
 * trust, and the store must be opened. Throws what reading the keystore throws (a wrong
 * passphrase, a missing one).
 */
export const answerOffline = async (paths: AccountPaths, config: AccountConfig, request: Request, passphrase: string | undefined, emit: (frame: Frame) => void): Promise<boolean> => {
  if (config.dataLog === undefined) return false
  // Its key pairs are not checked against each other: a wrong box key only fails to open the state (then the store is opened, and checks them).
  const secrets = await decodeKeystore(await readKeystoreFile(paths.keystore), passphrase, { checkPairs: false })
  const store = stateFiles(paths.state, stateKey(secrets.box.secretKey, config.account))
  let state
  let checkpoint
  try {
    state = await readRegistryState(store)
    const parts = await store.readSplit(checkpointName(config.dataLog))
    checkpoint = parts === undefined ? undefined : decodeCheckpoint(parts)
  } catch {
    return false
  }
  try {
    return await answerFrom(state, checkpoint, config, request, emit)
  } catch (err) {
    if (!(err instanceof CorruptStateError)) throw err
    // A part of the checkpoint is damaged: it is set aside, and the caller opens the store,
    // which replays the log (and writes a whole checkpoint at its close).
    checkpoint?.release?.()
    await store.remove(checkpointName(config.dataLog))
    return false
  } finally {
    checkpoint?.release?.()
  }
}

const answerFrom = async (state: AccountState | undefined, checkpoint: KvCheckpoint | undefined, config: AccountConfig, request: Request, emit: (frame: Frame) => void): Promise<boolean> => {
  if (state === undefined || checkpoint === undefined || !checkpoint.clean) return false
  const me = state.devices[config.device]
  if (me?.status === 'revoked') emit({ note: REVOKED_NOTE })
  switch (request.cmd) {
    case 'get':
    case 'list': {
      const index = new KvIndex()
      index.restore(checkpoint.state.slots)
      if (request.cmd === 'list') {
        emit({ out: { entries: Object.fromEntries(index.entries(request.prefix)) } })
      } else {
        const value = index.get(request.key)
        emit({ out: { key: request.key, value: value ?? null, found: value !== undefined } })
      }
      return true
    }
    case 'status':
      emit({ out: { account: config.account, device: config.device, name: me?.name ?? config.name, status: me?.status ?? 'active', mode: config.mode, epoch: checkpoint.epoch, peers: [] } })
      return true
    case 'devices': {
      // The reducer's module is loaded for this command only (the other reads need none of it).
      const { deviceList } = await import('../../acl/reducer.ts')
      const devices = deviceList(state).map((d) => ({ device: d.device, name: d.name, role: d.role, status: d.status, addedBy: d.addedBy }))
      emit({ out: { device: config.device, devices } })
      return true
    }
    default:
      return false
  }
}
