/**
 * Makes a Helia node's `blockstore.delete` delete from the blockstore itself. Helia's own
 * takes a write lock that waits for every read under way, and a read of a block that is
 * not here holds its read lock while it asks peers (seconds): every read and write after
 * the delete waits meanwhile. The lock guards pins and Helia's garbage collector; nothing
 * here pins a block or runs it. Browser-ready.
 */
import type { CID } from 'multiformats/cid'

export const deleteWithoutLock = (helia: { blockstore: { delete: (cid: CID) => unknown } }, blockstore: { delete: (cid: CID) => unknown }): void => {
  helia.blockstore.delete = async (cid: CID): Promise<void> => { await blockstore.delete(cid) }
}
