/**
 * What a device keeps of the data logs it has left. A move to a new epoch retires the old
 * log (its checkpoint is deleted, src/store/kv-database.ts), but its entries stayed in the
 * node's blockstore and its index and heads under orbitdb/: every compaction or
 * revocation left a whole log's worth on disk, for good. This deletes them, in the
 * background and one log at a time, for logs of epochs older than the one the account's
 * config names (so no open, crash or not, reads them again: src/node/config.ts). Nobody
 * needs them: a device still in an older epoch moves on from the new log's snapshot, and
 * carries its own writes from its own copy. A log still open cannot be swept (LevelDB's
 * lock refuses the second opener); what a stop or crash leaves is swept by the next run.
 */
import { rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { CID } from 'multiformats/cid'
import { base58btc } from 'multiformats/bases/base58'

export interface RetiredLogsInit {
  /** OrbitDB's directory: a log's stores are under `<orbitdb>/<address>/`. */
  orbitdbDir: string
  blockstore: { delete?: (cid: CID) => unknown }
  /** The addresses of the data logs this device has left (read afresh for each sweep). */
  retired: () => Promise<string[]>
}

export interface RetiredLogs {
  /** Sweeps soon (runs are one at a time; a sweep asked for during one runs after it). */
  sweep: () => void
  /** Stops at the next entry and waits for the run under way. */
  stop: () => Promise<void>
}

const exists = async (path: string): Promise<boolean> => await stat(path).then(() => true, () => false)

export const retiredLogs = (init: RetiredLogsInit): RetiredLogs => {
  let stopped = false
  let asked = false
  let running: Promise<void> | undefined

  /** Deletes the blocks of every entry in the log's index, then the log's directory. */
  const purge = async (address: string): Promise<void> => {
    const dir = join(init.orbitdbDir, address)
    if (!await exists(dir)) return
    const indexDir = join(dir, 'log', '_index')
    // Missing: its blocks were deleted, and a stop came before the directory went.
    if (await exists(indexDir)) {
      const index = new ClassicLevel<string, Uint8Array>(indexDir, { valueEncoding: 'view', createIfMissing: false })
      try {
        await index.open()
      } catch {
        return // open here (or in another process): swept later
      }
      try {
        for await (const hash of index.keys()) {
          if (stopped) return
          try {
            await init.blockstore.delete?.(CID.parse(hash, base58btc))
          } catch {}
        }
      } finally {
        await index.close()
      }
      if (stopped) return
    }
    await rm(dir, { recursive: true, force: true })
  }

  const run = async (): Promise<void> => {
    while (asked && !stopped) {
      asked = false
      let addresses: string[]
      try {
        addresses = await init.retired()
      } catch {
        continue
      }
      for (const address of addresses) {
        if (stopped) return
        await purge(address).catch(() => {})
      }
    }
  }

  const sweep = (): void => {
    if (stopped) return
    asked = true
    // One asked for as a run ends (its loop had checked already) starts the next one.
    running ??= run().finally(() => {
      running = undefined
      if (asked) sweep()
    })
  }

  return {
    sweep,
    stop: async () => {
      stopped = true
      await running
    }
  }
}
