/**
 * Joining while no device is online, with real processes: the laptop's daemon registers
 * a replica, makes a detached invite (which carries the replica's address) and stops; the
 * phone's `join` leaves its request at the replica and says so; the laptop's daemon comes
 * back on a new port (the invite's address reaches nothing), admits the request it finds
 * at the replica, and the phone ends as a normal join does and reads the laptop's write.
 */
import assert from 'node:assert/strict'
import { LOOPBACK, Sandbox, type JsonObject, type Running } from './helpers.ts'
import { jsonLines, Persona } from './join-helpers.ts'

const startServe = async (box: Sandbox, address: string): Promise<{ proc: Running, ready: JsonObject }> => {
  const proc = box.spawn(['serve', address, '--listen', LOOPBACK])
  const line = await proc.waitForLine('stdout', (l) => l.startsWith('{') && l.includes('"ready"'), 60_000)
  return { proc, ready: JSON.parse(line) as JsonObject }
}

describe('join with no device online: a join request left at the replica', function () {
  this.timeout(180_000)
  let laptop: Persona
  let phone: Persona
  let replicaBox: Sandbox
  beforeEach(async () => {
    laptop = await Persona.make('laptop')
    phone = await Persona.make('phone')
    replicaBox = await Sandbox.create()
  })
  afterEach(async () => { await Promise.all([laptop.cleanup(), phone.cleanup(), replicaBox.cleanup()]) })

  it('the laptop comes back on a new port and admits the phone through the replica; the phone syncs', async () => {
    await laptop.create()
    await laptop.put('notes/first', 'written before the invite')
    const ready = await laptop.startDaemon()
    const account = String((await laptop.box.json(['status'])).account)
    const serve = await startServe(replicaBox, account)
    const first = String((serve.ready.addrs as string[])[0])
    await laptop.box.json(['replica', 'add', first.includes('/p2p/') ? first : `${first}/p2p/${String(serve.ready.peerId)}`])
    await serve.proc.waitForLine('stderr', (l) => l.startsWith('replicating '), 45_000)

    const shown = await laptop.box.json(['invite', '--detach', '--no-qr'])
    // Give the replica the recorded invitation and the write, then the laptop goes away.
    await new Promise((resolve) => setTimeout(resolve, 3000))
    await laptop.stopDaemon()

    const join = phone.box.spawn(['join', String(shown.invite), '--name', 'phone'])
    await join.waitForLine('stderr', (l) => l.includes(`left a join request at the replica ${String(serve.ready.peerId)}; waiting for a device of the account to admit it`), 45_000)
    const back = await laptop.startDaemon()
    assert.ok((back.addrs as string[]).every((a) => !(ready.addrs as string[]).includes(a)), 'the daemon listens on a new port')
    assert.deepEqual(await join.waitForExit(60_000), { code: 0, signal: null }, join.describe())
    const joined = jsonLines(join).find((o) => o.device !== undefined)
    assert.equal(joined?.name, 'phone')
    assert.equal(await phone.get('notes/first'), 'written before the invite')
    assert.ok((await laptop.devices()).some((d) => d.name === 'phone' && d.status === 'active'))
  })
})
