/**
 * Filling an account with the benchmark's keys: with `putMany` (a batch) where the
 * account has it, else one `put` per key (the fallback, so the benchmark still runs on a
 * store without batches; `batchesAvailable` says which one ran).
 */
import type { Account } from '../../src/account/account.ts'
import type { JsonValue } from '../../src/store/limits.ts'
import { keyOf, valueOf } from './common.ts'
import { compactionDue, DEFAULT_COMPACTION } from '../../src/account/compaction.ts'
import { DEFAULT_QUOTAS } from '../../src/store/quota.ts'
import { log } from './harness.ts'

/** How filling writes: batches of `FILL_CHUNK` keys, or one put per key (as users of `put` make a log). */
export type FillMode = 'batch' | 'put'
export const FILL_CHUNK = 5000

interface Batcher { putMany: (entries: Record<string, JsonValue>) => Promise<void> }

// Through unknown: until every Account has putMany, the type has no member to overlap with.
const putManyOf = (account: Account): Batcher['putMany'] | undefined => {
  const fn = (account as unknown as Partial<Batcher>).putMany
  return typeof fn === 'function' ? fn.bind(account) : undefined
}

export const batchesAvailable = (account: Account): boolean => putManyOf(account) !== undefined

/** The entries keyOf(i) -> valueOf(i) for i in [from, to). */
export const entriesOf = (from: number, to: number): Record<string, JsonValue> => {
  const entries: Record<string, JsonValue> = {}
  for (let i = from; i < to; i++) entries[keyOf(i)] = valueOf(i)
  return entries
}

/** Writes `entries` in one putMany call, or (no putMany) one put each. */
export const putEntries = async (account: Account, entries: Record<string, JsonValue>): Promise<void> => {
  const putMany = putManyOf(account)
  if (putMany !== undefined) {
    await putMany(entries)
    return
  }
  for (const [key, value] of Object.entries(entries)) await account.put(key, value)
}

/**
 * Waits until the account would start no compaction and has moved to its newest epoch: a
 * fill of 50,000 keys or more brings one about (half the writes quota), and a fixture
 * closed in the middle of it makes its next open finish the rotation (a 3 s reopen).
 */
const settled = async (account: Account): Promise<void> => {
  const done = (): boolean => {
    const { epoch, writes, keys } = account.logStats()
    return account.state().epoch?.epoch === epoch && !compactionDue(DEFAULT_COMPACTION, writes, keys, writes, DEFAULT_QUOTAS.writes)
  }
  const deadline = Date.now() + 300_000
  while (!done()) {
    if (Date.now() > deadline) throw new Error('the filled account did not settle (its compaction) in 300 s')
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

/** Writes keys 0..n-1; in batches of FILL_CHUNK keys unless `mode` is 'put'; then waits for the compaction it brings about. */
export const fillAccount = async (account: Account, n: number, mode: FillMode = 'batch'): Promise<void> => {
  if (mode === 'batch' && !batchesAvailable(account)) log('this account has no putMany: filling with one put per key')
  for (let from = 0; from < n; from += FILL_CHUNK) {
    const to = Math.min(n, from + FILL_CHUNK)
    if (mode === 'batch') await putEntries(account, entriesOf(from, to))
    else for (let i = from; i < to; i++) await account.put(keyOf(i), valueOf(i))
    if (n >= 2 * FILL_CHUNK) log(`filled ${to}/${n}`)
  }
  await settled(account)
}
