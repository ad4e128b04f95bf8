/**
 * `orbit-account serve <account-address>` with the real CLI, each party in its own
 * process and directory: a blind replica carries a write from the laptop to the phone
 * when the two are never online together, keeps no plaintext on its disk, and refuses
 * bad command lines and a second process on its directory. Loopback only.
 */
import assert from 'node:assert/strict'
import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { LOOPBACK, Sandbox, type Json, type JsonObject, type Running } from './helpers.ts'
import { errorOf, eventually, Persona, sleep } from './join-helpers.ts'

const MARKER_KEY = `servekey-${Math.random().toString(36).slice(2, 10)}`
const MARKER_VALUE = `servevalue-${Math.random().toString(36).slice(2, 10)}`

/** Every file under `dir`, read as bytes, concatenated. */
const allBytes = async (dir: string): Promise<Buffer> => {
  const parts: Buffer[] = []
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) parts.push(await readFile(join(entry.parentPath, entry.name)))
  }
  return Buffer.concat(parts)
}

/** Total size of the files under `dir`. */
const dirSize = async (dir: string): Promise<number> => {
  let total = 0
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) total += await stat(join(entry.parentPath, entry.name)).then((s) => s.size, () => 0)
  }
  return total
}

const readyOf = (line: string): JsonObject => {
  const ready = JSON.parse(line) as JsonObject
  assert.equal(ready.ready, true)
  assert.equal(typeof ready.peerId, 'string')
  assert.ok(Array.isArray(ready.addrs) && ready.addrs.length > 0, line)
  for (const a of ready.addrs) assert.ok(String(a).startsWith('/ip4/127.0.0.1/tcp/'), `listens on ${String(a)}`)
  return ready
}

/** A dialable address (with /p2p/) out of a ready line. */
const dialable = (ready: JsonObject): string => {
  const addrs = ready.addrs as Json[]
  const a = String(addrs[0])
  return a.includes('/p2p/') ? a : `${a}/p2p/${String(ready.peerId)}`
}

/** `serve <address> --listen <loopback> ...extra` in `box`, once it printed its ready line. */
const startServe = async (box: Sandbox, address: string, extra: string[] = []): Promise<{ proc: Running, ready: JsonObject }> => {
  const proc = box.spawn(['serve', address, '--listen', LOOPBACK, ...extra])
  const line = await proc.waitForLine('stdout', (l) => l.startsWith('{') && l.includes('"ready"'), 60_000)
  return { proc, ready: readyOf(line) }
}

/** Like Persona.startDaemon, with `--peer` addresses. */
const startDaemonWithPeers = async (p: Persona, peers: string[]): Promise<JsonObject> => {
  assert.equal(p.daemon?.running ?? false, false, `${p.name} already runs a daemon`)
  const daemon = p.box.spawn(['daemon', '--listen', LOOPBACK, ...peers.flatMap((a) => ['--peer', a])])
  p.daemon = daemon
  return readyOf(await daemon.waitForLine('stdout', (l) => l.startsWith('{') && l.includes('"ready"'), 60_000))
}

describe('serve: a blind replica between devices that are never online together', function () {
  this.timeout(150_000)
  let laptop: Persona
  let phone: Persona
  let replicaBox: Sandbox
  /** A second replica's directory (the private-account test runs one without the swarm key). */
  let keylessBox: Sandbox
  beforeEach(async () => {
    laptop = await Persona.make('laptop')
    phone = await Persona.make('phone')
    replicaBox = await Sandbox.create()
    keylessBox = await Sandbox.create()
  })
  afterEach(async () => { await Promise.all([laptop.cleanup(), phone.cleanup(), replicaBox.cleanup(), keylessBox.cleanup()]) })

  it('hands the laptop\'s write to the phone, and keeps no marker in its directory', async () => {
    await laptop.create()
    await laptop.startDaemon()
    const shown = await laptop.openInvite()
    await phone.join(shown.invite)
    await shown.admitted()
    assert.equal(phone.daemon, undefined, 'the phone runs no daemon')
    const account = String((await laptop.box.json(['status'])).account)
    assert.match(account, /^\/orbitdb\/zdpu/)
    await laptop.stopDaemon()

    // The replica, then the laptop's daemon pointed at it.
    const serve = await startServe(replicaBox, account)
    const replicaAddr = dialable(serve.ready)
    await startDaemonWithPeers(laptop, [replicaAddr])
    const replicating = await serve.proc.waitForLine('stderr', (l) => l.startsWith('replicating '), 45_000)
    // The epoch in this line is checked by 'serve: the replicating line' (it says null today).
    assert.match(replicating, /^replicating \S+ \(epoch (\d+|null)\)$/)
    assert.equal(replicating.split(' ')[1], account)
    assert.ok(!serve.proc.lines.stdout.some((l) => l.includes('"error"')), serve.proc.describe())

    // The laptop writes; stop it only once the replica has stored something new.
    await sleep(1500)
    const before = await dirSize(replicaBox.dir)
    await laptop.put(MARKER_KEY, MARKER_VALUE)
    await laptop.put('plain/key', { note: MARKER_VALUE })
    await eventually('the replica\'s directory to grow after the write', async () => await dirSize(replicaBox.dir), (n) => n > before, 20_000)
    await sleep(4000)
    // The laptop remembers the replica it met.
    await eventually('the laptop to remember the replica', async () => await laptop.networkMemory(),
      (m) => m.peers.some((p) => p.endsWith(`/p2p/${String(serve.ready.peerId)}`)), 15_000)
    await laptop.stopDaemon()

    // The phone comes online only now, and meets only the replica.
    await startDaemonWithPeers(phone, [replicaAddr])
    assert.equal(laptop.daemon, undefined)
    await eventually('the phone to read the laptop\'s write through the replica', async () => await phone.get(MARKER_KEY), (v) => v === MARKER_VALUE, 30_000)
    assert.deepEqual(await phone.get('plain/key'), { note: MARKER_VALUE })
    await phone.stopDaemon()

    // The replica stops cleanly, and kept no plaintext.
    serve.proc.proc.kill('SIGTERM')
    assert.deepEqual(await serve.proc.waitForExit(15_000), { code: 0, signal: null }, serve.proc.describe())
    const printed = [...serve.proc.lines.stdout, ...serve.proc.lines.stderr].join('\n')
    const stored = await allBytes(replicaBox.dir)
    assert.ok(stored.length > 1000, `the replica stored ${stored.length} bytes`)
    for (const marker of [MARKER_KEY, MARKER_VALUE]) {
      assert.equal(stored.includes(marker), false, `${marker} in the replica's directory`)
      assert.equal(printed.includes(marker), false, `${marker} in the replica's output`)
    }
  })

  it('joins by an invite that carries the swarm key; a replica given `swarm-key` carries a write, one without it gets nothing', async () => {
    const created = await laptop.create('private')
    assert.equal(created.mode, 'private')
    const swarm = await laptop.box.json(['swarm-key'])
    assert.match(String(swarm.swarmKey), /^[0-9a-f]{64}$/)
    assert.equal(swarm.epoch, 0)
    const laptopReady = await laptop.startDaemon()
    const shown = await laptop.openInvite()
    const joined = await phone.join(shown.invite)
    await shown.admitted()
    assert.equal((await phone.box.json(['status'])).mode, 'private')
    assert.deepEqual(await phone.box.json(['swarm-key']), swarm, 'the phone took the swarm key from the invite')
    const account = String(joined.account)

    const keyless = await startServe(keylessBox, account, ['--peer', dialable(laptopReady)])
    // The key in an owner-only file, as `swarm-key` says: never on the command line.
    const keyFile = join(replicaBox.root, 'swarm.key')
    await writeFile(keyFile, `${String(swarm.swarmKey)}\n`, { mode: 0o600 })
    const serve = await startServe(replicaBox, account, ['--peer', dialable(laptopReady), '--swarm-key-file', keyFile])
    await serve.proc.waitForLine('stderr', (l) => l.startsWith('replicating '), 45_000)
    await laptop.put(MARKER_KEY, MARKER_VALUE)
    await sleep(4000)
    await laptop.stopDaemon()
    assert.equal(keyless.proc.lines.stderr.some((l) => l.startsWith('replicating ')), false, keyless.proc.describe())

    await startDaemonWithPeers(phone, [dialable(serve.ready)])
    await eventually('the phone to read the laptop\'s write through the replica', async () => await phone.get(MARKER_KEY), (v) => v === MARKER_VALUE, 30_000)
    await phone.stopDaemon()
    for (const s of [serve, keyless]) {
      s.proc.proc.kill('SIGTERM')
      assert.deepEqual(await s.proc.waitForExit(15_000), { code: 0, signal: null }, s.proc.describe())
    }
  })
})

describe('serve: the replicating line', function () {
  this.timeout(90_000)
  let laptop: Persona
  let replicaBox: Sandbox
  beforeEach(async () => {
    laptop = await Persona.make('laptop')
    replicaBox = await Sandbox.create()
  })
  afterEach(async () => { await Promise.all([laptop.cleanup(), replicaBox.cleanup()]) })

  it('given --peer <laptop>, names the account and the epoch it fetched from the laptop (epoch 0)', async () => {
    const created = await laptop.create()
    const account = String(created.account)
    await laptop.put('k', 'v')
    const laptopReady = await laptop.startDaemon()
    const serve = await startServe(replicaBox, account, ['--peer', dialable(laptopReady)])
    const replicating = await serve.proc.waitForLine('stderr', (l) => l.startsWith('replicating '), 45_000)
    assert.equal(replicating, `replicating ${account} (epoch 0)`, serve.proc.describe())
    serve.proc.proc.kill('SIGTERM')
    assert.deepEqual(await serve.proc.waitForExit(15_000), { code: 0, signal: null }, serve.proc.describe())
  })
})

describe('serve: bad input', function () {
  this.timeout(90_000)
  let laptop: Persona
  let replicaBox: Sandbox
  beforeEach(async () => {
    laptop = await Persona.make('laptop')
    replicaBox = await Sandbox.create()
  })
  afterEach(async () => { await Promise.all([laptop.cleanup(), replicaBox.cleanup()]) })

  it('refuses a non-address, a garbage --peer, and a second serve on the same directory', async () => {
    const created = await laptop.create()
    const account = String(created.account)

    const notAddress = await replicaBox.fail(['serve', 'not-an-address', '--listen', LOOPBACK])
    assert.equal(notAddress.code, 'INVALID_ARGUMENT', notAddress.message)
    assert.equal(notAddress.exit, 2)

    const badPeer = await replicaBox.fail(['serve', account, '--listen', LOOPBACK, '--peer', 'garbage'])
    assert.equal(badPeer.code, 'INVALID_ARGUMENT', badPeer.message)
    assert.equal(badPeer.exit, 2)

    const first = await startServe(replicaBox, account)
    const second = replicaBox.spawn(['serve', account, '--listen', LOOPBACK])
    second.proc.stdin?.end()
    const exit = await second.waitForExit(30_000)
    assert.deepEqual(exit, { code: 1, signal: null }, second.describe())
    assert.deepEqual(second.lines.stdout.filter((l) => l.length > 0), [], second.describe())
    assert.equal(errorOf(second).code, 'STORE_LOCKED')
    assert.equal(first.proc.running, true, 'the first replica keeps running')
    first.proc.proc.kill('SIGTERM')
    assert.deepEqual(await first.proc.waitForExit(15_000), { code: 0, signal: null }, first.proc.describe())
  })
})
