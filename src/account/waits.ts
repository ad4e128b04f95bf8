/**
 * Waiting for what peers send (browser-ready): the join and the recovery both poll for
 * state to arrive and prefetch a log's manifest, under a signal, and give up with an
 * error of their own naming what they waited for.
 */
import type { OrbitDB } from '../orbit/orbitdb.ts'
import { prefetchDatabase } from '../orbit/prefetch.ts'

/** Why `signal` aborted, for a message. */
export const abortReason = (signal: AbortSignal): string =>
  signal.reason instanceof Error ? signal.reason.message : String(signal.reason ?? 'aborted')

/** Calls `check` every `ms` until it holds; throws `fail()` once `signal` aborts. */
export const poll = async (check: () => Promise<boolean> | boolean, signal: AbortSignal, fail: () => Error, ms = 50): Promise<void> => {
  while (!(await check())) {
    if (signal.aborted) throw fail()
    await new Promise((resolve) => setTimeout(resolve, ms))
  }
}

/** Fetches a log's manifest and access controller under `signal` (see orbit/prefetch.ts); `fail()` once it aborts. */
export const prefetch = async (orbitdb: OrbitDB, address: string, signal: AbortSignal, fail: () => Error): Promise<void> => {
  try {
    await prefetchDatabase(orbitdb.ipfs, address, signal)
  } catch (err) {
    throw signal.aborted ? fail() : err
  }
}
