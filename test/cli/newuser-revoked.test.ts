/**
 * A revoked device is told (issue 15, item 3): its daemon says so once, `status` and
 * `devices` say revoked, writes fail with DEVICE_REVOKED (through the daemon and
 * without it), reads carry a note, and joining again asks for a new --dir.
 * Personas laptop (admin) and phone; loopback only.
 */
import assert from 'node:assert/strict'
import { eventually, Persona, sleep } from './join-helpers.ts'

describe('new user: a revoked device is told', function () {
  this.timeout(150_000)
  let laptop: Persona
  let phone: Persona
  beforeEach(async () => {
    laptop = await Persona.make('laptop')
    phone = await Persona.make('phone')
  })
  afterEach(async () => { await Promise.all([laptop.cleanup(), phone.cleanup()]) })

  it('its daemon says it once, status/devices say revoked, writes fail with DEVICE_REVOKED, a new join needs a new --dir', async () => {
    await laptop.create()
    await laptop.startDaemon()
    const shown = await laptop.openInvite()
    await phone.join(shown.invite)
    await shown.admitted()
    await phone.startDaemon()
    const daemon = phone.daemon
    assert.ok(daemon !== undefined)
    // Before: active, and this device is named in `devices`.
    const before = await phone.box.json(['status'])
    assert.equal(before.status, 'active')
    assert.equal((await phone.box.json(['devices'])).device, phone.device)

    const revoked = await laptop.box.run(['revoke', 'phone'], { timeoutMs: 60_000 })
    assert.equal(revoked.code, 0, revoked.stderr)

    // The phone's daemon learns it from the registry and says it.
    await daemon.waitForLine('stderr', (l) => /this device was revoked/.test(l), 30_000)
    const status = await eventually('the phone to say it is revoked', async () => await phone.box.json(['status']), (s) => s.status === 'revoked', 15_000)
    assert.equal(status.device, phone.device)
    const devices = await phone.box.json(['devices'])
    assert.equal(devices.device, phone.device)
    assert.deepEqual((devices.devices as Array<{ name: string, status: string }>).map((d) => [d.name, d.status]).sort(), [['laptop', 'active'], ['phone', 'revoked']])

    // Writes fail with a clear code and say what to do; a read works, with a note.
    const put = await phone.box.fail(['put', 'k', '1'])
    assert.deepEqual([put.exit, put.code], [1, 'DEVICE_REVOKED'])
    assert.match(put.message, /revoked[^]*new --dir/)
    assert.equal((await phone.box.fail(['del', 'k'])).code, 'DEVICE_REVOKED')
    assert.equal((await phone.box.fail(['invite', '--no-qr'])).code, 'DEVICE_REVOKED')
    const get = await phone.box.run(['get', 'k'])
    assert.equal(get.code, 0, get.stderr)
    assert.match(get.stderr, /this device was revoked/)

    // Said once, not at every check.
    await sleep(2500)
    assert.equal(daemon.lines.stderr.filter((l) => /this device was revoked/.test(l)).length, 1, daemon.describe())

    // Without the daemon the store remembers it: a one-shot write fails the same way.
    await phone.stopDaemon()
    assert.equal((await phone.box.fail(['put', 'k', '1'])).code, 'DEVICE_REVOKED')
    // Joining again in the same directory: told to use a new one.
    const again = await laptop.openInvite()
    const rejoin = await phone.failJoin(again.invite)
    assert.equal(rejoin.code, 'ACCOUNT_EXISTS')
    assert.match(rejoin.message, /new --dir/)
    again.proc.proc.kill('SIGINT')
    await again.proc.waitForExit(15_000)
  })
})
