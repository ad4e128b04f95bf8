/**
 * Frees what a data log this device left for good holds in its stores: the blocks of
 * its entries (in the node's blockstore, which every log shares) and its heads, index
 * and absent-entry records. Browser-ready (LevelStorage is IndexedDB there).
 *
 * The log must be closed, and never opened again as it was: its heads go first, so
 * one stopped half-way (a crash) leaves an empty log, never one whose heads name
 * blocks that are gone. Only blocks the log's index lists go: every entry the log
 * stored is listed there (OrbitDB marks each one it adds), and an entry names its log,
 * so no other log holds the same block. What the entries point to outside the log
 * (writers' identities, the manifest) stays.
 */
import { CID } from 'multiformats/cid'
import { base58btc } from 'multiformats/bases/base58'
import { LevelStorage } from './orbitdb.ts'
import { checkedLogDirectory, logStorePath, type LogStore } from './log-paths.ts'

/** Blocks deleted side by side. */
const DELETE_PARALLEL = 32

interface LevelStore {
  iterator: (options?: { amount?: number }) => AsyncIterable<[string, unknown]>
  clear: () => Promise<void>
  close: () => Promise<void>
}

export interface Reclaimed {
  /** Entries the log's index listed (their blocks deleted, those that were here). */
  entries: number
}

/**
 * Empties the stores of the closed log at `address` (see above). `stopped` is asked
 * between blocks: a reclaim cut short leaves the rest for the next one.
 */
export const reclaimLog = async (options: { deleteBlock: (cid: CID) => Promise<void>, directory: string, address: string, stopped?: () => boolean }): Promise<Reclaimed> => {
  const dir = checkedLogDirectory(options.directory, options.address)
  const open = async (name: LogStore): Promise<LevelStore> => await LevelStorage({ path: logStorePath(dir, name) }) as unknown as LevelStore
  const heads = await open('_heads')
  try {
    await heads.clear()
  } finally {
    await heads.close()
  }
  const index = await open('_index')
  let entries = 0
  try {
    let batch: string[] = []
    const remove = async (): Promise<void> => {
      await Promise.all(batch.map(async (hash) => {
        try {
          await options.deleteBlock(CID.parse(hash, base58btc))
        } catch {} // not here (never fetched), or not a block's name
      }))
      entries += batch.length
      batch = []
    }
    for await (const [hash] of index.iterator()) {
      batch.push(hash)
      if (batch.length >= DELETE_PARALLEL) {
        await remove()
        if (options.stopped?.() === true) return { entries }
      }
    }
    await remove()
    await index.clear()
  } finally {
    await index.close()
  }
  const absent = await open('_absent')
  try {
    await absent.clear()
  } finally {
    await absent.close()
  }
  return { entries }
}
