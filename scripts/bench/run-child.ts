/** The parent's side of a benchmark child: runs one scenario in child.ts, with a timeout. */
import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BENCH_TMP_ENV, RESULT_PREFIX, type Figures, type Side } from './common.ts'

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'child.ts')

/** Children running now: each leads its own process group (with the daemons and CLI runs it started). */
const running = new Set<number>()
const killGroup = (pid: number): void => { try { process.kill(-pid, 'SIGKILL') } catch { /* already gone */ } }
/** Kills every running child and what it started (on a timeout, or when the benchmark is interrupted). */
export const killChildren = (): void => { for (const pid of running) killGroup(pid) }

/**
 * Runs one scenario for one side in a child process (with --expose-gc, for the RSS
 * figures after a gc); resolves with its figures; after `timeoutMs` kills it and every
 * process it started (a daemon of a killed child would otherwise run on).
 */
export const runChild = async (scenario: string, side: Side, params: object, tmp: string, timeoutMs: number): Promise<Figures> =>
  await new Promise<Figures>((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', CHILD, scenario, side, JSON.stringify(params)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, [BENCH_TMP_ENV]: tmp }
    })
    const pid = child.pid as number
    running.add(pid)
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); if (process.env.BENCH_VERBOSE !== undefined) process.stderr.write(d) })
    const timer = setTimeout(() => { killGroup(pid) }, timeoutMs)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      running.delete(pid)
      // Anything it left behind (it stops what it started, unless it was killed).
      killGroup(pid)
      const line = out.split('\n').find((l) => l.startsWith(RESULT_PREFIX))
      if (code === 0 && line !== undefined) resolve(JSON.parse(line.slice(RESULT_PREFIX.length)) as Figures)
      else reject(new Error(`${scenario}/${side} exited with ${signal ?? String(code)}${signal === 'SIGKILL' ? ` (timeout ${timeoutMs / 1000} s)` : ''}: ${err.trim().split('\n').slice(-3).join(' | ')}`))
    })
  })

export const fmt = (f: Figures): string => Object.entries(f).map(([k, v]) => `${k}=${typeof v !== 'number' ? String(v) : v < 10 ? v.toFixed(3) : v.toFixed(0)}`).join(' ')
