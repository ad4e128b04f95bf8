/**
 * Where a database's stores live: OrbitDB's directory, then the database's address,
 * then one LevelDB store each for the log's heads, index and absent entries.
 */
// @ts-expect-error: @orbitdb/core ships no types.
import pathJoinModule from '@orbitdb/core/src/utils/path-join.js'

export const pathJoin = pathJoinModule as (...parts: string[]) => string

export type LogStore = '_heads' | '_index' | '_absent'

/** The directory of the database at `address` under OrbitDB's `directory`. */
export const logDirectory = (directory: string, address: string): string => pathJoin(directory, `./${address}/`)

/** One of the log's stores in a database's directory. */
export const logStorePath = (databaseDirectory: string, store: LogStore): string => pathJoin(databaseDirectory, `/log/${store}/`)
