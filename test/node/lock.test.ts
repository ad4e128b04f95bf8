/**
 * The store lock (src/node/lock.ts) under commands run together: real processes take and
 * release it as fast as they can. One that finds it taken, then finds it released before
 * it could read the holder, tries again: it never reports the lock as unreadable (CI met
 * that once, with three `put`s run at once).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { acquireLock, lockState } from '../../src/node/lock.ts'

const LOCK_MODULE = pathToFileURL(join(import.meta.dirname, '..', '..', 'src', 'node', 'lock.ts')).href

/** A process that takes and releases the lock `rounds` times; prints how each try ended, as JSON. */
const churn = (path: string, rounds: number): string => `
import { acquireLock } from ${JSON.stringify(LOCK_MODULE)}
const tally = { taken: 0, inUse: 0, unreadable: 0, other: [] }
for (let i = 0; i < ${rounds}; i++) {
  try {
    const lock = await acquireLock(${JSON.stringify(path)}, 'command')
    tally.taken++
    await lock.release()
  } catch (err) {
    if (/in use by/.test(err.message)) tally.inUse++
    else if (/unreadable/.test(err.message)) tally.unreadable++
    else tally.other.push(err.message)
  }
}
process.stdout.write(JSON.stringify(tally))
`

const run = async (code: string): Promise<string> => await new Promise((resolve, reject) => {
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, 60_000)
  child.once('exit', (c) => {
    clearTimeout(timer)
    if (c === 0) resolve(out)
    else reject(new Error(`exited ${String(c)}: ${err}`))
  })
})

describe('the store lock', function () {
  this.timeout(90_000)
  let dir: string
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'oa-lock-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('taken and released by four processes at once, 300 times each: never "unreadable", always taken or in use', async () => {
    const path = join(dir, 'LOCK')
    const tallies = (await Promise.all([0, 1, 2, 3].map(async () => await run(churn(path, 300)))))
      .map((t) => JSON.parse(t) as { taken: number, inUse: number, unreadable: number, other: string[] })
    for (const t of tallies) {
      assert.deepEqual([t.unreadable, t.other], [0, []], JSON.stringify(t))
      assert.equal(t.taken + t.inUse, 300)
    }
    assert.ok(tallies.reduce((n, t) => n + t.inUse, 0) > 0, 'the processes did meet each other')
    assert.deepEqual(await lockState(path), { kind: 'gone' })
  })

  it('a lock file that does not read as one is reported unreadable, and left for a person', async () => {
    const path = join(dir, 'LOCK')
    await writeFile(path, 'not json')
    assert.deepEqual(await lockState(path), { kind: 'unreadable' })
    await assert.rejects(acquireLock(path, 'command'), (err: Error & { code?: string }) => err.code === 'STORE_LOCKED' && /unreadable/.test(err.message))
    assert.deepEqual(await lockState(path), { kind: 'unreadable' })
  })
})
