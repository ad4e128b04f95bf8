/** The entries of a log that a node holds, walked from heads through its blockstore. */
import assert from 'node:assert/strict'
import { Entry, IPFSBlockStorage, type HeliaNode, type LogEntry } from '../../src/orbit/orbitdb.ts'

/** Every entry reachable from `heads` (each must be local: the walk fails on one that is not). */
export const localEntries = async (ipfs: HeliaNode, heads: string[]): Promise<LogEntry[]> => {
  const storage = await IPFSBlockStorage({ ipfs, pin: false, timeout: 2000 })
  const seen = new Map<string, LogEntry>()
  const todo = [...heads]
  while (todo.length > 0) {
    const hash = todo.pop() as string
    if (seen.has(hash)) continue
    const bytes = await storage.get(hash)
    assert.ok(bytes !== undefined, `entry ${hash} of the log is local`)
    const entry = await Entry.decode(bytes)
    seen.set(hash, entry)
    todo.push(...entry.next, ...entry.refs)
  }
  return [...seen.values()]
}
