/**
 * Joins that must not work (DESIGN.md "Security properties" 4: invites are single-use
 * and expire; a wrong, reused or expired secret gets a clear error and admits nothing),
 * and joins a person confirms with the short code (`--confirm`). Real CLI processes.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { encodeInvite, parseInvite } from '../../src/invite/invite.ts'
import type { Running } from './helpers.ts'
import { byName, exists, jsonLines, errorOf, Persona, type DeviceRow, type ShownInvite } from './join-helpers.ts'

/** Nothing of an account in the phone's directory. */
const assertNoAccount = async (persona: Persona, after: string): Promise<void> => {
  assert.equal(await persona.hasAccount(), false, `${after}: no account.json in ${persona.dir}`)
  assert.equal(await exists(join(persona.dir, 'keys.json')), false, `${after}: no keys.json in ${persona.dir}`)
}

/** `text` with the character at `i` replaced by another base32 character. */
const tamper = (text: string, i: number): string => {
  const c = text.charAt(i)
  const other = c === 'A' ? 'B' : 'A'
  return text.slice(0, i) + other + text.slice(i + 1)
}

const founderOnly = (laptop: Persona): DeviceRow[] => [{ device: laptop.device, name: 'laptop', role: 'admin', status: 'active', addedBy: null }]

describe('join: hostile and mistaken invites', function () {
  this.timeout(90_000)
  let laptop: Persona
  let phone: Persona
  let tablet: Persona
  beforeEach(async () => {
    laptop = await Persona.make('laptop')
    phone = await Persona.make('phone')
    tablet = await Persona.make('tablet')
    await laptop.create()
    await laptop.startDaemon()
  })
  afterEach(async () => { await Promise.all([laptop.cleanup(), phone.cleanup(), tablet.cleanup()]) })

  it('garbage, truncated and single-character-tampered invites fail with INVALID_INVITE and create nothing', async () => {
    const { invite } = await laptop.openInvite()
    const bad: Array<[string, string]> = [
      ['garbage', 'hello-this-is-not-an-invite'],
      ['an empty string', ''],
      ['garbage with the prefix', 'OA1' + 'Q'.repeat(40)],
      ['truncated by one character', invite.slice(0, -1)],
      ['truncated to half', invite.slice(0, Math.floor(invite.length / 2))],
      ['tampered near the start', tamper(invite, 5)],
      ['tampered in the middle', tamper(invite, Math.floor(invite.length / 2))],
      ['tampered at the end', tamper(invite, invite.length - 1)]
    ]
    for (const [what, text] of bad) {
      const err = await phone.failJoin(text)
      assert.equal(err.code, 'INVALID_INVITE', `${what}: ${err.code} ${err.message}`)
      await assertNoAccount(phone, what)
    }
    assert.deepEqual(await laptop.devices(), founderOnly(laptop))
  })

  it('a valid-looking invite with a wrong secret is INVITE_REJECTED and admits nothing; the real invite still works; reusing it is INVITE_USED; a dir with an account is ACCOUNT_EXISTS', async () => {
    const shown = await laptop.openInvite()
    const real = parseInvite(shown.invite)
    const forged = encodeInvite({ ...real, secret: Uint8Array.from(randomBytes(real.secret.length)) })
    assert.notEqual(forged, shown.invite)
    assert.deepEqual(parseInvite(forged).addrs, real.addrs, 'the forged invite is well-formed and points at the laptop')

    const rejected = await phone.failJoin(forged)
    assert.equal(rejected.code, 'INVITE_REJECTED', rejected.message)
    await assertNoAccount(phone, 'a wrong secret')
    assert.deepEqual(await laptop.devices(), founderOnly(laptop))
    assert.equal(shown.proc.running, true, 'the real invite is still open')

    // The same directory can join with the real invite afterwards.
    const joined = await phone.join(shown.invite)
    assert.deepEqual(await shown.admitted(), { device: joined.device, name: 'phone', role: 'member' })

    // Single use: the laptop's daemon is still up, and refuses the spent invite.
    const reused = await tablet.failJoin(shown.invite)
    assert.equal(reused.code, 'INVITE_USED', reused.message)
    await assertNoAccount(tablet, 'a reused invite')

    // A directory that already has an account refuses to join, and does not spend the invite.
    const second = await laptop.openInvite()
    const existing = await phone.failJoin(second.invite, 'phone-again')
    assert.equal(existing.code, 'ACCOUNT_EXISTS', existing.message)
    assert.equal((await phone.box.json(['status'])).device, joined.device, 'the phone is still the same device')
    await tablet.join(second.invite)
    await second.admitted()

    const expected: DeviceRow[] = [
      { device: laptop.device, name: 'laptop', role: 'admin', status: 'active', addedBy: null },
      { device: phone.device, name: 'phone', role: 'member', status: 'active', addedBy: laptop.device },
      { device: tablet.device, name: 'tablet', role: 'member', status: 'active', addedBy: laptop.device }
    ]
    assert.deepEqual(byName(await laptop.devices()), expected)
  })

  it('an expired invite is INVITE_EXPIRED, and the invite command reports the expiry', async () => {
    const shown = await laptop.openInvite(['--ttl', '10s'])
    assert.ok(Date.parse(shown.expires) <= Date.now() + 10_000, shown.expires)
    const ended = await shown.failed(20_000)
    assert.equal(ended.code, 'INVITE_EXPIRED', ended.message)
    const err = await phone.failJoin(shown.invite)
    assert.equal(err.code, 'INVITE_EXPIRED', err.message)
    await assertNoAccount(phone, 'an expired invite')
    assert.deepEqual(await laptop.devices(), founderOnly(laptop))
  })
})

describe('join: --confirm with the short code', function () {
  this.timeout(90_000)
  let laptop: Persona
  let phone: Persona
  beforeEach(async () => {
    laptop = await Persona.make('laptop')
    phone = await Persona.make('phone')
    await laptop.create()
    await laptop.startDaemon()
  })
  afterEach(async () => { await Promise.all([laptop.cleanup(), phone.cleanup()]) })

  /** Starts a confirmed join; resolves once both sides show their code. */
  const startConfirmedJoin = async (): Promise<{ invite: ShownInvite, joining: Running, inviterCode: string, joinerCode: string, asked: { device: string, name: string } }> => {
    const invite = await laptop.openInvite(['--confirm'])
    const joining = phone.box.spawn(['join', invite.invite, '--name', 'phone'])
    joining.proc.stdin?.end()
    const line = await joining.waitForLine('stderr', (l) => l.startsWith('confirmation code: '), 30_000)
    const joinerCode = /^confirmation code: ([0-9 ]+?)\s*(\(|$)/.exec(line)?.[1]
    assert.ok(joinerCode !== undefined && /\d/.test(joinerCode), line)
    await invite.proc.waitForLine('stdout', (l) => l.includes('"confirm"'), 30_000)
    const confirm = jsonLines(invite.proc).map((o) => o.confirm).find((c) => c !== undefined) as { device: string, name: string, code: string }
    assert.deepEqual(Object.keys(confirm).sort(), ['code', 'device', 'name'])
    assert.equal(confirm.name, 'phone')
    return { invite, joining, inviterCode: confirm.code, joinerCode, asked: confirm }
  }

  it("answering 'y' admits the device, and both sides showed the same code", async () => {
    const { invite, joining, inviterCode, joinerCode, asked } = await startConfirmedJoin()
    assert.equal(joinerCode, inviterCode)
    invite.proc.proc.stdin?.write('y\n')
    assert.deepEqual(await joining.waitForExit(30_000), { code: 0, signal: null }, joining.describe())
    // With --json the joiner prints its code as a JSON line too (issue 15, item 17), then the result.
    const joined = jsonLines(joining).filter((o) => o.confirm === undefined)
    assert.deepEqual(jsonLines(joining)[0], { confirm: { code: inviterCode } }, joining.describe())
    assert.equal(joined.length, 1, joining.describe())
    assert.equal(joined[0]?.device, asked.device)
    assert.deepEqual(await invite.admitted(), { device: asked.device, name: 'phone', role: 'member' })
    assert.deepEqual((await laptop.devices()).map((d) => d.name).sort(), ['laptop', 'phone'])
    assert.equal(await phone.hasAccount(), true)
  })

  it("answering 'n' admits nothing: the joiner gets CONFIRMATION_REJECTED", async () => {
    const { invite, joining, inviterCode, joinerCode } = await startConfirmedJoin()
    assert.equal(joinerCode, inviterCode)
    invite.proc.proc.stdin?.write('n\n')
    const exit = await joining.waitForExit(30_000)
    assert.notEqual(exit.code, 0, joining.describe())
    assert.equal(exit.signal, null)
    assert.deepEqual(jsonLines(joining), [{ confirm: { code: inviterCode } }], 'the joiner printed no result, only its code')
    assert.equal(errorOf(joining).code, 'CONFIRMATION_REJECTED')
    assert.equal((await invite.failed()).code, 'CONFIRMATION_REJECTED')
    await assertNoAccount(phone, 'a refused confirmation')
    assert.deepEqual(await laptop.devices(), founderOnly(laptop))
  })

  it('no answer at all (stdin closed) admits nothing either', async () => {
    const { invite, joining } = await startConfirmedJoin()
    invite.proc.proc.stdin?.end()
    const exit = await joining.waitForExit(30_000)
    assert.notEqual(exit.code, 0, joining.describe())
    assert.equal(errorOf(joining).code, 'CONFIRMATION_REJECTED')
    assert.equal((await invite.failed()).code, 'CONFIRMATION_REJECTED')
    await assertNoAccount(phone, 'an unanswered confirmation')
    assert.deepEqual(await laptop.devices(), founderOnly(laptop))
  })
})
