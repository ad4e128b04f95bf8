/**
 * `replica add|remove` with real processes: the laptop's daemon registers a blind
 * replica (a handshake gives its peer id and key); a phone that joined afterwards, started
 * with no --peer while the laptop is off, syncs the laptop's write through the replica.
 */
import assert from 'node:assert/strict'
import { LOOPBACK, Sandbox, type JsonObject, type Running } from './helpers.ts'
import { eventually, Persona } from './join-helpers.ts'

/** `serve <address>` in `box`, once it printed its ready line. */
const startServe = async (box: Sandbox, address: string): Promise<{ proc: Running, ready: JsonObject }> => {
  const proc = box.spawn(['serve', address, '--listen', LOOPBACK])
  const line = await proc.waitForLine('stdout', (l) => l.startsWith('{') && l.includes('"ready"'), 60_000)
  return { proc, ready: JSON.parse(line) as JsonObject }
}

describe('replica add|remove: replica records in the registry', function () {
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

  it('registered once, the replica carries a write to a phone that joined later, with no --peer', async () => {
    await laptop.create()
    await laptop.startDaemon()
    const account = String((await laptop.box.json(['status'])).account)
    const serve = await startServe(replicaBox, account)
    const first = String((serve.ready.addrs as string[])[0])
    const addr = first.includes('/p2p/') ? first : `${first}/p2p/${String(serve.ready.peerId)}`

    const added = await laptop.box.json(['replica', 'add', addr])
    assert.equal(added.replica, serve.ready.peerId)
    const shown = await laptop.openInvite()
    await phone.join(shown.invite)
    await shown.admitted()
    const member = await phone.box.run(['replica', 'add', addr])
    assert.match(member.stderr, /"NOT_AUTHORIZED"/)

    await laptop.put('notes/for-the-phone', 'through the replica')
    await serve.proc.waitForLine('stderr', (l) => l.startsWith('replicating '), 45_000)
    // Give the replica the write, then the laptop goes away for good.
    await new Promise((resolve) => setTimeout(resolve, 3000))
    await laptop.stopDaemon()

    await phone.startDaemon()
    await eventually('the phone to read the write through the replica', async () => await phone.get('notes/for-the-phone'), (v) => v === 'through the replica', 45_000)

    await laptop.startDaemon()
    assert.deepEqual(await laptop.box.json(['replica', 'remove', String(serve.ready.peerId)]), { removed: serve.ready.peerId })
    const again = await laptop.box.run(['replica', 'remove', String(serve.ready.peerId)])
    assert.match(again.stderr, /"UNKNOWN_DEVICE"/)
  })
})
