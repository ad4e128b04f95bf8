/**
 * Gives back the storage of data logs this device left long ago. Each rotation (a
 * revocation, a compaction) starts a new log, and the device retires the old one once
 * it moved; the old log's blocks and stores stayed for good, so the storage grew with
 * the whole history however often the account compacted.
 *
 * The log of the epoch the config names (where the next open starts) and the one
 * before it stay: a device that has not moved yet may still fetch the previous log's
 * entries from this one. Logs of older epochs are reclaimed (src/orbit/reclaim.ts) and
 * their stores removed, at each open and after each move the config records. A blind
 * replica does the same, counting from the epoch it serves. Browser-ready: where the
 * stores live is the caller's (src/node/log-files.ts, src/browser/device.ts).
 */
import type { AccountState } from '../../acl/types.ts'
import { reclaimLog } from '../orbit/reclaim.ts'
import { isLogAddress } from '../orbit/log-paths.ts'
import type { OrbitDB } from '../orbit/orbitdb.ts'
import type { CID } from 'multiformats/cid'

/** Epochs kept before the config's own: the previous one. */
export const KEPT_EPOCHS_BEFORE = 1

export interface RetiredLogs {
  /** Looks for logs to reclaim (in the background, one sweep at a time). */
  sweep: () => void
  /** Stops: a reclaim under way stops at its next batch of blocks. Resolves once nothing runs. */
  stop: () => Promise<void>
}

/**
 * The data logs of `state` that this device can let go of, when the config names
 * `configured` (see above). Never the account's registry (`account`), nor a log any
 * kept or newer epoch names, won or superseded: an admin's rotate op may name any
 * address, a live log's too, and this list says what to empty.
 */
export const retiredLogs = (state: AccountState, configured: string | undefined, account: string): string[] => {
  const mine = state.epochs.find((e) => e.dataLog === configured)
  const current = state.epoch
  // The registry's current epoch older than the config's (a voided rotation): let nothing go.
  if (mine === undefined || current === null || current.epoch < mine.epoch) return []
  const oldest = mine.epoch - KEPT_EPOCHS_BEFORE
  const all = [...state.epochs, ...(state.supersededEpochs ?? [])]
  const kept = new Set([account, current.dataLog, mine.dataLog, ...all.filter((e) => e.epoch >= oldest).map((e) => e.dataLog)])
  // Logs of rotations that lost to another for their epoch are left by every device too.
  return [...new Set(all.filter((e) => e.epoch < oldest).map((e) => e.dataLog))]
    .filter((log) => !kept.has(log))
    // An admin's rotate op may name any '/orbitdb/...' text: only a real address names a place to empty.
    .filter(isLogAddress)
}

/** Where a log's stores live, for the sweeper. */
export interface LogStores {
  /** Whether this device holds stores of the log at `address`. */
  has: (address: string) => Promise<boolean>
  /** Removes them (after a reclaim emptied them). */
  remove: (address: string) => Promise<void>
  /** Gives back the space of the deleted blocks, where the blockstore needs it (LevelDB). */
  compact?: () => Promise<void>
}

export interface SweeperOptions {
  orbitdb: OrbitDB
  /** The account's address: its registry's log, never emptied. */
  account: string
  stores: LogStores
  /** The registry's state (undefined: not known yet, nothing is swept). */
  state: () => AccountState | undefined
  /** The data log the next open starts on (a device: its config's; a replica: the one it serves). */
  configured: () => Promise<string | undefined>
}

export const retiredLogSweeper = (options: SweeperOptions): RetiredLogs => {
  const { orbitdb, stores } = options
  // Without Helia's lock (src/network/direct-delete.ts).
  const deleteBlock = async (cid: CID): Promise<void> => { await orbitdb.ipfs.blockstore.delete?.(cid) }
  let stopped = false
  let chain: Promise<void> = Promise.resolve()
  const once = async (): Promise<void> => {
    if (stopped) return
    const state = options.state()
    if (state === undefined) return
    const configured = await options.configured()
    let reclaimed = 0
    try {
      for (const address of retiredLogs(state, configured, options.account)) {
        if (stopped) return
        if (!await stores.has(address)) continue
        reclaimed += (await reclaimLog({ deleteBlock, directory: orbitdb.directory, address, stopped: () => stopped })).entries
        if (stopped) return
        await stores.remove(address)
      }
    } finally {
      if (reclaimed > 0 && !stopped) await stores.compact?.()
    }
  }
  return {
    // A sweep that fails (a store it could not open) leaves the rest for the next one.
    sweep: () => { chain = chain.then(once).catch(() => {}) },
    stop: async () => {
      stopped = true
      await chain
    }
  }
}
