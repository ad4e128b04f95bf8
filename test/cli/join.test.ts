/**
 * Adding devices with the real CLI (DESIGN.md "CLI contract", "Protocols" - Join):
 * `invite` on a device in the account, `join` on the new one, then the devices keep
 * syncing through their daemons, also after being apart. Personas: laptop, phone,
 * tablet, each with its own directory and processes; loopback only.
 */
import assert from 'node:assert/strict'
import { isDeepStrictEqual } from 'node:util'
import { LOOPBACK, type Json, type JsonObject } from './helpers.ts'
import { byName, devicesNamed, eventually, Persona, type DeviceRow } from './join-helpers.ts'
import { decodeTerminalQr } from '../invite/qr-decode.ts'

const SYNC_MS = 15_000

/** Polls `get` on `persona` until it returns `value`. */
const reads = async (persona: Persona, key: string, value: Json): Promise<void> => {
  await eventually(`${persona.name} to read ${key} = ${JSON.stringify(value)}`, async () => await persona.get(key), (v) => isDeepStrictEqual(v, value), SYNC_MS)
}

describe('join: a second device (laptop + phone)', function () {
  this.timeout(120_000)
  let laptop: Persona
  let phone: Persona
  beforeEach(async () => {
    laptop = await Persona.make('laptop')
    phone = await Persona.make('phone')
  })
  afterEach(async () => { await Promise.all([laptop.cleanup(), phone.cleanup()]) })

  it('the phone joins with the invite, reads the history at once, both list both devices, and daemons sync writes both ways', async () => {
    const created = await laptop.create()
    await laptop.put('notes/first', { text: 'written before the join' })
    await laptop.startDaemon()

    const shown = await laptop.openInvite()
    const expires = Date.parse(shown.expires)
    assert.ok(expires > Date.now() + 9 * 60_000 && expires <= Date.now() + 10 * 60_000 + 1000, `default ttl is 10m: ${shown.expires}`)

    const joined = await phone.join(shown.invite)
    assert.equal(joined.account, created.account)
    assert.equal(joined.epoch, 0)
    assert.notEqual(joined.device, laptop.device)
    assert.deepEqual(await shown.admitted(), { device: joined.device, name: 'phone', role: 'member' })
    assert.equal(await phone.hasAccount(), true)

    // The history written before the join is there right after it.
    assert.deepEqual(await phone.get('notes/first'), { text: 'written before the join' })

    const expected: DeviceRow[] = [
      { device: laptop.device, name: 'laptop', role: 'admin', status: 'active', addedBy: null },
      { device: phone.device, name: 'phone', role: 'member', status: 'active', addedBy: laptop.device }
    ]
    assert.deepEqual(byName(await phone.devices()), expected)
    assert.deepEqual(byName(await laptop.devices()), expected)

    // With a daemon on each side, writes travel both ways.
    await phone.startDaemon()
    await phone.put('from/phone', { n: 1, by: 'phone' })
    await reads(laptop, 'from/phone', { n: 1, by: 'phone' })
    await laptop.put('from/laptop', [1, 2, 3])
    await reads(phone, 'from/laptop', [1, 2, 3])
    await phone.put('notes/first', 'overwritten on the phone')
    await reads(laptop, 'notes/first', 'overwritten on the phone')
    assert.deepEqual(await laptop.list(), await phone.list())
  })
})

describe('join: three devices (an admin phone invites the tablet)', function () {
  this.timeout(120_000)
  let laptop: Persona
  let phone: Persona
  let tablet: Persona
  beforeEach(async () => {
    laptop = await Persona.make('laptop')
    phone = await Persona.make('phone')
    tablet = await Persona.make('tablet')
  })
  afterEach(async () => { await Promise.all([laptop.cleanup(), phone.cleanup(), tablet.cleanup()]) })

  it('converge on the devices and on the values each of them wrote', async () => {
    const created = await laptop.create()
    await laptop.put('from/laptop', 'laptop')
    await laptop.startDaemon()

    const toPhone = await laptop.openInvite(['--role', 'admin'])
    await phone.join(toPhone.invite)
    assert.deepEqual(await toPhone.admitted(), { device: phone.device, name: 'phone', role: 'admin' })

    // The phone, an admin with a daemon, invites the tablet through that daemon.
    await phone.startDaemon()
    const toTablet = await phone.openInvite()
    const joined = await tablet.join(toTablet.invite)
    assert.equal(joined.account, created.account)
    assert.deepEqual(await toTablet.admitted(), { device: tablet.device, name: 'tablet', role: 'member' })
    assert.equal(await tablet.get('from/laptop'), 'laptop')
    await tablet.startDaemon()

    await phone.put('from/phone', 'phone')
    await tablet.put('from/tablet', { t: true })

    const expectedDevices: DeviceRow[] = [
      { device: laptop.device, name: 'laptop', role: 'admin', status: 'active', addedBy: null },
      { device: phone.device, name: 'phone', role: 'admin', status: 'active', addedBy: laptop.device },
      { device: tablet.device, name: 'tablet', role: 'member', status: 'active', addedBy: phone.device }
    ]
    const expectedValues: JsonObject = { 'from/laptop': 'laptop', 'from/phone': 'phone', 'from/tablet': { t: true } }
    for (const p of [laptop, phone, tablet]) {
      assert.deepEqual(await devicesNamed(p, ['laptop', 'phone', 'tablet'], SYNC_MS), expectedDevices, `${p.name}'s devices`)
      await eventually(`${p.name} to list every device's value`, async () => await p.list(), (l) => isDeepStrictEqual(l, expectedValues), SYNC_MS)
    }
  })
})

describe('join: writes made apart merge when the devices meet again', function () {
  this.timeout(120_000)
  let laptop: Persona
  let phone: Persona
  beforeEach(async () => {
    laptop = await Persona.make('laptop')
    phone = await Persona.make('phone')
  })
  afterEach(async () => { await Promise.all([laptop.cleanup(), phone.cleanup()]) })

  it('restarted daemons find each other through peers.json (no new invite, no --peer) and converge', async () => {
    await laptop.create()
    await laptop.put('shared/before', 'both have it')
    const laptopReady = await laptop.startDaemon()
    const shown = await laptop.openInvite()
    await phone.join(shown.invite)
    await shown.admitted()
    const phoneReady = await phone.startDaemon()
    await laptop.put('seen/both', 1)
    await reads(phone, 'seen/both', 1)

    // Each remembers the other's address, and the port it listened on.
    await eventually('the laptop to remember the phone', async () => await laptop.networkMemory(),
      (m) => m.peers.some((p) => p.endsWith(`/p2p/${String(phoneReady.peerId)}`)), SYNC_MS)
    await eventually('the phone to remember the laptop', async () => await phone.networkMemory(),
      (m) => m.peers.some((p) => p.endsWith(`/p2p/${String(laptopReady.peerId)}`)), SYNC_MS)
    const laptopListen = (await laptop.networkMemory()).listen
    const phoneListen = (await phone.networkMemory()).listen
    for (const l of [...laptopListen, ...phoneListen]) assert.match(l, /^\/ip4\/127\.0\.0\.1\/tcp\/[1-9]\d*$/, 'a remembered loopback port')

    await laptop.stopDaemon()
    await phone.stopDaemon()

    // Apart: one-shot commands write, fail to reach the other side, and keep the writes.
    await laptop.put('apart/laptop', 'written on the laptop')
    await laptop.put('apart/shared', 'laptop')
    await phone.put('apart/phone', 'written on the phone')
    await phone.put('apart/shared', 'phone')
    assert.deepEqual(await phone.box.json(['del', 'seen/both']), { key: 'seen/both', deleted: true })
    assert.equal(await laptop.get('apart/phone'), null)
    assert.equal(await phone.get('apart/laptop'), null)

    // Together again, on the remembered ports (what a plain `daemon` does), nothing else given.
    await laptop.startDaemon(laptopListen)
    await phone.startDaemon(phoneListen)
    const merged = await eventually('both devices to list the same merged entries', async () => [await laptop.list(), await phone.list()] as const,
      ([l, p]) => isDeepStrictEqual(l, p) && 'apart/laptop' in l && 'apart/phone' in l && !('seen/both' in l) && l['apart/shared'] === p['apart/shared'], 30_000)
    const [entries] = merged
    assert.deepEqual(Object.keys(entries).sort(), ['apart/laptop', 'apart/phone', 'apart/shared', 'shared/before'])
    assert.equal(entries['apart/laptop'], 'written on the laptop')
    assert.equal(entries['apart/phone'], 'written on the phone')
    assert.equal(entries['shared/before'], 'both have it')
    assert.ok(entries['apart/shared'] === 'laptop' || entries['apart/shared'] === 'phone', `apart/shared: ${JSON.stringify(entries['apart/shared'])}`)
  })
})

describe('join: the invite QR code', function () {
  this.timeout(90_000)
  let laptop: Persona
  let phone: Persona
  beforeEach(async () => {
    laptop = await Persona.make('laptop')
    phone = await Persona.make('phone')
  })
  afterEach(async () => { await Promise.all([laptop.cleanup(), phone.cleanup()]) })

  it('decodes to exactly the invite text printed with it, and that text admits the phone, which then reads offline', async () => {
    await laptop.create()
    await laptop.put('k', 'before the join')
    await laptop.startDaemon()

    const proc = laptop.box.spawn(['invite', '--listen', LOOPBACK], { human: true })
    const hint = await proc.waitForLine('stdout', (l) => /^\s*echo \S+ \| orbit-account join - --name/.test(l), 30_000)
    const printed = /echo (\S+) \| orbit-account join - --name/.exec(hint)?.[1]
    assert.ok(printed !== undefined)
    assert.match(printed, /^OA1[A-Z2-7]+$/)
    const qrLines = proc.lines.stdout.filter((l) => l.length > 0 && /^[\u2580\u2584\u2588 ]+$/.test(l))
    assert.ok(qrLines.length > 10, `no QR code printed\n${proc.describe()}`)
    assert.equal(decodeTerminalQr(qrLines.join('\n')), printed)
    // Where the invite also appears as text elsewhere in the output, it is the same text.
    for (const l of proc.lines.stdout) {
      const m = /OA1[A-Z2-7]{20,}/.exec(l)
      if (m !== null) assert.equal(m[0], printed, `line: ${l}`)
    }

    const joined = await phone.join(printed)
    assert.deepEqual(await proc.waitForExit(30_000), { code: 0, signal: null }, proc.describe())
    assert.ok(proc.lines.stdout.some((l) => l.includes(String(joined.device))), `the invite reports the admitted device\n${proc.describe()}`)

    // The join synced the history: readable with the laptop gone.
    await laptop.stopDaemon()
    assert.equal(await phone.get('k'), 'before the join')
  })
})
