/**
 * Revoking a lost device with the real CLI (DESIGN.md user story 4, "Revoke and
 * rotate", security properties 2 and 3): `revoke <device-id-or-name>` on an admin
 * rotates the group key into a new epoch; the remaining devices follow it, the revoked
 * one reads nothing written afterwards and nothing it writes afterwards shows up
 * elsewhere. Personas laptop (admin), phone, tablet (members, each with a daemon) and
 * watch (a member without a daemon, revoked by its id with a one-shot command); loopback
 * only.
 */
import assert from 'node:assert/strict'
import { isDeepStrictEqual } from 'node:util'
import type { Json, JsonObject } from './helpers.ts'
import { byName, devicesNamed, eventually, Persona, sleep, type DeviceRow } from './join-helpers.ts'

const SYNC_MS = 20_000
/** How long the revoked phone gets to (wrongly) receive something before we check it did not. */
const GRACE_MS = 3000

/** Polls `get` on `persona` until it returns `value`. */
const reads = async (persona: Persona, key: string, value: Json): Promise<void> => {
  await eventually(`${persona.name} to read ${key} = ${JSON.stringify(value)}`, async () => await persona.get(key), (v) => isDeepStrictEqual(v, value), SYNC_MS)
}

const statusOf = async (persona: Persona): Promise<JsonObject> => await persona.box.json(['status'])

/** Polls `status` on `persona` until it reports `epoch`. */
const reachesEpoch = async (persona: Persona, epoch: number): Promise<void> => {
  await eventually(`${persona.name} to move to epoch ${epoch}`, async () => (await statusOf(persona)).epoch, (e) => e === epoch, SYNC_MS)
}

/** Polls `devices` on `persona` until `name` is listed as revoked; returns the whole list. */
const seesRevoked = async (persona: Persona, name: string): Promise<DeviceRow[]> =>
  byName(await eventually(`${persona.name} to list ${name} as revoked`, async () => await persona.devices(),
    (rows) => rows.some((r) => r.name === name && r.status === 'revoked'), SYNC_MS))

/** Opens an invite on `inviter` and joins `joiner` with it. */
const admit = async (inviter: Persona, joiner: Persona): Promise<void> => {
  const shown = await inviter.openInvite()
  await joiner.join(shown.invite)
  assert.deepEqual(await shown.admitted(), { device: joiner.device, name: joiner.name, role: 'member' })
}

describe('revoke: the laptop revokes the lost phone (laptop, phone, tablet, watch)', function () {
  this.timeout(180_000)
  let laptop: Persona
  let phone: Persona
  let tablet: Persona
  let watch: Persona
  beforeEach(async () => {
    laptop = await Persona.make('laptop')
    phone = await Persona.make('phone')
    tablet = await Persona.make('tablet')
    watch = await Persona.make('watch')
  })
  afterEach(async () => { await Promise.all([laptop, phone, tablet, watch].map(async (p) => await p.cleanup())) })

  it('rotates to a new epoch that the phone cannot read or write into; members cannot revoke; errors are clear; by name and by id', async () => {
    // Setup: the laptop creates and writes; phone, tablet and watch join as members.
    await laptop.create()
    await laptop.put('bank/pin', '1234')
    await laptop.put('notes/old', { text: 'written before the revocation' })
    await laptop.startDaemon()
    await admit(laptop, phone)
    await admit(laptop, tablet)
    await admit(laptop, watch)
    await phone.startDaemon()
    await tablet.startDaemon()
    await phone.put('from/phone', 'written by the phone before it was lost')
    await reads(laptop, 'from/phone', 'written by the phone before it was lost')
    // Before the revocation, the phone's daemon receives the laptop's writes live.
    await laptop.put('notes/live', 'synced to the phone while it was trusted')
    await reads(phone, 'notes/live', 'synced to the phone while it was trusted')
    const before: JsonObject = {
      'notes/live': 'synced to the phone while it was trusted',
      'bank/pin': '1234',
      'notes/old': { text: 'written before the revocation' },
      'from/phone': 'written by the phone before it was lost'
    }
    await eventually('the tablet to list every value written before', async () => await tablet.list(), (l) => isDeepStrictEqual(l, before), SYNC_MS)
    await devicesNamed(tablet, ['laptop', 'phone', 'tablet', 'watch'], SYNC_MS)

    // The laptop revokes the phone by name, through its daemon.
    const r = await laptop.box.run(['revoke', 'phone'], { timeoutMs: 60_000 })
    assert.equal(r.code, 0, `revoke phone failed: ${r.stderr}`)
    assert.deepEqual(r.stdout.split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as Json), [{ revoked: phone.device, epoch: 1 }])
    assert.match(r.stderr, /re-encrypting the live data into the new epoch: part 1 of \d+/, 'progress notes on stderr')

    // Laptop and tablet are in epoch 1, list the phone as revoked, and still read everything.
    await reachesEpoch(laptop, 1)
    await reachesEpoch(tablet, 1)
    for (const p of [laptop, tablet]) {
      const rows = await seesRevoked(p, 'phone')
      assert.deepEqual(rows.map((d) => [d.name, d.status]), [['laptop', 'active'], ['phone', 'revoked'], ['tablet', 'active'], ['watch', 'active']], `${p.name}'s devices`)
      assert.equal(rows.find((d) => d.name === 'phone')?.device, phone.device)
      await eventually(`${p.name} to list every value written before the revocation`, async () => await p.list(), (l) => isDeepStrictEqual(l, before), SYNC_MS)
    }

    // A write on the laptop reaches the tablet, never the phone (whose daemon still runs).
    await laptop.put('bank/pin', '9876')
    await laptop.put('after/secret', 'the phone must never read this')
    await reads(tablet, 'after/secret', 'the phone must never read this')
    await reads(tablet, 'bank/pin', '9876')
    await sleep(GRACE_MS)
    assert.equal(await phone.get('after/secret'), null, 'the revoked phone reads a value written after its revocation')
    assert.equal(await phone.get('bank/pin'), '1234', 'the revoked phone sees the new pin')
    assert.equal((await statusOf(phone)).epoch, 0, 'the revoked phone holds no key of epoch 1')

    // The phone's CLI knows it was revoked and refuses writes (a thief's own writes are
    // refused by the other devices: test/rotation/revoke.test.ts).
    await eventually('the phone to know it was revoked', async () => (await statusOf(phone)).status, (s) => s === 'revoked', SYNC_MS)
    assert.equal((await phone.box.fail(['put', 'from/thief', '"planted"'])).code, 'DEVICE_REVOKED')
    await laptop.put('after/second', 2)
    await reads(tablet, 'after/second', 2)

    // Only an admin revokes others; unknown and already revoked devices get clear errors.
    const member = await tablet.box.fail(['revoke', 'laptop'])
    assert.equal(member.code, 'NOT_AUTHORIZED', member.message)
    const unknown = await laptop.box.fail(['revoke', 'nobody'])
    assert.equal(unknown.code, 'UNKNOWN_DEVICE', unknown.message)
    const again = await laptop.box.fail(['revoke', 'phone'])
    assert.equal(again.code, 'ALREADY_REVOKED', again.message)
    assert.equal((await statusOf(laptop)).epoch, 1, 'a failed revoke does not rotate')
    assert.ok((await laptop.devices()).some((d) => d.name === 'laptop' && d.status === 'active'))

    // By device id, one-shot (no daemon on the laptop), with the human output: the watch
    // is revoked, the account moves to epoch 2, and the tablet follows once they meet.
    await laptop.stopDaemon()
    const human = await laptop.box.run(['revoke', watch.device], { human: true, timeoutMs: 60_000 })
    assert.equal(human.code, 0, `revoke <watch id> failed: ${human.stderr}`)
    assert.match(human.stdout, new RegExp(`revoked ${watch.device}\\b.*epoch 2`), `human output: ${human.stdout}`)
    assert.doesNotMatch(human.stdout, /^\{/, 'no JSON without --json')
    assert.match(human.stderr, /re-encrypting the live data into the new epoch/, `progress notes: ${human.stderr}`)
    await laptop.startDaemon()
    await reachesEpoch(laptop, 2)
    await reachesEpoch(tablet, 2)
    const rows = await seesRevoked(tablet, 'watch')
    assert.deepEqual(rows.map((d) => [d.name, d.status]), [['laptop', 'active'], ['phone', 'revoked'], ['tablet', 'active'], ['watch', 'revoked']])
    const after: JsonObject = { ...before, 'bank/pin': '9876', 'after/secret': 'the phone must never read this', 'after/second': 2 }
    for (const p of [laptop, tablet]) {
      await eventually(`${p.name} to list every live value in epoch 2`, async () => await p.list(), (l) => isDeepStrictEqual(l, after), SYNC_MS)
    }
  })
})
