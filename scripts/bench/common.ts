/** Shared helpers of the benchmark: temp dirs, timing, statistics, the test values. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export type Side = 'ours' | 'plain'
export const SIDES: readonly Side[] = ['ours', 'plain']
/** Only loopback: every node the benchmark starts listens here. */
export const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']

export const now = (): number => performance.now()
export const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Where temp dirs go: the run's own root when the parent names one (it removes it at the end). */
export const BENCH_TMP_ENV = 'ORBIT_BENCH_TMP'
export const tempRoot = async (label: string): Promise<string> =>
  await mkdtemp(join(process.env[BENCH_TMP_ENV] ?? tmpdir(), `oa-bench-${label}-`))
export const removeDir = async (dir: string): Promise<void> => { await rm(dir, { recursive: true, force: true, maxRetries: 3 }) }

/** The key of the i-th value: zero-padded so keys sort like their numbers. */
export const keyOf = (i: number): string => `item/${String(i).padStart(6, '0')}`

/** A JSON value of about 200 bytes (as JSON text), different for every i. */
export const valueOf = (i: number): { id: number, title: string, done: boolean, tags: string[], note: string, updated: number } => {
  const base = { id: i, title: `Item number ${i}`, done: i % 3 === 0, tags: ['bench', `group-${i % 17}`], note: '', updated: 1_700_000_000_000 + i }
  const size = JSON.stringify(base).length
  return { ...base, note: 'lorem ipsum dolor sit amet '.repeat(8).slice(0, Math.max(0, 200 - size)) }
}

/** Percentile (nearest rank) of a list of numbers. */
export const percentile = (values: number[], p: number): number => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank] as number
}

export const median = (values: number[]): number => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

/** Polls `check` until it is true; throws after `ms`. */
export const waitUntil = async (check: () => boolean | Promise<boolean>, ms: number, what: string, every = 10): Promise<void> => {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(every)
  }
}

/** Samples `process.memoryUsage().rss` until stopped; `peak()` is the largest sample. */
export const rssSampler = (everyMs = 20): { peak: () => number, stop: () => void } => {
  let peak = process.memoryUsage().rss
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss) }, everyMs)
  return {
    peak: () => Math.max(peak, process.memoryUsage().rss),
    stop: () => { clearInterval(timer) }
  }
}

/** What a child prints as its last stdout line. */
export const RESULT_PREFIX = 'BENCH_RESULT '

export type Figures = Record<string, number>
