/**
 * The scale section's table (issue #16): every figure a ratio of two medians measured in
 * the same run (a big account against a small one, ours against plain OrbitDB, the CLI
 * against a bare `node -e 0`), with its target and whether it was met.
 */
import type { Figures } from './common.ts'
import { cell, machine, num, stat, type Results, type Sizes, type Stat } from './report.ts'

export interface ScaleSizes {
  /** reopen at these key counts: small is the reference, mid and large must stay within 1.5x. */
  small: number
  mid: number
  large: number
  /** revocation and the new device at these key counts: large must stay under 2x small. */
  revokeSmall: number
  revokeLarge: number
  /** keys of the batch (one putMany), and of plain's puts. */
  batchKeys: number
  /** timed runs of each CLI command (and as many `node -e 0`). */
  cliRuns: number
  /** How the fixtures were filled: putMany batches of 5,000 keys, or one put per key. */
  fill: 'batch' | 'put'
}

/** The key of a run in `Results.runs`: `scenario[@keys]/side`. */
export const runId = (scenario: string, side: 'ours' | 'plain', keys?: number): string =>
  `${scenario}${keys === undefined ? '' : `@${keys}`}/${side}`

interface Ref { run: string, figure: string }
type Target = { kind: 'max' | 'under' | 'min', value: number }

interface ScaleRowSpec {
  id: string
  label: (s: ScaleSizes, m: Sizes) => string
  unit: string
  value: (s: ScaleSizes) => Ref
  /** A figure of the same repetitions taken from each value (paired by repetition): a growth between two sizes. */
  minus?: (s: ScaleSizes) => Ref
  /** What the figure is compared with (null: shown for information, no ratio). */
  base: ((s: ScaleSizes) => Ref) | null
  baseLabel: (s: ScaleSizes, m: Sizes) => string
  target?: Target
}

const n = (x: number): string => x.toLocaleString('en-US')
const ref = (run: string, figure: string): Ref => ({ run, figure })
const reopenAt = (keys: number, figure: string): Ref => ref(runId('reopen', 'ours', keys), figure)
const bare = (figure: string) => (): Ref => ref(runId('cli', 'ours'), figure)

const localCli = (command: string): ScaleRowSpec => ({
  id: `cli-${command}`,
  label: (s) => `CLI ${command}, no daemon (${n(s.small)} keys)`,
  unit: 'ms',
  value: () => ref(runId('cli', 'ours'), `local${command[0]?.toUpperCase() ?? ''}${command.slice(1)}Ms`),
  base: bare('nodeMs'),
  baseLabel: () => '`node -e 0`',
  target: { kind: 'max', value: 3 }
})

export const SCALE_ROWS: ScaleRowSpec[] = [
  { id: 'reopen-mid', label: (s) => `reopen (openAccount) at ${n(s.mid)} keys`, unit: 'ms', value: (s) => reopenAt(s.mid, 'reopenMs'), base: (s) => reopenAt(s.small, 'reopenMs'), baseLabel: (s) => `at ${n(s.small)} keys`, target: { kind: 'max', value: 1.5 } },
  { id: 'reopen-large', label: (s) => `reopen (openAccount) at ${n(s.large)} keys`, unit: 'ms', value: (s) => reopenAt(s.large, 'reopenMs'), base: (s) => reopenAt(s.small, 'reopenMs'), baseLabel: (s) => `at ${n(s.small)} keys`, target: { kind: 'max', value: 1.5 } },
  { id: 'rss-large', label: (s) => `RSS after reopen at ${n(s.large)} keys`, unit: 'MiB', value: (s) => reopenAt(s.large, 'rssMB'), base: (s) => reopenAt(s.small, 'rssMB'), baseLabel: (s) => `at ${n(s.small)} keys`, target: { kind: 'max', value: 1.5 } },
  { id: 'rss-gc-large', label: (s) => `RSS after reopen and a gc at ${n(s.large)} keys`, unit: 'MiB', value: (s) => reopenAt(s.large, 'rssGcMB'), base: (s) => reopenAt(s.small, 'rssGcMB'), baseLabel: (s) => `at ${n(s.small)} keys`, target: { kind: 'max', value: 1.5 } },
  { id: 'ready', label: (_s, m) => `daemon start to ready (${n(m.daemonKeys)} keys)`, unit: 'ms', value: () => ref(runId('daemon', 'ours'), 'daemonReadyMs'), base: () => ref(runId('daemon', 'plain'), 'daemonReadyMs'), baseLabel: () => 'plain OrbitDB', target: { kind: 'max', value: 1 } },
  { id: 'cli-daemon', label: (s) => `CLI get through the daemon (${n(s.small)} keys)`, unit: 'ms', value: () => ref(runId('cli', 'ours'), 'daemonGetMs'), base: bare('nodeDaemonMs'), baseLabel: () => '`node -e 0`', target: { kind: 'max', value: 2 } },
  localCli('get'),
  localCli('list'),
  localCli('status'),
  localCli('devices'),
  { id: 'batch', label: (s) => `batch: ${n(s.batchKeys)} keys in one putMany (plain: puts)`, unit: 'keys/s', value: () => ref(runId('batch', 'ours'), 'keysPerS'), base: () => ref(runId('batch', 'plain'), 'keysPerS'), baseLabel: () => 'plain OrbitDB puts', target: { kind: 'min', value: 10 } },
  { id: 'batch-synced', label: (s) => `batch: until a second device reads all ${n(s.batchKeys)}`, unit: 'ms', value: () => ref(runId('batch', 'ours'), 'syncedMs'), base: null, baseLabel: () => '' },
  { id: 'revoke', label: (s) => `revocation at ${n(s.revokeLarge)} keys`, unit: 'ms', value: (s) => ref(runId('revoke', 'ours', s.revokeLarge), 'revokeMs'), base: (s) => ref(runId('revoke', 'ours', s.revokeSmall), 'revokeMs'), baseLabel: (s) => `at ${n(s.revokeSmall)} keys`, target: { kind: 'under', value: 2 } },
  { id: 'revoke-returned', label: (s) => `revoke() returned, every snapshot part written, at ${n(s.revokeLarge)} keys`, unit: 'ms', value: (s) => ref(runId('revoke', 'ours', s.revokeLarge), 'revokeReturnedMs'), base: (s) => ref(runId('revoke', 'ours', s.revokeSmall), 'revokeReturnedMs'), baseLabel: (s) => `at ${n(s.revokeSmall)} keys` },
  { id: 'new-device', label: (s) => `new device until ${n(s.revokeLarge)} keys readable`, unit: 'ms', value: (s) => ref(runId('newdev', 'ours', s.revokeLarge), 'newDeviceMs'), base: (s) => ref(runId('newdev', 'ours', s.revokeSmall), 'newDeviceMs'), baseLabel: (s) => `at ${n(s.revokeSmall)} keys`, target: { kind: 'under', value: 2 } },
  { id: 'new-device-apart', label: (s) => `new device in a process of its own, until ${n(s.revokeLarge)} keys readable`, unit: 'ms', value: (s) => ref(runId('newdev-apart', 'ours', s.revokeLarge), 'newDeviceMs'), base: (s) => ref(runId('newdev-apart', 'ours', s.revokeSmall), 'newDeviceMs'), baseLabel: (s) => `at ${n(s.revokeSmall)} keys` },
  { id: 'floor', label: (s) => `floor: ${n(s.revokeLarge)} values decoded and read back alone (no network, log, index or quotas)`, unit: 'ms', value: (s) => ref(runId('floor', 'ours', s.revokeLarge), 'floorMs'), base: (s) => ref(runId('floor', 'ours', s.revokeSmall), 'floorMs'), baseLabel: (s) => `at ${n(s.revokeSmall)} keys` },
  // The new-device target, < 2x, is: its growth from the small size to the large one under the small size's whole figure.
  { id: 'floor-growth', label: (s) => `the floor's growth from ${n(s.revokeSmall)} to ${n(s.revokeLarge)} keys`, unit: 'ms', value: (s) => ref(runId('floor', 'ours', s.revokeLarge), 'floorMs'), minus: (s) => ref(runId('floor', 'ours', s.revokeSmall), 'floorMs'), base: (s) => ref(runId('newdev', 'ours', s.revokeSmall), 'newDeviceMs'), baseLabel: (s) => `the growth < 2x allows: the new device at ${n(s.revokeSmall)} keys` },
  { id: 'prop', label: (_s, m) => `one-put propagation p50 (${n(m.props)} puts)`, unit: 'ms', value: () => ref(runId('sync', 'ours'), 'propP50Ms'), base: () => ref(runId('sync', 'plain'), 'propP50Ms'), baseLabel: () => 'plain OrbitDB', target: { kind: 'max', value: 1 } }
]

export interface ScaleRow {
  id: string
  label: string
  unit: string
  value: Stat | null
  baseLabel: string
  base: Stat | null
  ratio: number | null
  target: string | null
  met: boolean | null
}

const values = (runs: Record<string, Figures[]>, r: Ref): number[] =>
  (runs[r.run] ?? []).map((f) => f[r.figure]).filter((x): x is number => typeof x === 'number')

const targetText = (t: Target): string => `${t.kind === 'min' ? '>=' : t.kind === 'under' ? '<' : '<='} ${t.value}x`

const meets = (t: Target, ratio: number): boolean =>
  t.kind === 'min' ? ratio >= t.value : t.kind === 'under' ? ratio < t.value : ratio <= t.value

export const summarizeScale = (results: Results): ScaleRow[] => {
  const s = results.meta.scale
  if (s === undefined) return []
  return SCALE_ROWS.map((spec) => {
    const minus = spec.minus === undefined ? undefined : values(results.runs, spec.minus(s))
    const value = stat(minus === undefined ? values(results.runs, spec.value(s)) : values(results.runs, spec.value(s)).map((v, i) => v - (minus[i] ?? Number.NaN)))
    const base = spec.base === null ? null : stat(values(results.runs, spec.base(s)))
    const ratio = value !== null && base !== null && base.median !== 0 ? value.median / base.median : null
    return {
      id: spec.id,
      label: spec.label(s, results.meta.sizes),
      unit: spec.unit,
      value,
      baseLabel: spec.baseLabel(s, results.meta.sizes),
      base,
      ratio,
      target: spec.target === undefined ? null : targetText(spec.target),
      met: spec.target === undefined || ratio === null ? null : meets(spec.target, ratio)
    }
  })
}

/** What a reader of the table must know: figures measured with a fallback. */
export const scaleNotes = (results: Results): string[] => {
  const notes: string[] = []
  const batches = values(results.runs, ref(runId('batch', 'ours'), 'batches'))
  if (batches.some((b) => b === 0)) notes.push('The account had no putMany: the "batch" figures are one put per key, not a batch.')
  if (results.meta.scaleOnly === true) notes.push('Run with --scale-only: daemon ready and propagation come from the main section\'s scenarios run alone.')
  return notes
}

const HEAD = ['figure', 'unit', 'median (min–max)', 'compared with', 'its median (min–max)', 'ratio', 'target', 'target met']
const metCell = (r: ScaleRow): string => r.target === null ? '' : r.met === null ? 'no figure' : r.met ? 'met' : 'NOT MET'
const cells = (r: ScaleRow): string[] => [
  r.label, r.unit, cell(r.value, false), r.baseLabel, r.base === null ? '' : cell(r.base, false),
  r.ratio === null ? '' : num(r.ratio), r.target ?? '', metCell(r)
]

const intro = (results: Results): string => {
  const s = results.meta.scale
  const reps = results.meta.sizes.reps
  return `scale section (issue #16): medians of ${reps} repetitions; ratio = this median / the median it is compared with, both from this run` +
    (s === undefined ? '' : `; fixtures filled ${s.fill === 'batch' ? 'with putMany in batches of 5,000 keys' : 'with one put per key'}, every scenario in a fresh process`)
}

export const scaleTextTable = (results: Results, rows: ScaleRow[]): string => {
  const body = rows.map(cells)
  const widths = HEAD.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)))
  const line = (c: string[]): string => c.map((x, i) => x.padEnd(widths[i] as number)).join('  ').trimEnd()
  return [
    intro(results),
    `machine: ${machine(results.meta)}`,
    '',
    line(HEAD),
    line(widths.map((w) => '-'.repeat(w))),
    ...body.map(line),
    ...scaleNotes(results).map((note) => `\n${note}`)
  ].join('\n')
}

export const scaleMarkdownTable = (results: Results, rows: ScaleRow[]): string => {
  const esc = (x: string): string => x.replace(/\|/g, '\\|')
  return [
    `| ${HEAD.join(' | ')} |`,
    `| ${HEAD.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${cells(r).map(esc).join(' | ')} |`),
    ...scaleNotes(results).flatMap((note) => ['', note]),
    '',
    `Machine: ${machine(results.meta)}. ${results.meta.sizes.reps} repetitions${results.meta.seconds !== undefined ? `, ${Math.round(results.meta.seconds)} s in all` : ''}.`
  ].join('\n')
}
