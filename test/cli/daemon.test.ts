/**
 * The `orbit-account` CLI with a daemon, the store lock, and sealed keystores
 * (DESIGN.md "CLI contract"): while a daemon runs, commands on the same --dir go
 * through its socket; one process at a time holds the store.
 */
import assert from 'node:assert/strict'
import { access, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { ACCOUNT_DIR_MODULE, Sandbox, type JsonObject } from './helpers.ts'

const exists = async (path: string): Promise<boolean> => await access(path).then(() => true, () => false)

const readLockFile = async (dir: string): Promise<JsonObject> => JSON.parse(await readFile(join(dir, 'LOCK'), 'utf8')) as JsonObject

describe('orbit-account CLI with a daemon', function () {
  this.timeout(90_000)
  let cli: Sandbox
  beforeEach(async () => { cli = await Sandbox.create() })
  afterEach(async () => { await cli.cleanup() })

  it('serves the other commands while it holds the store, streams changes to watch, and stops cleanly on SIGTERM', async () => {
    const created = await cli.json(['create', '--name', 'laptop'])
    await cli.json(['put', 'before', '"written without a daemon"'])

    const { daemon, ready } = await cli.startDaemon()
    assert.deepEqual(Object.keys(ready).sort(), ['addrs', 'peerId', 'ready'])
    assert.equal(ready.ready, true)
    assert.ok(typeof ready.peerId === 'string' && ready.peerId.length > 0)
    assert.ok(Array.isArray(ready.addrs) && ready.addrs.length > 0, `addrs: ${JSON.stringify(ready.addrs)}`)
    for (const addr of ready.addrs) assert.match(String(addr), /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//)
    // The daemon holds the store: a command could not open it itself.
    assert.deepEqual(await readLockFile(cli.dir).then((l) => [l.pid, l.role]), [daemon.proc.pid, 'daemon'])
    const socket = join(cli.dir, 'daemon.sock')
    assert.ok(await exists(socket))

    const watch = cli.spawn(['watch'])
    await watch.waitForLine('stderr', (l) => l === `watching ${String(created.account)}`, 20_000)

    assert.deepEqual(await cli.json(['get', 'before']), { key: 'before', value: 'written without a daemon', found: true })
    assert.deepEqual(await cli.json(['put', 'greeting', '{"hello":"world"}']), { key: 'greeting', value: { hello: 'world' } })
    assert.deepEqual(await cli.json(['get', 'greeting']), { key: 'greeting', value: { hello: 'world' }, found: true })
    assert.deepEqual(await cli.json(['get', 'missing']), { key: 'missing', value: null, found: false })
    assert.deepEqual(await cli.json(['put', 'piped', '-'], { input: '[1,2,3]' }), { key: 'piped', value: [1, 2, 3] })
    assert.deepEqual(await cli.json(['del', 'greeting']), { key: 'greeting', deleted: true })
    assert.deepEqual(await cli.json(['put', 'greeting', '"again"']), { key: 'greeting', value: 'again' })
    assert.deepEqual(await cli.json(['list']), { entries: { before: 'written without a daemon', greeting: 'again', piped: [1, 2, 3] } })
    assert.deepEqual(await cli.json(['list', '--prefix', 'p']), { entries: { piped: [1, 2, 3] } })
    assert.deepEqual(await cli.json(['status']), {
      account: created.account, device: created.device, name: 'laptop', status: 'active', mode: 'encrypted', epoch: 0, peers: []
    })
    assert.deepEqual(await cli.json(['devices']), {
      device: created.device,
      devices: [{ device: created.device, name: 'laptop', role: 'admin', status: 'active', addedBy: null }]
    })
    // Errors from the daemon come back the same way, and it keeps serving.
    assert.equal((await cli.fail(['put', 'big', '-'], { input: JSON.stringify('x'.repeat(256 * 1024)) })).code, 'VALUE_TOO_LARGE')
    assert.equal((await cli.fail(['put', 'k', 'nope'])).code, 'INVALID_JSON')
    assert.equal((await cli.fail(['create', '--name', 'again'])).code, 'ACCOUNT_EXISTS')

    const changes = (await watch.waitForLines('stdout', 4, 20_000)).map((l) => JSON.parse(l) as JsonObject)
    assert.deepEqual(changes, [
      { key: 'greeting', value: { hello: 'world' }, op: 'put' },
      { key: 'piped', value: [1, 2, 3], op: 'put' },
      { key: 'greeting', value: null, op: 'del' },
      { key: 'greeting', value: 'again', op: 'put' }
    ])
    assert.deepEqual(await watch.stop(), { code: 0, signal: null })
    assert.equal(daemon.running, true, 'the daemon outlives a watch client')

    daemon.proc.kill('SIGTERM')
    assert.deepEqual(await daemon.waitForExit(15_000), { code: 0, signal: null })
    assert.equal(await exists(socket), false, 'the daemon removed its socket')
    assert.equal(await exists(join(cli.dir, 'LOCK')), false, 'the daemon released the store lock')

    // Without the daemon, commands open the store themselves and see what went through it.
    assert.deepEqual(await cli.json(['list']), { entries: { before: 'written without a daemon', greeting: 'again', piped: [1, 2, 3] } })
  })
})

describe('orbit-account CLI store lock', function () {
  this.timeout(90_000)
  let cli: Sandbox
  beforeEach(async () => { cli = await Sandbox.create() })
  afterEach(async () => { await cli.cleanup() })

  it('a second daemon on the same --dir fails with STORE_LOCKED and the first keeps serving', async () => {
    await cli.json(['create', '--name', 'laptop'])
    const { daemon } = await cli.startDaemon()
    const second = await cli.fail(['daemon', '--listen', '/ip4/127.0.0.1/tcp/0'])
    assert.equal(second.code, 'STORE_LOCKED')
    assert.equal(daemon.running, true)
    assert.equal((await readLockFile(cli.dir)).pid, daemon.proc.pid)
    assert.ok(await exists(join(cli.dir, 'daemon.sock')), 'the failed daemon left the socket alone')
    assert.deepEqual(await cli.json(['put', 'k', '1']), { key: 'k', value: 1 })
    assert.deepEqual(await cli.json(['get', 'k']), { key: 'k', value: 1, found: true })
  })

  it('a stale lock left by a SIGKILLed daemon does not block the next command', async () => {
    await cli.json(['create', '--name', 'laptop'])
    await cli.json(['put', 'early', '"local"'])
    const { daemon } = await cli.startDaemon()
    await cli.json(['put', 'late', '"through the daemon"'])
    daemon.proc.kill('SIGKILL')
    assert.deepEqual(await daemon.waitForExit(10_000), { code: null, signal: 'SIGKILL' })
    // It left its lock (and socket) behind.
    assert.equal((await readLockFile(cli.dir)).pid, daemon.proc.pid)

    assert.deepEqual(await cli.json(['list']), { entries: { early: 'local', late: 'through the daemon' } })
    assert.deepEqual(await cli.json(['put', 'after', 'true']), { key: 'after', value: true })
    assert.deepEqual(await cli.json(['get', 'late']), { key: 'late', value: 'through the daemon', found: true })
  })

  it('a store held by another (non-daemon) process gives STORE_LOCKED after a short wait, and is intact afterwards', async () => {
    await cli.json(['create', '--name', 'laptop'])
    await cli.json(['put', 'k', '{"v":1}'])
    const script = join(cli.root, 'hold.mts')
    await writeFile(script, [
      `import { openAccount } from ${JSON.stringify(pathToFileURL(ACCOUNT_DIR_MODULE).href)}`,
      'const account = await openAccount({ dir: process.argv[2] })',
      "console.log('open')",
      'process.stdin.resume()',
      "await new Promise((resolve) => process.stdin.on('end', resolve))",
      'await account.close()',
      "console.log('closed')",
      ''
    ].join('\n'))
    const holder = cli.spawnScript(script, [cli.dir], { label: 'lock holder' })
    await holder.waitForLine('stdout', (l) => l === 'open', 30_000)

    // A command waits a few seconds for the store (another command may be about to finish), then gives up.
    const started = Date.now()
    const [locked, put] = await Promise.all([cli.fail(['get', 'k'], { timeoutMs: 30_000 }), cli.fail(['put', 'k', '2'], { timeoutMs: 30_000 })])
    assert.equal(locked.code, 'STORE_LOCKED')
    assert.equal(put.code, 'STORE_LOCKED')
    assert.ok(Date.now() - started < 25_000, `STORE_LOCKED took ${Date.now() - started} ms`)

    // A lock file that names a dead process while the store is really open (a reused
    // or forged pid): the store's own files still refuse, and the answer is STORE_LOCKED.
    const lockPath = join(cli.dir, 'LOCK')
    const realLock = await readFile(lockPath, 'utf8')
    await writeFile(lockPath, JSON.stringify({ pid: 999999, role: 'command', since: 'x' }))
    assert.equal((await cli.fail(['get', 'k'], { timeoutMs: 25_000 })).code, 'STORE_LOCKED')
    await writeFile(lockPath, realLock)

    holder.proc.stdin?.end()
    assert.deepEqual(await holder.waitForExit(15_000), { code: 0, signal: null })
    assert.deepEqual(holder.lines.stdout.filter((l) => l !== ''), ['open', 'closed'])
    assert.deepEqual(await cli.json(['list']), { entries: { k: { v: 1 } } })
  })
})

describe('orbit-account CLI with a sealed keystore', function () {
  this.timeout(90_000)
  let cli: Sandbox
  beforeEach(async () => { cli = await Sandbox.create() })
  afterEach(async () => { await cli.cleanup() })

  it('create seals the keys under ORBIT_ACCOUNT_PASSPHRASE; later commands need that passphrase', async () => {
    const passphrase = 'correct horse battery staple'
    const created = await cli.json(['create', '--name', 'laptop'], { env: { ORBIT_ACCOUNT_PASSPHRASE: passphrase } })
    assert.equal(created.name, 'laptop')

    const text = await readFile(join(cli.dir, 'keys.json'), 'utf8')
    const keystore = JSON.parse(text) as JsonObject
    assert.equal(keystore.sealed, true)
    assert.equal('secrets' in keystore, false)
    assert.doesNotMatch(text, /secretKey|publicKey|laptop/)

    assert.equal((await cli.fail(['get', 'k'])).code, 'PASSPHRASE_REQUIRED')
    assert.equal((await cli.fail(['get', 'k'], { env: { ORBIT_ACCOUNT_PASSPHRASE: 'wrong horse' } })).code, 'WRONG_PASSPHRASE')

    const file = join(cli.root, 'passphrase.txt')
    await writeFile(file, passphrase + '\n', { mode: 0o600 })
    assert.deepEqual(await cli.json(['put', 'k', '"sealed"', '--passphrase-file', file]), { key: 'k', value: 'sealed' })
    assert.deepEqual(await cli.json(['get', 'k'], { env: { ORBIT_ACCOUNT_PASSPHRASE: passphrase } }), { key: 'k', value: 'sealed', found: true })
  })
})
