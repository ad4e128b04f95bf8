/**
 * What a new user tripped over when adding a device (issue 15, items 0, 1, 2, 7, 17,
 * 19): the README's order with no daemon anywhere (a one-shot `invite`, then `join`),
 * the invite text without a QR code, an invite broken over lines, the hint pasted into
 * bash as is, a member that tries to invite, the joiner's code as JSON, Ctrl-C on an
 * invite. Loopback only; every wait has a timeout.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { CLI, LOOPBACK, type JsonObject } from './helpers.ts'
import { errorOf, jsonLines, Persona } from './join-helpers.ts'

/** Runs `line` in bash, with `orbit-account` a function that runs this checkout's CLI on `dir` with --json. */
const pasteIntoBash = async (line: string, dir: string): Promise<{ code: number | null, stdout: string, stderr: string }> =>
  await new Promise((resolve, reject) => {
    const fn = `orbit-account () { ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} "$@" --dir ${JSON.stringify(dir)} --json; }`
    const child = spawn('bash', ['-c', `${fn}\n${line}`], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`bash timed out: ${stderr}`)) }, 60_000)
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })

describe('new user: adding a device as the README says', function () {
  this.timeout(150_000)
  let laptop: Persona
  let phone: Persona
  beforeEach(async () => {
    laptop = await Persona.make('laptop')
    phone = await Persona.make('phone')
  })
  afterEach(async () => { await Promise.all([laptop.cleanup(), phone.cleanup()]) })

  it('a one-shot invite (no daemon) stays until the phone synced; --no-qr prints the invite; a wrapped invite and the pasted hint work; a member cannot invite; Ctrl-C withdraws', async () => {
    await laptop.create()
    await laptop.put('notes/first', 'written before the join')

    // Item 1: without --json and with --no-qr, the invite text is printed, in a line that pastes.
    const invite = laptop.box.spawn(['invite', '--no-qr', '--listen', LOOPBACK], { human: true })
    const hint = await invite.waitForLine('stdout', (l) => /echo OA1\S+ \| orbit-account join - /.test(l), 60_000)
    const text = /echo (OA1[A-Z2-7]+) \| orbit-account join - /.exec(hint)?.[1]
    assert.ok(text !== undefined, hint)
    assert.match(await invite.waitForLine('stdout', (l) => l.startsWith('invite valid until'), 5000), /\(in 10 minutes\)$/)

    // Item 0 and 7: the invite as a wrapped terminal line gives it, then `join` with no daemon anywhere.
    const wrapped = `${text.slice(0, 50)}\n  ${text.slice(50, 120)} ${text.slice(120)}\n`
    const joined = await phone.box.run(['join', wrapped, '--name', 'phone'], { timeoutMs: 60_000 })
    assert.equal(joined.code, 0, `join failed:\n${joined.stderr}`)
    phone.info = JSON.parse(joined.stdout) as JsonObject
    assert.deepEqual(await invite.waitForExit(15_000), { code: 0, signal: null }, invite.describe())
    assert.ok(invite.lines.stdout.some((l) => l === `admitted phone (${phone.device}) as member`), invite.describe())
    // The phone has the history, with the laptop's invite gone: the sync finished before it left.
    assert.equal(await phone.get('notes/first'), 'written before the join')
    assert.deepEqual((await phone.devices()).map((d) => [d.name, d.status]).sort(), [['laptop', 'active'], ['phone', 'active']])

    // Item 2: a member's invite is refused at once, before any network.
    const started = Date.now()
    const member = await phone.box.fail(['invite', '--no-qr', '--listen', LOOPBACK])
    assert.equal(member.code, 'NOT_AUTHORIZED', member.message)
    assert.match(member.message, /admin/)
    assert.ok(Date.now() - started < 15_000, `the refusal took ${Date.now() - started} ms`)

    // Item 7: the printed hint, pasted into bash as is, joins a third device (named after the host).
    const second = laptop.box.spawn(['invite', '--no-qr', '--listen', LOOPBACK], { human: true })
    const line = await second.waitForLine('stdout', (l) => /echo OA1\S+ \| orbit-account join - /.test(l), 60_000)
    const tablet = await Persona.make('tablet')
    try {
      const pasted = await pasteIntoBash(line.trim(), tablet.dir)
      assert.equal(pasted.code, 0, `the pasted hint failed: ${pasted.stderr}`)
      assert.equal((JSON.parse(pasted.stdout) as JsonObject).account, laptop.info?.account)
      assert.deepEqual(await second.waitForExit(15_000), { code: 0, signal: null }, second.describe())
    } finally {
      await tablet.cleanup()
    }

    // Item 19: Ctrl-C on an open invite says it is withdrawn.
    const third = laptop.box.spawn(['invite', '--no-qr', '--listen', LOOPBACK], { human: true })
    await third.waitForLine('stdout', (l) => l.startsWith('invite valid until'), 60_000)
    third.proc.kill('SIGINT')
    assert.deepEqual(await third.waitForExit(15_000), { code: 0, signal: null }, third.describe())
    assert.ok(third.lines.stderr.some((l) => /invite withdrawn/.test(l)), third.describe())
  })
})

describe('new user: --confirm with --json, through a daemon', function () {
  this.timeout(120_000)
  let laptop: Persona
  let phone: Persona
  beforeEach(async () => {
    laptop = await Persona.make('laptop')
    phone = await Persona.make('phone')
  })
  afterEach(async () => { await Promise.all([laptop.cleanup(), phone.cleanup()]) })

  it('item 17: the joiner prints its confirmation code as a JSON line, the same the inviter shows', async () => {
    await laptop.create()
    await laptop.startDaemon()
    const shown = await laptop.openInvite(['--confirm'])
    const join = phone.box.spawn(['join', shown.invite, '--name', 'phone'])
    join.proc.stdin?.end()
    const asked = await shown.proc.waitForLine('stdout', (l) => l.includes('"confirm"'), 60_000)
    const question = (JSON.parse(asked) as { confirm: JsonObject }).confirm
    shown.proc.proc.stdin?.write('y\n')
    assert.deepEqual(await join.waitForExit(60_000), { code: 0, signal: null }, join.describe())
    const lines = jsonLines(join)
    assert.deepEqual(lines[0], { confirm: { code: question.code } }, join.describe())
    assert.equal(lines[1]?.name, 'phone')
    assert.equal(lines.length, 2, join.describe())
    assert.equal((await shown.admitted()).name, 'phone')
    assert.throws(() => errorOf(join))
  })
})
