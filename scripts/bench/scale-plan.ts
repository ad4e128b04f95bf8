/**
 * The scale section of `npm run bench` (issue #16): builds its fixtures once (filled
 * accounts, not timed), then in every repetition runs each group of scenarios that are
 * compared with each other side by side, alternating their order between repetitions.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Side } from './common.ts'
import type { Results } from './report.ts'
import { fmt, runChild } from './run-child.ts'
import { runId, type ScaleSizes } from './scale-report.ts'

export const SCALE_FULL: ScaleSizes = { small: 1000, mid: 50_000, large: 100_000, revokeSmall: 10_000, revokeLarge: 100_000, batchKeys: 10_000, cliRuns: 10, fill: 'batch' }
export const SCALE_QUICK: ScaleSizes = { small: 200, mid: 1000, large: 2000, revokeSmall: 300, revokeLarge: 2000, batchKeys: 1000, cliRuns: 3, fill: 'batch' }

export interface ScaleContext {
  results: Results
  reps: number
  /** The run's temp root (the parent removes it). */
  tmp: string
  /** Per child: a scenario, and building a fixture. */
  timeoutMs: number
  prepareTimeoutMs: number
  say: (line: string) => void
}

interface Step { id: string, scenario: string, side: Side, params: object }

const unique = (xs: number[]): number[] => [...new Set(xs)].sort((a, b) => a - b)

export const runScale = async (ctx: ScaleContext, s: ScaleSizes): Promise<void> => {
  const { results, say } = ctx
  const failed = new Set<string>()
  const fixtureOf = (kind: string, keys: number): string => join(ctx.tmp, `fx-scale-${kind}-${keys}`)

  /** Builds a fixture in its own child; a failure is recorded and its scenarios skipped. */
  const prepare = async (kind: 'solo' | 'group', keys: number): Promise<void> => {
    const fixture = fixtureOf(kind, keys)
    await mkdir(fixture, { recursive: true })
    const t = Date.now()
    const scenario = kind === 'solo' ? 'prepare-sync' : 'prepare-revoke'
    try {
      await runChild(scenario, 'ours', { keys, gets: 0, props: 0, cliGets: 0, fixture, fill: s.fill }, ctx.tmp, ctx.prepareTimeoutMs)
      say(`prepared scale ${kind} fixture (${keys} keys) in ${((Date.now() - t) / 1000).toFixed(1)} s`)
    } catch (err) {
      failed.add(fixture)
      results.errors.push(`prepare scale ${kind} ${keys}: ${(err as Error).message}`)
      say(`prepare scale ${kind} ${keys} FAILED: ${(err as Error).message}`)
    }
  }
  // solo: one device holding the keys (reopen, the CLI, the new device); group: an admin,
  // a member that has synced every key and an offline device to revoke.
  for (const keys of unique([s.small, s.mid, s.large, s.revokeSmall, s.revokeLarge])) await prepare('solo', keys)
  for (const keys of unique([s.revokeSmall, s.revokeLarge])) await prepare('group', keys)

  const ours = (scenario: string, keys: number | undefined, params: object): Step =>
    ({ id: runId(scenario, 'ours', keys), scenario, side: 'ours', params })
  const newDevice = (keys: number): Step => ({ ...ours('sync', keys, { keys, gets: 0, props: 0, cliGets: 0, fixture: fixtureOf('solo', keys) }), id: runId('newdev', 'ours', keys) })
  // The same with the new device in a process of its own, as on its own machine (for information).
  const newDeviceApart = (keys: number): Step => ({ ...ours('sync', keys, { keys, gets: 0, props: 0, cliGets: 0, apart: true, fixture: fixtureOf('solo', keys) }), id: runId('newdev-apart', 'ours', keys) })
  // Each group's figures are compared with each other: they run one after the other.
  const groups: Step[][] = [
    [s.small, s.mid, s.large].map((keys) => ours('reopen', keys, { keys, fixture: fixtureOf('solo', keys) })),
    [ours('cli', undefined, { keys: s.small, fixture: fixtureOf('solo', s.small), runs: s.cliRuns })],
    (['ours', 'plain'] as const).map((side) => ({ id: runId('batch', side), scenario: 'batch', side, params: { keys: s.batchKeys, fixture: '' } })),
    [s.revokeSmall, s.revokeLarge].map((keys) => ours('revoke', keys, { keys, gets: 0, props: 0, cliGets: 0, fixture: fixtureOf('group', keys) })),
    [s.revokeSmall, s.revokeLarge].map(newDevice),
    [s.revokeSmall, s.revokeLarge].map(newDeviceApart),
    // What the new device cannot skip, alone (scripts/bench/floor.ts): the target's arithmetic.
    [s.revokeSmall, s.revokeLarge].map((keys) => ours('floor', keys, { keys }))
  ]
  const fixtureOfStep = (step: Step): string | undefined => (step.params as { fixture?: string }).fixture

  for (let rep = 0; rep < ctx.reps; rep++) {
    for (const group of groups) {
      // Alternate the order, so no figure always runs on a warmer (or busier) machine.
      for (const step of rep % 2 === 0 ? group : [...group].reverse()) {
        const fixture = fixtureOfStep(step)
        if (fixture !== undefined && failed.has(fixture)) continue
        const t = Date.now()
        try {
          const figures = await runChild(step.scenario, step.side, step.params, ctx.tmp, ctx.timeoutMs)
          ;(results.runs[step.id] ??= []).push(figures)
          say(`rep ${rep + 1}/${ctx.reps} ${step.id.padEnd(20)} ${((Date.now() - t) / 1000).toFixed(1).padStart(6)} s  ${fmt(figures)}`)
        } catch (err) {
          results.errors.push(`${step.id} rep ${rep + 1}: ${(err as Error).message}`)
          say(`rep ${rep + 1}/${ctx.reps} ${step.id} FAILED: ${(err as Error).message}`)
        }
      }
    }
  }
}
