/**
 * `npm run bench [-- --quick] [-- --json <file>] [-- --svg <file>] [-- --md <file>]`
 *
 * Runs our store and plain OrbitDB keyvalue (`IPFSAccessController({ write: ['*'] })`,
 * no encryption, plain OrbitDB identities) on the same libp2p/Helia node, alternating
 * ours/plain in every repetition, each scenario in a fresh child process, on loopback
 * only; prints medians with min/max and ours/plain. `--quick` is the small version (a
 * smoke test, about a minute). `--from <results.json>` redraws the table, chart and
 * page from an earlier run without running anything.
 *
 * Then the scale section (issue #16, scripts/bench/scale-plan.ts): reopen, RSS, the CLI,
 * a batch, revocation and a new device at growing sizes, each a ratio measured in the
 * same run. `--scale-only` runs just it (with the main section's daemon and sync
 * scenarios, which it compares with plain OrbitDB); `--no-scale` leaves it out;
 * `--scale-fill put` fills its fixtures with one put per key instead of putMany batches.
 */
import { spawnSync } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { cpus, platform, release, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { removeDir, tempRoot, type Side } from './bench/common.ts'
import { summarize, svgChart, textTable, type Results, type Scenario, type Sizes } from './bench/report.ts'
import { fmt, killChildren, runChild } from './bench/run-child.ts'
import { runScale, SCALE_FULL, SCALE_QUICK } from './bench/scale-plan.ts'
import { scaleTextTable, summarizeScale } from './bench/scale-report.ts'
import { benchPage } from './bench/page.ts'
import { buildPlainReady } from './bench/entries.ts'

const here = dirname(fileURLToPath(import.meta.url))

interface Options { quick: boolean, json?: string, svg?: string, md?: string, from?: string, reps?: number, scale: 'with' | 'only' | 'without', scaleFill: 'batch' | 'put' }

const parseArgs = (argv: string[]): Options => {
  const options: Options = { quick: false, scale: 'with', scaleFill: 'batch' }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string
    const value = (): string => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`${a} needs a value`)
      return v
    }
    switch (a) {
      case '--quick': options.quick = true; break
      case '--json': options.json = value(); break
      case '--svg': options.svg = value(); break
      case '--md': options.md = value(); break
      case '--from': options.from = value(); break
      case '--reps': options.reps = Number(value()); break
      case '--scale-only': options.scale = 'only'; break
      case '--no-scale': options.scale = 'without'; break
      case '--scale-fill': {
        const fill = value()
        if (fill !== 'batch' && fill !== 'put') throw new Error('--scale-fill is batch or put')
        options.scaleFill = fill
        break
      }
      case '--help': case '-h':
        process.stdout.write('usage: npm run bench -- [--quick] [--reps N] [--scale-only | --no-scale] [--scale-fill batch|put] [--json <file>] [--svg <file>] [--md <file>] [--from <results.json>]\n' +
          '  the full run writes docs/bench.svg unless --svg is given; --quick writes no chart unless asked\n' +
          '  --scale-only: only the scale section (issue #16) and the daemon/sync scenarios it compares with\n')
        process.exit(0)
        break
      default: throw new Error(`unknown option ${a}`)
    }
  }
  if (options.reps !== undefined && (!Number.isInteger(options.reps) || options.reps < 1)) throw new Error('--reps must be a positive integer')
  return options
}

const FULL: Sizes = { reps: 3, storeKeys: 10_000, gets: 100, syncKeys: 5000, props: 20, revokeKeys: 10_000, daemonKeys: 1000, cliGets: 10 }
const QUICK: Sizes = { reps: 3, storeKeys: 300, gets: 20, syncKeys: 200, props: 5, revokeKeys: 300, daemonKeys: 50, cliGets: 3 }

const say = (s: string): void => { process.stderr.write(`${s}\n`) }

const run = async (options: Options): Promise<Results> => {
  // The daemon and CLI rows run the command as an installed package does: built from these sources now (scripts/bench/entries.ts).
  say('building dist/ (npm run build) for the daemon and CLI rows')
  const built = spawnSync(process.execPath, [join(here, 'build.ts')], { stdio: ['ignore', 'ignore', 'inherit'] })
  if (built.status !== 0) throw new Error('npm run build failed: the daemon and CLI rows need dist/')
  await buildPlainReady()
  const base = options.quick ? QUICK : FULL
  const sizes: Sizes = { ...base, reps: options.reps ?? base.reps }
  const cpu = cpus()
  const results: Results = {
    meta: {
      date: new Date().toISOString(),
      node: process.version,
      platform: `${platform()} ${release()}`,
      cpus: cpu.length,
      cpuModel: cpu[0]?.model.trim() ?? 'unknown',
      memGiB: Math.round(totalmem() / 2 ** 30),
      mode: options.quick ? 'quick' : 'full',
      sizes,
      ...(options.scale !== 'without' ? { scale: { ...(options.quick ? SCALE_QUICK : SCALE_FULL), fill: options.scaleFill } } : {}),
      ...(options.scale === 'only' ? { scaleOnly: true } : {})
    },
    runs: {},
    errors: []
  }
  const started = Date.now()
  const tmp = await tempRoot('run')
  const timeout = options.quick ? 120_000 : 600_000
  const stopOnSignal = (): void => { killChildren(); void removeDir(tmp).finally(() => process.exit(130)) }
  process.once('SIGINT', stopOnSignal)
  process.once('SIGTERM', stopOnSignal)
  try {
    const fixtures = { 'sync/ours': join(tmp, 'fx-sync-ours'), 'sync/plain': join(tmp, 'fx-sync-plain'), 'revoke/ours': join(tmp, 'fx-revoke') }
    const failed = new Set<string>()
    const prepare = async (scenario: 'sync' | 'revoke', side: Side, keys: number): Promise<void> => {
      const fixture = fixtures[`${scenario}/${side}` as keyof typeof fixtures]
      await mkdir(fixture, { recursive: true })
      const t = Date.now()
      try {
        await runChild(`prepare-${scenario}`, side, { keys, gets: 0, props: 0, cliGets: 0, fixture }, tmp, timeout)
        say(`prepared ${scenario}/${side} (${keys} keys) in ${((Date.now() - t) / 1000).toFixed(1)} s`)
      } catch (err) {
        failed.add(`${scenario}/${side}`)
        results.errors.push(`prepare ${scenario}/${side}: ${(err as Error).message}`)
        say(`prepare ${scenario}/${side} FAILED: ${(err as Error).message}`)
      }
    }
    say(`orbit-account benchmark (${results.meta.mode}), ${sizes.reps} repetitions; results so far on stderr, the table at the end`)
    await prepare('sync', 'ours', sizes.syncKeys)
    await prepare('sync', 'plain', sizes.syncKeys)
    if (options.scale !== 'only') await prepare('revoke', 'ours', sizes.revokeKeys)

    type Step = { scenario: Scenario, sides: Side[], params: (side: Side) => object }
    const allSteps: Step[] = [
      { scenario: 'store', sides: ['ours', 'plain'], params: () => ({ keys: sizes.storeKeys, gets: sizes.gets, props: 0, cliGets: 0 }) },
      { scenario: 'sync', sides: ['ours', 'plain'], params: (side) => ({ keys: sizes.syncKeys, gets: 0, props: sizes.props, cliGets: 0, fixture: fixtures[`sync/${side}`] }) },
      { scenario: 'revoke', sides: ['ours'], params: () => ({ keys: sizes.revokeKeys, gets: 0, props: 0, cliGets: 0, fixture: fixtures['revoke/ours'] }) },
      { scenario: 'daemon', sides: ['ours', 'plain'], params: () => ({ keys: sizes.daemonKeys, gets: 0, props: 0, cliGets: sizes.cliGets }) }
    ]
    // --scale-only: the scale section compares daemon start and propagation with plain OrbitDB's.
    const plan = allSteps.filter((step) => options.scale !== 'only' || step.scenario === 'sync' || step.scenario === 'daemon')
    for (let rep = 0; rep < sizes.reps; rep++) {
      for (const step of plan) {
        // Alternate which side goes first, so neither always runs on a warmer (or busier) machine.
        const sides = rep % 2 === 0 ? step.sides : [...step.sides].reverse()
        for (const side of sides) {
          const id = `${step.scenario}/${side}`
          if (failed.has(id)) continue
          const t = Date.now()
          try {
            const figures = await runChild(step.scenario, side, step.params(side), tmp, timeout)
            ;(results.runs[id] ??= []).push(figures)
            say(`rep ${rep + 1}/${sizes.reps} ${id.padEnd(12)} ${((Date.now() - t) / 1000).toFixed(1).padStart(6)} s  ${fmt(figures)}`)
          } catch (err) {
            results.errors.push(`${id} rep ${rep + 1}: ${(err as Error).message}`)
            say(`rep ${rep + 1}/${sizes.reps} ${id} FAILED: ${(err as Error).message}`)
          }
        }
      }
    }
    const scale = results.meta.scale
    if (scale !== undefined) {
      say(`scale section: ${JSON.stringify(scale)}`)
      await runScale({ results, reps: sizes.reps, tmp, timeoutMs: options.quick ? 300_000 : 900_000, prepareTimeoutMs: options.quick ? 600_000 : 2_400_000, say }, scale)
    }
  } finally {
    process.off('SIGINT', stopOnSignal)
    process.off('SIGTERM', stopOnSignal)
    await removeDir(tmp)
  }
  results.meta.seconds = (Date.now() - started) / 1000
  return results
}

const options = parseArgs(process.argv.slice(2))
const results = options.from !== undefined ? JSON.parse(await readFile(options.from, 'utf8')) as Results : await run(options)
const rows = summarize(results)
results.rows = rows
const scaleRows = summarizeScale(results)
results.scaleRows = scaleRows
if (results.meta.scaleOnly !== true) process.stdout.write(`\n${textTable(results, rows)}\n`)
if (scaleRows.length > 0) process.stdout.write(`\n${scaleTextTable(results, scaleRows)}\n`)
if (results.meta.seconds !== undefined) process.stdout.write(`\n(${Math.round(results.meta.seconds)} s in all)\n`)

const write = async (file: string, text: string): Promise<void> => {
  await mkdir(dirname(file), { recursive: true })
  await writeFile(file, text)
  process.stdout.write(`wrote ${file}\n`)
}
if (options.json !== undefined) await write(options.json, `${JSON.stringify(results, null, 2)}\n`)
// The chart is the main table's: a --scale-only run leaves docs/bench.svg as it is.
const svg = options.svg ?? (results.meta.mode === 'full' && options.from === undefined && results.meta.scaleOnly !== true ? join(here, '..', 'docs', 'bench.svg') : undefined)
if (svg !== undefined) await write(svg, svgChart(results, rows))
if (options.md !== undefined) {
  const existing = await readFile(options.md, 'utf8').catch(() => undefined)
  await write(options.md, benchPage(results, rows, scaleRows, existing))
}
process.exit(results.errors.length > 0 ? 1 : 0)
