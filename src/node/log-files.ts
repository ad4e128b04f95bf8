/** A data log's stores on disk, for the sweeper of retired logs (src/account/retired-logs.ts). */
import { rm, stat } from 'node:fs/promises'
import type { LogStores } from '../account/retired-logs.ts'
import { checkedLogDirectory, isLogAddress } from '../orbit/log-paths.ts'
import type { StartedNode } from '../network/node.ts'

/** The log directories under OrbitDB's `directory`; removing one frees its LevelDB files, compacting the blockstore frees its deleted blocks. */
export const logFiles = (directory: string, node: Pick<StartedNode, 'compactBlocks'>): LogStores => ({
  has: async (address) => isLogAddress(address) && await stat(checkedLogDirectory(directory, address)).then((s) => s.isDirectory(), () => false),
  remove: async (address) => { await rm(checkedLogDirectory(directory, address), { recursive: true, force: true }) },
  compact: node.compactBlocks
})
