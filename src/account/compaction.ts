/**
 * Automatic compaction: when the current data log holds many times more writes than live
 * keys, or one device has used half its writes quota there, the senior active admin
 * starts a snapshot epoch by itself, so the log's growth
 * stays bounded and a device back from a long absence fetches the state (a few snapshot
 * entries), not the history. Only the senior admin starts it, so admins never race each
 * other to a new epoch; while it is offline nothing is compacted (the next invite by any
 * admin still compacts first, see `compactIfLarge`). Browser-ready.
 */
import type { DeviceRecord } from '../../acl/types.ts'

/** No automatic compaction before the current log holds this many writes (a put or del one, a batch part or carry one per key). */
export const COMPACT_MIN_WRITES = 10_000
/** ...and this many times its live keys: a log of mostly live keys gains little from a snapshot. */
export const COMPACT_RATIO = 4
/** At most one check per this many ms (a burst of writes or of peers' changes sets one timer). */
export const COMPACT_CHECK_MS = 5_000

export interface CompactionRule {
  minWrites: number
  ratio: number
  /** Delay of the check after a change (default COMPACT_CHECK_MS). */
  checkMs?: number
}

export const DEFAULT_COMPACTION: Readonly<CompactionRule> = Object.freeze({ minWrites: COMPACT_MIN_WRITES, ratio: COMPACT_RATIO, checkMs: COMPACT_CHECK_MS })

/**
 * ...or once one device has made this share of its writes quota to the log: a device at
 * its quota cannot write until a new log starts (a 100,000-key import used all of a
 * default quota, and the ratio alone never came due: every write was a live key).
 */
export const COMPACT_QUOTA_SHARE = 0.5

/**
 * Is a log of `writes` writes and `keys` live keys due for a compaction? `busiest`: the
 * most writes one device made to it, against the per-device writes `quota`.
 */
export const compactionDue = (rule: CompactionRule, writes: number, keys: number, busiest = 0, quota = Number.POSITIVE_INFINITY): boolean =>
  writes >= rule.minWrites && (writes >= rule.ratio * Math.max(keys, 1) || busiest >= COMPACT_QUOTA_SHARE * quota)

/** Is `device` the active admin of lowest seniority (the one that compacts)? */
export const isSeniorAdmin = (state: { devices: Record<string, Pick<DeviceRecord, 'device' | 'role' | 'status' | 'seniority'>> }, device: string): boolean => {
  const admins = Object.values(state.devices).filter((d) => d.status === 'active' && d.role === 'admin')
  const senior = admins.reduce<typeof admins[number] | undefined>((a, d) => (a === undefined || d.seniority < a.seniority ? d : a), undefined)
  return senior?.device === device
}

export interface CompactionTimer {
  /** Something changed: check within `checkMs` (a check already due covers it). */
  poke: () => void
  stop: () => void
}

/**
 * Runs `due()` at most once per `checkMs` after a poke, and `run()` when it says so.
 * The timer is unref'd: it never keeps a process alive.
 */
export const compactionTimer = (checkMs: number, due: () => boolean, run: () => Promise<void>): CompactionTimer => {
  let timer: ReturnType<typeof setTimeout> | undefined
  let stopped = false
  return {
    poke: () => {
      if (stopped || timer !== undefined) return
      timer = setTimeout(() => {
        timer = undefined
        if (!stopped && due()) void run().catch(() => {})
      }, checkMs)
      ;(timer as { unref?: () => void }).unref?.()
    },
    stop: () => {
      stopped = true
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
    }
  }
}
