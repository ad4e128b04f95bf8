/** The benchmark's results: medians with min/max, the table, the Markdown page and the SVG chart. */
import { median, type Figures, type Side } from './common.ts'
import type { ScaleRow, ScaleSizes } from './scale-report.ts'

export type Scenario = 'store' | 'sync' | 'revoke' | 'daemon'

export interface Sizes {
  reps: number
  storeKeys: number
  gets: number
  syncKeys: number
  props: number
  revokeKeys: number
  daemonKeys: number
  cliGets: number
}

export interface Meta {
  date: string
  node: string
  platform: string
  cpus: number
  cpuModel: string
  memGiB: number
  mode: 'full' | 'quick'
  sizes: Sizes
  /** The scale section's sizes (absent in results from before it existed). */
  scale?: ScaleSizes
  /** Only the scale section ran (`--scale-only`). */
  scaleOnly?: boolean
  seconds?: number
}

export interface Results {
  meta: Meta
  /** Every repetition's figures, per scenario and side, in the order they ran. */
  runs: Record<string, Figures[]>
  /** Failures, as `scenario/side rep n: message`. */
  errors: string[]
  rows?: Row[]
  scaleRows?: ScaleRow[]
}

type Target =
  | { kind: 'ratio-min', value: number } // ours/plain >= value
  | { kind: 'ratio-max', value: number } // ours/plain <= value
  | { kind: 'ours-max', value: number } // ours <= value

export interface RowSpec {
  id: string
  label: (s: Sizes) => string
  unit: string
  better: 'higher' | 'lower'
  scenario: Scenario
  ours: string
  /** The plain figure, or null when plain OrbitDB has nothing to compare (n/a). */
  plain: string | null
  target?: Target
  targetText?: string
}

const n = (x: number): string => x.toLocaleString('en-US')

export const ROWS: RowSpec[] = [
  { id: 'put1k', label: (s) => `1. put throughput, first ${n(Math.min(1000, s.storeKeys))} puts`, unit: 'ops/s', better: 'higher', scenario: 'store', ours: 'put1kOps', plain: 'put1kOps', target: { kind: 'ratio-min', value: 1 }, targetText: 'ours/plain >= 1.0' },
  { id: 'putAll', label: (s) => `1. put throughput, ${n(s.storeKeys)} puts`, unit: 'ops/s', better: 'higher', scenario: 'store', ours: 'putAllOps', plain: 'putAllOps', target: { kind: 'ratio-min', value: 1 }, targetText: 'ours/plain >= 1.0' },
  { id: 'getP50', label: (s) => `2. get p50 at ${n(s.storeKeys)} keys`, unit: 'ms', better: 'lower', scenario: 'store', ours: 'getP50Ms', plain: 'getP50Ms', target: { kind: 'ours-max', value: 1 }, targetText: '<= 1 ms' },
  { id: 'getP95', label: (s) => `2. get p95 at ${n(s.storeKeys)} keys`, unit: 'ms', better: 'lower', scenario: 'store', ours: 'getP95Ms', plain: 'getP95Ms' },
  { id: 'newDevice', label: (s) => `3. new device until ${n(s.syncKeys)} keys readable`, unit: 'ms', better: 'lower', scenario: 'sync', ours: 'newDeviceMs', plain: 'newDeviceMs', target: { kind: 'ratio-max', value: 0.2 }, targetText: '<= 1/5 of plain' },
  { id: 'propP50', label: (s) => `3. one-put propagation p50 (${n(s.props)} puts)`, unit: 'ms', better: 'lower', scenario: 'sync', ours: 'propP50Ms', plain: 'propP50Ms', target: { kind: 'ours-max', value: 250 }, targetText: '<= 250 ms' },
  { id: 'propP95', label: (s) => `3. one-put propagation p95 (${n(s.props)} puts)`, unit: 'ms', better: 'lower', scenario: 'sync', ours: 'propP95Ms', plain: 'propP95Ms' },
  { id: 'revoke', label: (s) => `4. revocation, ${n(s.revokeKeys)} live keys`, unit: 'ms', better: 'lower', scenario: 'revoke', ours: 'revokeMs', plain: null, target: { kind: 'ours-max', value: 5000 }, targetText: '<= 5 s' },
  { id: 'rss', label: (s) => `5. peak RSS with ${n(s.storeKeys)} keys`, unit: 'MiB', better: 'lower', scenario: 'store', ours: 'peakRssMB', plain: 'peakRssMB', target: { kind: 'ratio-max', value: 1 }, targetText: '<= plain' },
  { id: 'ready', label: (s) => `5. daemon start to ready (${n(s.daemonKeys)} keys)*`, unit: 'ms', better: 'lower', scenario: 'daemon', ours: 'daemonReadyMs', plain: 'daemonReadyMs', target: { kind: 'ours-max', value: 2000 }, targetText: '<= 2 s' },
  { id: 'cliGet', label: (s) => `5. CLI get through the daemon (median of ${n(s.cliGets)})`, unit: 'ms', better: 'lower', scenario: 'daemon', ours: 'cliGetMs', plain: null, target: { kind: 'ours-max', value: 150 }, targetText: '<= 150 ms' }
]

export const FOOTNOTE = '* ours: `orbit-account daemon` as the package ships it (the bundled `dist/src/cli/orbit-account.js`); plain: a JavaScript process (scripts/bench/plain-ready.ts, its packages loaded from node_modules) that starts the same node, opens plain OrbitDB and its keyvalue database and prints a ready line.'

export interface Stat { median: number, min: number, max: number, count: number }
export interface Row {
  id: string
  label: string
  unit: string
  better: 'higher' | 'lower'
  ours: Stat | null
  plain: Stat | null
  ratio: number | null
  target: string | null
  met: boolean | null
}

export const stat = (values: number[]): Stat | null => {
  const v = values.filter((x) => Number.isFinite(x))
  if (v.length === 0) return null
  return { median: median(v), min: Math.min(...v), max: Math.max(...v), count: v.length }
}

const valuesOf = (runs: Results['runs'], scenario: Scenario, side: Side, figure: string | null): number[] =>
  figure === null ? [] : (runs[`${scenario}/${side}`] ?? []).map((f) => f[figure]).filter((x): x is number => typeof x === 'number')

export const summarize = (results: Results): Row[] => ROWS.map((spec) => {
  const ours = stat(valuesOf(results.runs, spec.scenario, 'ours', spec.ours))
  const plain = spec.plain === null ? null : stat(valuesOf(results.runs, spec.scenario, 'plain', spec.plain))
  const ratio = ours !== null && plain !== null && plain.median !== 0 ? ours.median / plain.median : null
  let met: boolean | null = null
  const t = spec.target
  if (t !== undefined) {
    if (t.kind === 'ours-max') met = ours === null ? null : ours.median <= t.value
    else if (ratio !== null) met = t.kind === 'ratio-min' ? ratio >= t.value : ratio <= t.value
  }
  return { id: spec.id, label: spec.label(results.meta.sizes), unit: spec.unit, better: spec.better, ours, plain, ratio, target: spec.targetText ?? null, met }
})

export const num = (x: number): string => {
  const a = Math.abs(x)
  if (a >= 100) return n(Math.round(x))
  if (a >= 10) return x.toFixed(1)
  if (a >= 1) return x.toFixed(2)
  if (a >= 0.01) return x.toFixed(3)
  return x.toPrecision(2)
}
export const cell = (s: Stat | null, na: boolean): string => s === null ? (na ? 'n/a' : 'failed') : `${num(s.median)} (${num(s.min)}–${num(s.max)})`
const ratioText = (r: Row): string => r.ratio === null ? 'n/a' : `${num(r.ratio)}`
const metText = (r: Row): string => r.target === null ? '' : r.met === null ? `${r.target}: ?` : `${r.target}: ${r.met ? 'met' : 'MISSED'}`

export const machine = (m: Meta): string =>
  `${m.cpus} cores (${m.cpuModel}), ${m.memGiB} GiB, Node ${m.node} on ${m.platform}, ${m.date.slice(0, 10)}`

/** The table for the terminal. */
export const textTable = (results: Results, rows: Row[]): string => {
  const head = ['figure', 'unit', 'ours median (min–max)', 'plain median (min–max)', 'ours/plain', 'target']
  const body = rows.map((r) => [r.label, r.unit, cell(r.ours, false), cell(r.plain, r.id === 'revoke' || r.id === 'cliGet'), ratioText(r), metText(r)])
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)))
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd()
  const m = results.meta
  return [
    `orbit-account benchmark (${m.mode}): medians of ${m.sizes.reps} repetitions, ours and plain OrbitDB alternating`,
    `machine: ${machine(m)}`,
    '',
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...body.map(line),
    '',
    FOOTNOTE,
    ...(results.errors.length > 0 ? ['', 'failures:', ...results.errors.map((e) => `  ${e}`)] : [])
  ].join('\n')
}

/** The same table in Markdown (for docs/BENCH.md). */
export const markdownTable = (results: Results, rows: Row[]): string => {
  const esc = (s: string): string => s.replace(/\|/g, '\\|')
  return [
    '| figure | unit | ours median (min–max) | plain median (min–max) | ours/plain | target |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${esc(r.label)} | ${r.unit} | ${cell(r.ours, false)} | ${cell(r.plain, r.id === 'revoke' || r.id === 'cliGet')} | ${ratioText(r)} | ${esc(metText(r))} |`),
    '',
    FOOTNOTE,
    '',
    `Machine: ${machine(results.meta)}. ${results.meta.sizes.reps} repetitions${results.meta.seconds !== undefined ? `, ${Math.round(results.meta.seconds)} s in all` : ''}.`
  ].join('\n')
}

const xml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/**
 * The chart: one bar per figure on a log scale centred on 1, to the right when ours
 * does better. Against plain OrbitDB the bar is plain/ours for "lower is better"
 * figures (ours/plain for throughput); for the figures plain has no counterpart of,
 * it is target/ours (how far inside or outside its target ours is).
 */
export const svgChart = (results: Results, rows: Row[]): string => {
  interface Bar { label: string, factor: number, text: string, kind: 'plain' | 'target' }
  const bars: Bar[] = []
  for (const r of rows) {
    if (r.ours === null) continue
    if (r.plain !== null && r.ratio !== null) {
      const factor = r.better === 'higher' ? r.ratio : 1 / r.ratio
      bars.push({ label: r.label, factor, text: `ours ${num(r.ours.median)} / plain ${num(r.plain.median)} ${r.unit}`, kind: 'plain' })
    } else {
      const spec = ROWS.find((s) => s.id === r.id)
      if (spec?.target?.kind === 'ours-max') bars.push({ label: r.label, factor: spec.target.value / r.ours.median, text: `ours ${num(r.ours.median)} ${r.unit} vs target ${r.target ?? ''}`, kind: 'target' })
    }
  }
  const W = 1140
  const labelW = 390
  const textW = 290
  const rowH = 30
  const top = 70
  const chartW = W - labelW - textW - 20
  const logs = bars.map((b) => Math.log10(Math.max(1e-12, b.factor)))
  const left = Math.max(1, Math.ceil(-Math.min(0, ...logs)))
  const right = Math.max(1, Math.ceil(Math.max(0, ...logs)))
  const scale = chartW / (left + right)
  const mid = labelW + left * scale
  const H = top + bars.length * rowH + 60
  const power = (d: number): string => d <= 3 ? String(10 ** d) : `1e${d}`
  const parts: string[] = []
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`)
  parts.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`)
  parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">orbit-account (ours) vs plain OrbitDB keyvalue: times better (right of 1×) or worse (left), log scale</text>`)
  parts.push(`<text x="${W / 2}" y="40" text-anchor="middle" fill="#555">${xml(`medians of ${results.meta.sizes.reps} repetitions (${results.meta.mode}); ${machine(results.meta)}`)}</text>`)
  for (let d = -left; d <= right; d++) {
    const x = mid + d * scale
    parts.push(`<line x1="${x.toFixed(1)}" y1="${top - 8}" x2="${x.toFixed(1)}" y2="${top + bars.length * rowH}" stroke="${d === 0 ? '#000' : '#ddd'}"/>`)
    parts.push(`<text x="${x.toFixed(1)}" y="${top - 12}" text-anchor="middle" fill="#555">${d === 0 ? '1×' : `${power(Math.abs(d))}×`}</text>`)
  }
  parts.push(`<text x="${W - textW + 10}" y="${top - 12}" fill="#555">ratio · medians</text>`)
  bars.forEach((b, i) => {
    const y = top + i * rowH
    const w = (logs[i] as number) * scale
    const good = b.factor >= 1
    const fill = b.kind === 'target' ? (good ? '#6aa7e0' : '#e0a96a') : (good ? '#4caf50' : '#e05a4f')
    parts.push(`<text x="${labelW - 8}" y="${y + rowH / 2 + 4}" text-anchor="end">${xml(b.label)}${b.kind === 'target' ? ' (vs target)' : ''}</text>`)
    parts.push(`<rect x="${Math.min(mid, mid + w).toFixed(1)}" y="${y + 5}" width="${Math.max(1, Math.abs(w)).toFixed(1)}" height="${rowH - 10}" fill="${fill}"/>`)
    parts.push(`<text x="${W - textW + 10}" y="${y + rowH / 2 + 4}" fill="#333">${xml(`${num(b.factor)}× · ${b.text}`)}</text>`)
  })
  const ly = top + bars.length * rowH + 25
  parts.push(`<text x="10" y="${ly}" fill="#555">lower-is-better figures: plain/ours; throughput: ours/plain</text>`)
  parts.push(`<rect x="${labelW}" y="${ly - 10}" width="12" height="12" fill="#4caf50"/><text x="${labelW + 18}" y="${ly}">ours better than plain</text>`)
  parts.push(`<rect x="${labelW + 170}" y="${ly - 10}" width="12" height="12" fill="#e05a4f"/><text x="${labelW + 188}" y="${ly}">ours worse than plain</text>`)
  parts.push(`<rect x="${labelW + 340}" y="${ly - 10}" width="12" height="12" fill="#6aa7e0"/><text x="${labelW + 358}" y="${ly}">no plain counterpart: target / ours (orange: target missed)</text>`)
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}
