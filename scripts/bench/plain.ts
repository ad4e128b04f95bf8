/**
 * The baseline: plain OrbitDB 4 `keyvalue` with `IPFSAccessController({ write: ['*'] })`,
 * no encryption, plain OrbitDB identities (its own keystore), on the same lean
 * libp2p/Helia node as ours (`startNode`), so both sides run the same transport stack.
 */
import { join } from 'node:path'
// @ts-expect-error: @orbitdb/core ships no type declarations; the part used here is typed below.
import * as core from '@orbitdb/core'
import { startNode, type StartedNode } from '../../src/network/node.ts'
import type { AccessControllerArgs, AccessController, HeliaNode, LogEntry, OrbitEvents, OrbitLog } from '../../src/orbit/orbitdb.ts'

export interface PlainKeyValue {
  address: string
  log: OrbitLog
  events: OrbitEvents
  put: (key: string, value: unknown) => Promise<string>
  get: (key: string) => Promise<unknown>
  all: () => Promise<Array<{ key: string, value: unknown, hash: string }>>
  close: () => Promise<void>
}

interface PlainOrbitDB {
  open: (address: string, options?: { type?: string, AccessController?: (args: AccessControllerArgs) => Promise<AccessController> }) => Promise<PlainKeyValue>
  stop: () => Promise<void>
}

interface PlainCore {
  createOrbitDB: (options: { ipfs: HeliaNode, directory: string }) => Promise<PlainOrbitDB>
  IPFSAccessController: (options: { write: string[] }) => (args: AccessControllerArgs) => Promise<AccessController>
}

const plain = core as unknown as PlainCore

export interface PlainDevice {
  node: StartedNode
  db: PlainKeyValue
  addrs: () => string[]
  close: () => Promise<void>
}

export const PLAIN_DB_NAME = 'orbit-account-bench'

/**
 * Starts a node and a plain OrbitDB in `dir`, and opens (or creates) the keyvalue
 * database. `before` runs once the node is up, before the database is opened (to dial
 * the peer that has its manifest, when opening by address).
 */
export const openPlain = async (dir: string, listen: string[], address: string = PLAIN_DB_NAME, before?: (node: StartedNode) => Promise<void>): Promise<PlainDevice> => {
  const node = await startNode({ directory: join(dir, 'node'), listen })
  try {
    await before?.(node)
    const orbitdb = await plain.createOrbitDB({ ipfs: node.helia, directory: join(dir, 'orbitdb') })
    try {
      const db = await orbitdb.open(address, { type: 'keyvalue', AccessController: plain.IPFSAccessController({ write: ['*'] }) })
      return {
        node,
        db,
        addrs: () => node.libp2p.getMultiaddrs().map((a) => a.toString()),
        close: async () => {
          await orbitdb.stop()
          await node.stop()
        }
      }
    } catch (err) {
      await orbitdb.stop().catch(() => {})
      throw err
    }
  } catch (err) {
    await node.stop().catch(() => {})
    throw err
  }
}

export type { LogEntry }
