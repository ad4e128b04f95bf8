/**
 * Secrets stay off the command line (issue 18, item 4): every user of the machine reads
 * every process's command line (`ps`, /proc/<pid>/cmdline). A private account's swarm
 * key reaches `daemon` and `serve` from an owner-only file, $ORBIT_ACCOUNT_SWARM_KEY or
 * stdin, and `join -` reads the invite from stdin; a swarm key on argv is refused before
 * anything starts. The attacker here is the `ps` view itself: it is sampled the whole
 * time the private daemon, the replica, the join and the new device's daemon run.
 * Loopback only; every wait has a timeout.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { chmod, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CLI, LOOPBACK, Sandbox, parseFailure, type JsonObject, type Running } from './helpers.ts'
import { eventually, jsonLines, Persona } from './join-helpers.ts'
import { parseInvite } from '../../src/invite/invite.ts'

/** Every process's command line, as `ps` shows it to any user: pid -> arguments joined by spaces. */
const commandLines = async (): Promise<Map<number, string>> => {
  const seen = new Map<number, string>()
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      seen.set(Number(name), (await readFile(`/proc/${name}/cmdline`, 'utf8')).split('\0').join(' '))
    } catch {
      // gone meanwhile
    }
  }
  return seen
}

/** Samples every command line until stopped; `lines()` is every distinct one seen, by pid. */
const watchPs = (): { stop: () => Promise<Map<number, Set<string>>> } => {
  const all = new Map<number, Set<string>>()
  let running = true
  const loop = (async () => {
    while (running) {
      for (const [pid, line] of await commandLines()) {
        const lines = all.get(pid) ?? new Set<string>()
        lines.add(line)
        all.set(pid, lines)
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  })()
  return { stop: async () => { running = false; await loop; return all } }
}

/** The ways a secret could be spelled on a command line. */
const spellings = (bytes: Uint8Array): string[] => {
  const b = Buffer.from(bytes)
  return [b.toString('hex'), b.toString('hex').toUpperCase(), b.toString('base64'), b.toString('base64url')]
}

/** `serve <address> --listen <loopback> ...extra` in `box`, once it printed its ready line. */
const startServe = async (box: Sandbox, address: string, extra: string[], env: Record<string, string> = {}): Promise<Running> => {
  const proc = box.spawn(['serve', address, '--listen', LOOPBACK, ...extra], { env })
  await proc.waitForLine('stdout', (l) => l.startsWith('{') && l.includes('"ready"'), 60_000)
  return proc
}

const dialable = (ready: JsonObject): string => `${String((ready.addrs as string[])[0])}`

/** Runs `line` in a pseudo-terminal (`script`), so the CLI's stdin is a TTY; `typed` is what is typed there. */
const inTerminal = async (line: string, typed: string): Promise<string> => await new Promise((resolve, reject) => {
  const child = spawn('script', ['-qec', line, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (c: Buffer) => { out += c.toString() })
  child.stderr.on('data', (c: Buffer) => { out += c.toString() })
  const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`the terminal run timed out: ${out}`)) }, 30_000)
  child.on('close', () => { clearTimeout(timer); resolve(out) })
  // Typed once, once the prompt is up (a write after the terminal closed is no failure of the CLI's).
  child.stdin.on('error', () => {})
  let typedIt = false
  const typeIt = (): void => {
    if (typedIt || !/Paste the invite/.test(out)) return
    typedIt = true
    child.stdin.write(typed)
  }
  child.stdout.on('data', typeIt)
})

describe('secrets off the command line', function () {
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

  it('a private daemon (key file), a replica ($ORBIT_ACCOUNT_SWARM_KEY), `join -` and a daemon given the key on stdin: `ps` never shows the swarm key or the invite', async () => {
    const created = await laptop.create('private')
    const hex = String((await laptop.box.json(['swarm-key'])).swarmKey)
    assert.match(hex, /^[0-9a-f]{64}$/)
    const key = Uint8Array.from(Buffer.from(hex, 'hex'))

    // On argv: refused with exit 2, before the store is opened (no lock, no socket), the key not repeated.
    for (const args of [['daemon', '--swarm-key', hex], ['daemon', `--swarm-key=${hex}`], ['serve', String(created.account), '--swarm-key', hex]]) {
      const box = args[0] === 'serve' ? replica : laptop.box
      const r = await box.run(args)
      const refused = parseFailure(r, args)
      assert.deepEqual([refused.exit, refused.code], [2, 'INVALID_ARGUMENT'], refused.message)
      assert.match(refused.message, /`ps`/)
      assert.match(refused.message, /--swarm-key-file/)
      assert.equal(r.stderr.includes(hex), false, 'the refusal repeats the key')
    }
    assert.deepEqual((await readdir(laptop.dir)).filter((f) => f === 'LOCK' || f === 'daemon.sock'), [])
    assert.deepEqual(await readdir(replica.root), [])

    // A key file other users can read is refused, like an ssh key; owner-only, it is taken (libp2p's swarm.key format).
    const keyFile = join(laptop.box.root, 'swarm.key')
    await writeFile(keyFile, `/key/swarm/psk/1.0.0/\n/base16/\n${hex}\n`)
    await chmod(keyFile, 0o644)
    const loose = await laptop.box.fail(['daemon', '--listen', LOOPBACK, '--swarm-key-file', keyFile])
    assert.deepEqual([loose.exit, loose.code], [1, 'UNSAFE_PERMISSIONS'], loose.message)
    assert.match(loose.message, /chmod 600/)
    await chmod(keyFile, 0o600)

    const ps = watchPs()
    let seen: Map<number, Set<string>> | undefined
    let invite = ''
    try {
      const daemon = laptop.box.spawn(['daemon', '--listen', LOOPBACK, '--swarm-key-file', keyFile])
      laptop.daemon = daemon
      const ready = JSON.parse(await daemon.waitForLine('stdout', (l) => l.startsWith('{') && l.includes('"ready"'), 60_000)) as JsonObject
      const serve = await startServe(replica, String(created.account), ['--peer', dialable(ready)], { ORBIT_ACCOUNT_SWARM_KEY: hex })
      // Only a peer holding the key gets in: the replica fetching the account shows the key from the environment worked.
      await serve.waitForLine('stderr', (l) => l.startsWith('replicating '), 60_000)

      const shown = await laptop.openInvite()
      invite = shown.invite
      const joining = phone.box.spawn(['join', '-', '--name', 'phone'], { input: `${shown.invite}\n` })
      assert.deepEqual(await joining.waitForExit(90_000), { code: 0, signal: null }, joining.describe())
      const joined = jsonLines(joining).find((o) => o.account !== undefined)
      assert.equal(joined?.account, created.account, joining.describe())
      assert.equal(joining.lines.stderr.some((l) => /command line/.test(l)), false, 'no argv warning for `join -`')
      await shown.admitted()

      // The phone's daemon given the key on stdin (as a device that was away would be) syncs inside the private network.
      await laptop.put('note', 'inside')
      const phoneDaemon = phone.box.spawn(['daemon', '--listen', LOOPBACK, '--swarm-key', '-', '--peer', dialable(ready)], { input: hex })
      phone.daemon = phoneDaemon
      await phoneDaemon.waitForLine('stdout', (l) => l.startsWith('{') && l.includes('"ready"'), 60_000)
      await eventually('the phone to read the laptop\'s write', async () => await phone.get('note'), (v) => v === 'inside', 30_000)

      seen = await ps.stop()
      // The sampling saw every one of these processes, so it would have seen a secret on their command lines.
      for (const p of [daemon, serve, joining, phoneDaemon]) {
        assert.ok(seen.has(p.proc.pid as number), `${p.label} (pid ${String(p.proc.pid)}) was never sampled`)
      }
    } finally {
      if (seen === undefined) await ps.stop()
    }
    const secrets = [...spellings(key), invite, ...spellings(parseInvite(invite).secret)]
    const leaks = [...seen.entries()].flatMap(([pid, lines]) => [...lines].filter((l) => secrets.some((s) => l.includes(s))).map((l) => `${pid}: ${l}`))
    assert.deepEqual(leaks, [], 'a secret on a command line')

    // An invite on argv still works (the CLI contract), with a warning on stderr: stdout stays JSON-only.
    const onArgv = await phone.box.run(['join', invite, '--name', 'again'])
    assert.equal(onArgv.code, 1)
    assert.equal(onArgv.stdout, '')
    const [note, error] = onArgv.stderr.trim().split('\n')
    assert.match(note ?? '', /command line.*`ps`.*join -/, onArgv.stderr)
    assert.equal((JSON.parse(error ?? '') as { error: { code: string } }).error.code, 'ACCOUNT_EXISTS')
  })

  it('`join --name` with no invite asks for it at a terminal, and is a usage error (exit 2) elsewhere', async () => {
    const piped = await phone.box.fail(['join', '--name', 'phone'])
    assert.deepEqual([piped.exit, piped.code], [2, 'INVALID_ARGUMENT'], piped.message)
    assert.match(piped.message, /join -/)
    const line = [process.execPath, CLI, 'join', '--name', 'phone', '--dir', phone.dir, '--json'].map((a) => `'${a}'`).join(' ')
    const shown = await inTerminal(line, 'OA1NOTANINVITE\r')
    assert.match(shown, /Paste the invite/)
    assert.match(shown, /"code":"INVALID_INVITE"/, shown)
    assert.equal(await readdir(phone.box.root).then((f) => f.length), 0, 'nothing was created')
  })
})
