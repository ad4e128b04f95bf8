/**
 * Another user of the machine and an account directory that is not theirs (issue 18,
 * item 8): every command gives a typed error, PERMISSION_DENIED where the directory or
 * the daemon's socket is closed to them, never INTERNAL or a protocol error, and never
 * hangs. As root, the other user is `nobody` (tests that need a second user skip
 * otherwise), against directories root owns. Loopback only; every run has a timeout.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { chmod, lstat } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { CLI, LOOPBACK, parseFailure, REPO, type CliError } from './helpers.ts'
import { Persona } from './join-helpers.ts'

const NOBODY = 65534
const RUN_MS = 30_000

/**
 * Gives others the execute bit on the directories from / down to each of `paths`, where
 * missing (a checkout or a temporary folder may be private), so `nobody` can run Node and
 * this checkout and reach the account directory's parent. Returns the undo.
 */
const openTheWay = async (paths: string[]): Promise<() => Promise<void>> => {
  const dirs = new Set<string>()
  for (const p of paths) for (let d = resolve(p); ; d = dirname(d)) { dirs.add(d); if (d === dirname(d)) break }
  const changed: Array<[string, number]> = []
  for (const d of [...dirs].sort()) {
    const mode = (await lstat(d)).mode & 0o7777
    if ((mode & 0o001) === 0) {
      changed.push([d, mode])
      await chmod(d, mode | 0o001)
    }
  }
  return async () => { for (const [d, mode] of changed.reverse()) await chmod(d, mode) }
}

/** Runs the CLI as `nobody` on `dir`; it must fail with one typed error line. */
const asNobody = async (args: string[], dir: string): Promise<CliError> => {
  const started = Date.now()
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent' }
  const child = spawn(process.execPath, [CLI, ...args, '--dir', dir, '--json'], { uid: NOBODY, gid: NOBODY, cwd: '/', env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString() })
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
  const exit = await new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_MS)
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal }) })
  })
  return parseFailure({ ...exit, stdout, stderr, ms: Date.now() - started }, args)
}

/** Runs each command as `nobody`, three at a time (they only start Node and fail). */
const eachAsNobody = async (all: string[][], dir: string): Promise<Array<[string[], CliError]>> => {
  const results: Array<[string[], CliError]> = []
  for (let i = 0; i < all.length; i += 3) {
    const batch = all.slice(i, i + 3)
    const errs = await Promise.all(batch.map(async (args) => await asNobody(args, dir)))
    batch.forEach((args, j) => results.push([args, errs[j] as CliError]))
  }
  return results
}

describe('another user of the machine', function () {
  this.timeout(240_000)
  let laptop: Persona
  let undo: (() => Promise<void>) | undefined
  before(function () { if (process.getuid?.() !== 0) this.skip() })
  beforeEach(async () => { laptop = await Persona.make('laptop') })
  afterEach(async () => {
    await undo?.()
    undo = undefined
    await laptop.cleanup()
  })

  /** Every command, each a way into the account. */
  const commands = (account: string): string[][] => [
    ['get', 'k'], ['put', 'k', '1'], ['del', 'k'], ['list'], ['watch'], ['status'], ['devices'], ['revoke', 'laptop'],
    ['swarm-key'], ['invite', '--no-qr', '--listen', LOOPBACK], ['recovery', 'add'], ['passphrase', 'set'],
    ['daemon', '--listen', LOOPBACK], ['serve', account, '--listen', LOOPBACK], ['create', '--name', 'mine']
  ]

  it('gets PERMISSION_DENIED for every command, on a closed directory and on the socket of a running daemon', async () => {
    const created = await laptop.create()
    await laptop.put('k', 'mine')
    undo = await openTheWay([join(REPO, 'src'), join(REPO, 'node_modules'), dirname(process.execPath), laptop.box.root])
    const all = commands(String(created.account))

    // The account directory as it is made: 0700, nobody else may enter it.
    for (const [args, err] of await eachAsNobody(all, laptop.dir)) {
      assert.deepEqual([err.code, err.exit], ['PERMISSION_DENIED', 1], `${args.join(' ')}: ${err.message}`)
    }

    // A daemon runs, and the owner opened the directory (0711) and account.json to others: the socket is still 0600.
    await laptop.startDaemon()
    await chmod(laptop.dir, 0o711)
    await chmod(join(laptop.dir, 'account.json'), 0o644)
    // The commands that go through the socket (daemon, serve and create open the directory itself, as above).
    const throughSocket = all.filter((args) => !['daemon', 'serve', 'create', 'passphrase'].includes(args[0] as string))
    for (const [args, err] of await eachAsNobody(throughSocket, laptop.dir)) {
      assert.deepEqual([err.code, err.exit], ['PERMISSION_DENIED', 1], `${args.join(' ')}: ${err.message}`)
    }
    // The daemon served none of it, and is still there for its owner.
    assert.equal(laptop.daemon?.running, true)
    await chmod(laptop.dir, 0o700)
    assert.equal(await laptop.get('k'), 'mine')
  })
})
