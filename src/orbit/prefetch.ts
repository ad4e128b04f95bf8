/**
 * Fetches what opening a database by its address reads from the network (the manifest,
 * and the parameters of its access controller) under a signal, so that the open which
 * follows reads them from the local blockstore. OrbitDB gives an access controller no
 * signal: without this, an open whose only peer went away waits out a 30 s block timeout.
 */
import * as Block from 'multiformats/block'
import * as dagCbor from '@ipld/dag-cbor'
import { sha256 } from 'multiformats/hashes/sha2'
import { IPFSBlockStorage, parseAddress, type HeliaNode } from './orbitdb.ts'

export const prefetchDatabase = async (ipfs: HeliaNode, address: string, signal: AbortSignal): Promise<void> => {
  const storage = await IPFSBlockStorage({ ipfs, pin: false })
  try {
    const bytes = await storage.get(parseAddress(address).hash, signal)
    // Anything missing or odd is left for the open itself to report.
    if (bytes === undefined) return
    const { value } = await Block.decode({ bytes, codec: dagCbor, hasher: sha256 })
    const ac = (value as { accessController?: unknown } | null)?.accessController
    const hash = typeof ac === 'string' ? ac.split('/').pop() : undefined
    if (hash !== undefined && hash.length > 0) await storage.get(hash, signal)
  } finally {
    await storage.close?.()
  }
}
