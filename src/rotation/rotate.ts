/**
 * Starting a new epoch: a new group key, a `rotate` op with a lockbox of the new key for
 * every remaining device and the cut, and a new data log that begins with the state at
 * the cut (a snapshot in a few large entries, re-encrypted under the new key).
 *
 * The op goes first: a device that holds exactly the cut moves at once on its own state
 * (src/account/epochs.ts), whatever the size of the data; the parts follow, for the
 * devices that hold more or less than the cut, new devices and replicas. A crash before
 * the op leaves the registry asking for a rotation (a revocation's), done again; a crash
 * between the op and the last part leaves an epoch this device started with no whole
 * snapshot, and this device rotates again when it opens (`unfinishedRotation`).
 */
import type { StateStore } from '../store/state-store.ts'
import { DataAccessController } from '../../acl/access.ts'
import { rotateOp } from '../../acl/ops.ts'
import type { AccountState } from '../../acl/types.ts'
import { revokedHoldsCurrentKey } from '../../acl/reducer.ts'
import { generateKey } from '../crypto/aead.ts'
import { base64urlEncode, randomBytes } from '../crypto/bytes.ts'
import { NotAuthorizedError } from '../errors.ts'
import type { OrbitDB } from '../orbit/orbitdb.ts'
import { encryptedCodec, plainCodec, toWire } from '../store/codec.ts'
import { KeyValueDatabase, KV_TYPE, type KvDatabase } from '../store/kv-database.ts'
import { valueOf, type RawSlot } from '../store/kv-index.ts'
import type { Mode } from '../types.ts'
import type { RegistryDatabase } from '../account/registry.ts'
import { quotasFrom, sealEpochKey } from '../account/epochs.ts'
import { partsInTurns } from './parts.ts'

export interface RotationProgress { phase: 'snapshot' | 'registry', done: number, total: number }

export interface RotateInit {
  orbitdb: OrbitDB
  registry: RegistryDatabase
  address: string
  mode: Mode
  device: string
  /** The data log this device reads now: its state at the cut goes into the snapshot. */
  current: KvDatabase
  onProgress?: (progress: RotationProgress) => void
  /** Where the new log's checkpoint is kept (this device reads it next: the same instance). */
  store?: StateStore
}

/** How long a rotation waits for the writes of its cut to reach the index (milliseconds, normally). */
const CUT_APPLIED_WAIT_MS = 10_000

/**
 * How many earlier entries the snapshot's last part names (every other entry names 16).
 * A device fetching the log walks from its heads, a level of names at a time: with 16,
 * a 100,000-key snapshot's ~90 parts took 6 levels, a round trip each (~50 ms on
 * loopback, more on any real network). Named by its last part, they are asked for at
 * once. 256 names (~13 KB) fit in any part's entry (src/orbit/caps.ts leaves ~90 KB
 * spare at the largest public part); a larger snapshot takes a few levels more.
 */
const SNAPSHOT_REFERENCES = 256

/**
 * Did this device start the current epoch, and is its snapshot not whole where this
 * device reads (`current`: that epoch's log, or still the one before)? Then it stopped
 * between its `rotate` op and the last part (a crash, a close), and rotates again from
 * the state it reads: only its parts could make that snapshot whole.
 */
export const unfinishedRotation = (state: AccountState, device: string, current: KvDatabase): boolean =>
  state.epoch !== null && state.epoch.startedBy === device && (state.epoch.epoch !== current.epoch || !current.snapshotComplete())

/** An active admin rotates; any active device may write the rotation a revocation calls for, or finish one it started. */
const mustMayRotate = (state: AccountState, device: string, current: KvDatabase): void => {
  const me = state.devices[device]
  if (me === undefined || me.status !== 'active') throw new NotAuthorizedError('only an active device can rotate the group key')
  if (me.role !== 'admin' && !revokedHoldsCurrentKey(state) && !unfinishedRotation(state, device, current)) {
    throw new NotAuthorizedError('only an admin device can rotate the group key when no revocation calls for it')
  }
}

/** Rotates to a new epoch; resolves with its number once the `rotate` op is in the registry. */
export const rotate = async (init: RotateInit): Promise<number> => {
  const { orbitdb, registry, address, mode } = init
  const state = registry.state()
  mustMayRotate(state, init.device, init.current)
  const from = state.epoch
  if (from === null) throw new NotAuthorizedError('the account has no epoch yet')
  const epoch = from.epoch + 1
  const key = mode === 'public' ? undefined : generateKey()
  const codec = key === undefined ? plainCodec : encryptedCodec(key, address, epoch)
  // A random part in the name: two admins rotating at once make two different logs.
  const log = await orbitdb.open(`orbit-account/data/${epoch}/${base64urlEncode(randomBytes(9))}`, {
    type: KV_TYPE,
    AccessController: DataAccessController({ account: address, epoch }),
    // This device writes the snapshot: its parts are the ones that count.
    Database: KeyValueDatabase({ codec, epoch, quotas: quotasFrom(registry), starter: orbitdb.identity.publicKey, ...(init.store !== undefined ? { store: init.store } : {}) }),
    meta: { account: address, epoch }
  }) as KvDatabase
  // Done again after a crash, from the log before the unfinished epoch: from the state at
  // that epoch's cut, built again, not from what the log applied since (a revoked device's
  // writes past the cut among it). Writes past the cut by active devices are carried.
  const again = from.startedBy === init.device && from.epoch === init.current.epoch + 1 ? from.cut : undefined
  let cut: string[]
  let records: Iterable<RawSlot>
  if (again !== undefined) {
    cut = again
    records = await init.current.recordsAt(cut)
  } else {
    cut = (await init.current.log.heads()).map((e) => e.hash)
    // A write stored in the log (so in the cut, and never carried) whose index update has
    // not run yet would be in neither the snapshot nor a carry: lost. Its update is under
    // way; the snapshot waits for it (bounded: a value that cannot be read is not waited for long).
    const deadline = Date.now() + CUT_APPLIED_WAIT_MS
    while (!init.current.hasApplied(cut) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
    // The state at the cut, read later (no value is read here: the slots written since the
    // last checkpoint are copied, its table is read in place).
    records = init.current.frozenRecords()
  }
  // Lockboxes for every device still in the account, as of now, and for the recovery key.
  const now = registry.state()
  const holders = Object.values(now.devices).filter((d) => d.status === 'active').map((d) => ({ device: d.device, boxKey: d.boxKey }))
  if (now.recovery !== null) holders.push({ device: now.recovery.device, boxKey: now.recovery.boxKey })
  const lockboxes: Record<string, string> = {}
  for (const d of holders) {
    lockboxes[d.device] = sealEpochKey(address, epoch, key, d)
  }
  await registry.append(rotateOp({ epoch, dataLog: log.address, lockboxes, cut }))
  init.onProgress?.({ phase: 'registry', done: 1, total: 1 })
  const parts = await partsInTurns(records)
  for (let i = 0; i < parts.length; i++) {
    // A table's values are read here, a part at a time.
    const records = (parts[i] as RawSlot[]).map((r) => toWire({ key: r.key, value: valueOf(r.value), stamp: r.stamp }))
    const last = i === parts.length - 1
    await log.append({ op: 'snapshot', part: i, of: parts.length, records }, last ? { references: Math.min(i + 1, SNAPSHOT_REFERENCES) } : undefined)
    init.onProgress?.({ phase: 'snapshot', done: i + 1, total: parts.length })
  }
  return epoch
}
