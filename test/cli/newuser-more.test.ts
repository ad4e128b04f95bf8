/**
 * What a new user tripped over, the rest (issue 15, items 6, 13, 15, 16): a replica of a
 * private account started without its swarm key says once what to do; the passphrase
 * asked on a terminal, added, changed and removed later; peers.json keeps no wildcard
 * address and forgets a revoked device; `status` names the devices it is connected to.
 * Real processes, loopback only; every wait has a timeout.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { lpStream } from '@libp2p/utils'
import { CLI, LOOPBACK, Sandbox, type JsonObject, type Running } from './helpers.ts'
import { eventually, Persona, sleep } from './join-helpers.ts'
import { startNode } from '../../src/network/node.ts'
import { checkProof } from '../../src/node/peer-devices.ts'
import { PEER_DEVICE_PROTOCOL } from '../../src/network/peer-device-answer.ts'
import { generateDeviceKeys, deviceIdFromSigningKey, signBytes } from '../../identity/keys.ts'
import { base64urlEncode, utf8Encode } from '../../src/crypto/bytes.ts'

/** `serve <address> --listen <loopback> ...extra` in `box`, once it printed its ready line. */
const startServe = async (box: Sandbox, address: string, extra: string[] = []): Promise<Running> => {
  const proc = box.spawn(['serve', address, '--listen', LOOPBACK, ...extra])
  await proc.waitForLine('stdout', (l) => l.startsWith('{') && l.includes('"ready"'), 60_000)
  return proc
}

/** A daemon's first address, dialable (with /p2p/). */
const dialable = (ready: JsonObject): string => {
  const a = String((ready.addrs as string[])[0])
  return a.includes('/p2p/') ? a : `${a}/p2p/${String(ready.peerId)}`
}

/**
 * Runs the CLI under `script`, so that its stdin is a terminal; types `typed` (each
 * followed by Enter) as each `prompt` appears. Resolves with the exit code and what
 * the terminal showed.
 */
const atTerminal = async (args: string[], answers: Array<{ prompt: RegExp, typed: string }>): Promise<{ code: number | null, screen: string }> =>
  await new Promise((resolve, reject) => {
    const env = { ...process.env }
    delete env.ORBIT_ACCOUNT_PASSPHRASE
    delete env.ORBIT_ACCOUNT_NEW_PASSPHRASE
    const command = [process.execPath, CLI, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ')
    const child = spawn('script', ['-qfec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env })
    let screen = ''
    let next = 0
    let answered = 0
    child.stdout.on('data', (c: Buffer) => {
      screen += c.toString()
      const answer = answers[next]
      if (answer !== undefined && answer.prompt.test(screen.slice(answered))) {
        answered = screen.length
        next++
        child.stdin.write(`${answer.typed}\r`)
      }
    })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`script timed out; the terminal showed:\n${screen}`)) }, 30_000)
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, screen: screen.replaceAll('\r', '') }) })
  })

/** The JSON lines a terminal showed. */
const jsonOn = (screen: string): JsonObject[] =>
  screen.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as JsonObject)

describe('new user: the passphrase (item 13)', function () {
  this.timeout(120_000)
  let cli: Sandbox
  beforeEach(async () => { cli = await Sandbox.create() })
  afterEach(async () => { await cli.cleanup() })

  it('is added, changed and removed later; asked on a terminal; a script without one gets PASSPHRASE_REQUIRED', async () => {
    const created = await cli.json(['create', '--name', 'laptop', '--no-recovery'])
    const keystore = join(cli.dir, 'keys.json')
    const sealed = async (): Promise<boolean> => (JSON.parse(await readFile(keystore, 'utf8')) as { sealed: boolean }).sealed
    const file = async (name: string, text: string): Promise<string> => {
      const path = join(cli.root, name)
      await writeFile(path, text, { mode: 0o600 })
      return path
    }

    // Adding one: no new passphrase anywhere and no terminal is a usage error, nothing changed.
    const none = await cli.fail(['passphrase', 'set'])
    assert.deepEqual([none.exit, none.code], [2, 'INVALID_ARGUMENT'])
    assert.match(none.message, /--new-passphrase-file/)
    assert.equal(await sealed(), false)
    // From the variable, its trailing newline stripped as everywhere.
    assert.deepEqual(await cli.json(['passphrase', 'set'], { env: { ORBIT_ACCOUNT_NEW_PASSPHRASE: 'first one\n' } }), { sealed: true, keystore })
    assert.equal(await sealed(), true)
    assert.equal((await stat(keystore)).mode & 0o777, 0o600)
    // A script with no passphrase is told so (no prompt when stdin is not a terminal).
    assert.equal((await cli.fail(['get', 'k'])).code, 'PASSPHRASE_REQUIRED')
    await cli.json(['put', 'k', '"v"'], { env: { ORBIT_ACCOUNT_PASSPHRASE: 'first one' } })

    // Changing it: the current one from --passphrase-file, the new one from --new-passphrase-file.
    const oldFile = await file('old', 'first one\n')
    assert.deepEqual(await cli.json(['passphrase', 'set', '--passphrase-file', oldFile, '--new-passphrase-file', await file('new', 'second one\n')]), { sealed: true, keystore })
    // The old one opens nothing any more, whether to read or to change it again.
    assert.equal((await cli.fail(['get', 'k', '--passphrase-file', oldFile])).code, 'WRONG_PASSPHRASE')
    assert.equal((await cli.fail(['passphrase', 'remove', '--passphrase-file', oldFile])).code, 'WRONG_PASSPHRASE')
    assert.equal(await sealed(), true)

    // At a terminal, with no source: asked for, and not echoed.
    const read = await atTerminal(['get', 'k', '--dir', cli.dir, '--json'], [{ prompt: /Passphrase of \S+keys\.json: /, typed: 'second one' }])
    assert.equal(read.code, 0, read.screen)
    assert.deepEqual(jsonOn(read.screen), [{ key: 'k', value: 'v', found: true }])
    assert.equal(read.screen.includes('second one'), false, `the passphrase was echoed:\n${read.screen}`)
    // A wrong one typed there is WRONG_PASSPHRASE.
    // With no saved state to answer from, the store is opened: the passphrase is still asked once.
    await rm(join(cli.dir, 'state'), { recursive: true, force: true })
    const opened = await atTerminal(['get', 'k', '--dir', cli.dir, '--json'], [{ prompt: /Passphrase of /, typed: 'second one' }])
    assert.equal(opened.code, 0, opened.screen)
    assert.deepEqual(jsonOn(opened.screen), [{ key: 'k', value: 'v', found: true }])
    assert.equal(opened.screen.match(/Passphrase of /g)?.length, 1, opened.screen)
    const wrong = await atTerminal(['get', 'k', '--dir', cli.dir, '--json'], [{ prompt: /Passphrase of /, typed: 'first one' }])
    assert.equal(wrong.code, 1, wrong.screen)
    assert.match(wrong.screen, /"code":"WRONG_PASSPHRASE"/)

    // Changing it at the terminal: the current one, then the new one twice (two that differ change nothing).
    const differ = await atTerminal(['passphrase', 'set', '--dir', cli.dir, '--json'], [
      { prompt: /Passphrase of /, typed: 'second one' }, { prompt: /New passphrase: /, typed: 'third' }, { prompt: /The same again: /, typed: 'thrid' }])
    assert.equal(differ.code, 2, differ.screen)
    assert.match(differ.screen, /differ/)
    const changed = await atTerminal(['passphrase', 'set', '--dir', cli.dir, '--json'], [
      { prompt: /Passphrase of /, typed: 'second one' }, { prompt: /New passphrase: /, typed: 'third one' }, { prompt: /The same again: /, typed: 'third one' }])
    assert.equal(changed.code, 0, changed.screen)
    assert.equal(changed.screen.includes('third one'), false, changed.screen)

    // Removing it (the current one typed at the terminal): a script then needs none, and the device is the same.
    const removed = await atTerminal(['passphrase', 'remove', '--dir', cli.dir, '--json'], [{ prompt: /Passphrase of /, typed: 'third one' }])
    assert.equal(removed.code, 0, removed.screen)
    assert.deepEqual(jsonOn(removed.screen), [{ sealed: false, keystore }])
    assert.equal(await sealed(), false)
    assert.equal((await stat(keystore)).mode & 0o777, 0o600)
    assert.deepEqual(await cli.json(['get', 'k']), { key: 'k', value: 'v', found: true })
    assert.equal((JSON.parse(await readFile(keystore, 'utf8')) as { secrets: { device: string } }).secrets.device, created.device)
    // Removing none is said, not an error.
    const again = await cli.run(['passphrase', 'remove'])
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stderr, /had no passphrase/)
  })
})

describe('new user: a private replica without its swarm key (item 6)', function () {
  this.timeout(120_000)
  let laptop: Persona
  let replica: Sandbox
  beforeEach(async () => {
    laptop = await Persona.make('laptop')
    replica = await Sandbox.create()
  })
  afterEach(async () => { await Promise.all([laptop.cleanup(), replica.cleanup()]) })

  it('names --swarm-key and `orbit-account swarm-key`, once, instead of repeating "Failed to load block"', async () => {
    const created = await laptop.create('private')
    const ready = await laptop.startDaemon()
    const serve = await startServe(replica, String(created.account), ['--peer', dialable(ready)])
    const hint = await serve.waitForLine('stderr', (l) => /--swarm-key/.test(l), 30_000)
    assert.match(hint, /orbit-account swarm-key/)
    // Another round of fetching (a 10 s timeout, then 2 s) goes by without a word.
    await sleep(14_000)
    const said = serve.lines.stderr.filter((l) => l.length > 0)
    assert.equal(said.filter((l) => /swarm-key/.test(l)).length, 1, serve.describe())
    assert.equal(said.some((l) => /Failed to load block/.test(l)), false, serve.describe())
    assert.equal(said.length, 1, serve.describe())
    assert.deepEqual(await serve.stop(), { code: 0, signal: null })
  })
})

describe('new user: peers, by name, and forgotten when revoked (items 15, 16)', function () {
  this.timeout(240_000)
  let laptop: Persona
  let phone: Persona
  let replica: Sandbox
  beforeEach(async () => {
    laptop = await Persona.make('laptop')
    phone = await Persona.make('phone')
    replica = await Sandbox.create()
  })
  afterEach(async () => { await Promise.all([laptop.cleanup(), phone.cleanup(), replica.cleanup()]) })

  it('status shows the phone by name and the replica as "replica or other"; peers.json keeps no wildcard and forgets the revoked phone', async () => {
    const created = await laptop.create()
    // An address an older version kept from an invite listening on every interface.
    const wildcard = '/ip4/0.0.0.0/tcp/4001/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp'
    await writeFile(join(laptop.dir, 'peers.json'), JSON.stringify({ listen: [], peers: [wildcard, wildcard.replace('/ip4/0.0.0.0', '/ip6/::')] }), { mode: 0o600 })
    const laptopReady = await laptop.startDaemon()
    const shown = await laptop.openInvite()
    await phone.join(shown.invite)
    await shown.admitted()
    const phoneReady = await phone.startDaemon()
    const serve = await startServe(replica, String(created.account), ['--peer', dialable(laptopReady)])

    type Row = { peerId: string, device: string | null, name: string | null }
    const status = await eventually('the laptop to see the phone and the replica', async () => await laptop.box.json(['status']),
      (s) => (s.peers as Row[]).length === 2 && (s.peers as Row[]).some((p) => p.name === 'phone'), 120_000)
    const rows = status.peers as Row[]
    assert.deepEqual(rows.find((p) => p.peerId === phoneReady.peerId), { peerId: phoneReady.peerId, device: phone.device, name: 'phone', status: 'active' })
    const other = rows.find((p) => p.peerId !== phoneReady.peerId)
    assert.deepEqual(other, { peerId: other?.peerId, device: null, name: null })
    // For a person: names, and what is not a device of the account.
    const human = await laptop.box.run(['status'], { human: true })
    assert.match(human.stdout, new RegExp(`phone \\(device ${phone.device}\\)  peer ${String(phoneReady.peerId)}`))
    assert.match(human.stdout, new RegExp(`replica or other  peer ${String(other?.peerId)}`))
    // The phone, a one-shot command with no daemon there either, names the laptop (--sync: it
    // goes online first; without it, a read with no daemon answers from the saved state).
    await phone.stopDaemon()
    assert.deepEqual((await phone.box.json(['status'])).peers, [])
    const fromPhone = await eventually('the phone to name the laptop', async () => await phone.box.json(['status', '--sync']),
      (s) => (s.peers as Row[]).some((p) => p.name === 'laptop'), 20_000)
    assert.equal((fromPhone.peers as Row[]).find((p) => p.name === 'laptop')?.device, laptop.device)

    // A stranger that connects (it never synced the registry) is not told which device the laptop is.
    const stranger = await startNode({ directory: join(replica.root, 'stranger'), listen: [] })
    try {
      const asked = await stranger.libp2p.dialProtocol(multiaddr(dialable(laptopReady)), PEER_DEVICE_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
      await assert.rejects(lpStream(asked, { maxDataLength: 1024 }).read({ signal: AbortSignal.timeout(10_000) }))
    } finally {
      await stranger.stop()
    }

    // No wildcard address is kept, anywhere.
    const memory = await laptop.networkMemory() as { peers: string[], devices?: Record<string, { device: string, name: string }> }
    for (const p of [laptop, phone]) {
      const text = await readFile(join(p.dir, 'peers.json'), 'utf8')
      assert.equal(/\/ip4\/0\.0\.0\.0\/|\/ip6\/::\//.test(text.replace(/"listen": \[[^\]]*\]/, '')), false, `${p.name}'s peers.json: ${text}`)
    }
    assert.deepEqual(memory.devices?.[String(phoneReady.peerId)], { device: phone.device, name: 'phone' })
    assert.ok(memory.peers.some((a) => a.endsWith(`/p2p/${String(phoneReady.peerId)}`)), JSON.stringify(memory))

    // The phone is revoked (and comes back online): the laptop forgets its addresses and does not learn them again.
    await phone.startDaemon()
    const revoked = await laptop.box.run(['revoke', 'phone'], { timeoutMs: 60_000 })
    assert.equal(revoked.code, 0, revoked.stderr)
    const forgotten = (m: { peers: string[], devices?: Record<string, unknown> }): boolean =>
      !m.peers.some((a) => a.endsWith(`/p2p/${String(phoneReady.peerId)}`)) && m.devices?.[String(phoneReady.peerId)] === undefined
    await eventually('the laptop to forget the revoked phone', async () => await laptop.networkMemory(), forgotten, 15_000)
    await sleep(4000)
    const later = await laptop.networkMemory()
    assert.ok(forgotten(later), JSON.stringify(later))
    // Only the revoked device: the replica is still remembered.
    assert.ok(later.peers.some((a) => a.endsWith(`/p2p/${String(other?.peerId)}`)), JSON.stringify(later))
    assert.deepEqual(await serve.stop(), { code: 0, signal: null })
  })
})

describe('peer devices: a proof names one peer id', function () {
  it('is refused for another peer id (replayed), and when the key is not the device id\'s', async () => {
    const keys = generateDeviceKeys()
    const device = deviceIdFromSigningKey(keys.signing.publicKey)
    const peerId = '12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp'
    const sign = (id: string): string => base64urlEncode(signBytes(keys.signing.secretKey, utf8Encode(`orbit-account/peer-device/v1\n${id}`)))
    const proof = { device, signingKey: base64urlEncode(keys.signing.publicKey), sig: sign(peerId) }
    assert.equal(await checkProof(proof, peerId), device)
    assert.equal(await checkProof(proof, '12D3KooWJZh3tPq4ToVmrTcZtNjJAkxzm4df5MAUJojc2T5WKCd5'), undefined)
    const other = deviceIdFromSigningKey(generateDeviceKeys().signing.publicKey)
    assert.equal(await checkProof({ ...proof, device: other }, peerId), undefined)
  })
})
