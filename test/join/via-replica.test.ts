/**
 * Joining while no device of the account is online: the joiner leaves its join request
 * at the registered replica the invite names, and the laptop, coming back on a new port
 * (so the invite's address reaches nothing), fetches it from the replica, checks it and
 * admits the phone; the phone learns it from the registry the replica serves and reads
 * what the laptop wrote.
 */
import assert from 'node:assert/strict'
import { joinAccount, type NodeAccount } from '../../src/node/account-dir.ts'
import { serveReplica, type ServedReplica } from '../../src/node/replica-dir.ts'
import { inviteId, parseInvite } from '../../src/invite/invite.ts'
import { Devices, LOOPBACK } from './helpers.ts'
import { removeDir, tempDir, waitFor } from '../helpers/device.ts'

describe('joining with no device online: a join request left at a replica', function () {
  this.timeout(90_000)
  let d: Devices
  let replica: ServedReplica | undefined
  let replicaDir: string
  let joining: Promise<NodeAccount> | undefined
  const stopJoin = new AbortController()

  beforeEach(async () => {
    d = new Devices()
    replicaDir = await tempDir('replica')
  })
  afterEach(async () => {
    stopJoin.abort()
    await (await joining?.catch(() => undefined))?.close()
    await replica?.close()
    replica = undefined
    await d.cleanup()
    await removeDir(replicaDir)
  })

  it('the laptop comes back on a new port, admits the request left at the replica, and the phone syncs through it', async () => {
    const laptop = await d.create('laptop')
    replica = await serveReplica({ dir: replicaDir, address: laptop.address, listen: LOOPBACK })
    const replicaAddr = replica.addrs().find((a) => a.includes('/tcp/') && !a.includes('/ws')) as string
    const replicaPeer = await laptop.addReplica(replicaAddr)
    const served = await replica.ready
    await laptop.put('notes/before', 'written before the phone joined')

    // Detached: recorded in the registry, then the laptop goes away without withdrawing it.
    const open = await laptop.invite({ ttlMs: 60_000, role: 'member' })
    const invite = parseInvite(open.text)
    assert.deepEqual(invite.replicas?.map((r) => r.peerId), [replicaPeer], 'the invite names the registered replica')
    const id = inviteId(invite.secret)
    await waitFor(() => served.state().invitations[id] !== undefined, 20_000, 'the replica to hold the invitation')
    await waitFor(async () => (await served.counts()).data >= 1, 20_000, 'the replica to hold the write')
    const oldAddrs = laptop.addrs()
    await d.stop('laptop')

    const progress: string[] = []
    joining = joinAccount({ dir: await d.dir('phone'), invite: open.text, name: 'phone', listen: LOOPBACK, signal: stopJoin.signal, onProgress: (m) => progress.push(m) })
    joining.catch(() => {})
    await waitFor(() => progress.some((m) => m.startsWith(`left a join request at the replica ${replicaPeer};`)), 30_000, 'the phone to leave its request at the replica')
    assert.deepEqual(replica.joinRequests().count, 1)
    // Nothing admits it while no device is online.
    await new Promise((resolve) => setTimeout(resolve, 1000))
    assert.equal(served.state().invitations[id]?.usedIn, undefined)

    const back = await d.start('laptop')
    assert.ok(back.addrs().every((a) => !oldAddrs.includes(a)), 'the laptop listens on a new port')
    const phone = await joining
    assert.equal(phone.get('notes/before'), 'written before the phone joined')
    assert.equal(back.state().invitations[id]?.usedIn !== undefined, true)
    assert.equal(phone.state().devices[phone.info().device]?.status, 'active')
    // Used: the replica drops it.
    await waitFor(() => replica?.joinRequests().count === 0, 15_000, 'the replica to drop the admitted request')
  })
})
