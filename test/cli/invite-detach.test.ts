/**
 * `invite --detach` with real processes: the invite is recorded in the registry and the
 * command returns at once; the laptop's daemon stops, the phone's `join` waits (saying
 * so on stderr), the daemon comes back, admits the phone, which syncs; the invite is then
 * INVITE_USED for anyone else, although the daemon restarted in between.
 */
import assert from 'node:assert/strict'
import { jsonLines, Persona } from './join-helpers.ts'

describe('invite --detach: joining while the inviter is offline', function () {
  this.timeout(180_000)
  let laptop: Persona
  let phone: Persona
  let tablet: Persona
  beforeEach(async () => {
    laptop = await Persona.make('laptop')
    phone = await Persona.make('phone')
    tablet = await Persona.make('tablet')
  })
  afterEach(async () => { await Promise.all([laptop.cleanup(), phone.cleanup(), tablet.cleanup()]) })

  it('the daemon stops, the join waits, the daemon comes back and admits the phone; the invite is then used', async () => {
    await laptop.create()
    await laptop.put('notes/first', 'written before the invite')
    const ready = await laptop.startDaemon()
    const tcp = (ready.addrs as string[]).find((a) => a.includes('/tcp/') && !a.includes('/ws'))
    assert.ok(tcp !== undefined)
    const listen = tcp.replace(/\/p2p\/[^/]+$/, '')

    const shown = await laptop.box.json(['invite', '--detach', '--no-qr'])
    assert.deepEqual(Object.keys(shown).sort(), ['expires', 'invite'])
    const invite = String(shown.invite)
    await laptop.stopDaemon()

    const join = phone.box.spawn(['join', invite, '--name', 'phone'])
    await join.waitForLine('stderr', (l) => l.includes('no device of the account answers'), 30_000)
    await laptop.startDaemon([listen])
    assert.deepEqual(await join.waitForExit(60_000), { code: 0, signal: null }, join.describe())
    const joined = jsonLines(join).find((o) => o.device !== undefined)
    assert.equal(joined?.name, 'phone')
    assert.equal(await phone.get('notes/first'), 'written before the invite')
    assert.ok((await laptop.devices()).some((d) => d.name === 'phone' && d.status === 'active'))

    const reused = await tablet.failJoin(invite)
    assert.equal(reused.code, 'INVITE_USED', reused.message)
  })
})
