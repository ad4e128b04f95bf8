/**
 * Where a database's stores live: OrbitDB's directory, then the database's address,
 * then one LevelDB store each for the log's heads, index and absent entries.
 */
// @ts-expect-error: @orbitdb/core ships no types.
import pathJoinModule from '@orbitdb/core/src/utils/path-join.js'

const pathJoin = pathJoinModule as (...parts: string[]) => string

export type LogStore = '_heads' | '_index' | '_absent'

/**
 * An OrbitDB address as this project makes them: '/orbitdb/' and a base58btc CID, so
 * nothing that could name a path outside OrbitDB's directory ('..', '/'). The registry
 * takes any printable '/orbitdb/...' text as a data log (acl/ops.ts): a path built from
 * one is checked with this first.
 */
export const isLogAddress = (address: string): boolean => /^\/orbitdb\/z[1-9A-HJ-NP-Za-km-z]{20,100}$/.test(address)

/** The directory of the database at `address` under OrbitDB's `directory`. */
export const logDirectory = (directory: string, address: string): string => pathJoin(directory, `./${address}/`)

/** The same for a log to empty or remove: `address` must be a real one (`isLogAddress`). */
export const checkedLogDirectory = (directory: string, address: string): string => {
  if (!isLogAddress(address)) throw new RangeError(`not an OrbitDB address: ${address.slice(0, 120)}`)
  return logDirectory(directory, address)
}

/** One of the log's stores in a database's directory. */
export const logStorePath = (databaseDirectory: string, store: LogStore): string => pathJoin(databaseDirectory, `/log/${store}/`)
