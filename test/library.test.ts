/**
 * The library's public surface (`src/index.ts`, what `import ... from 'orbit-account'`
 * gives): the README's example, then a second device by invite, a private account's
 * swarm key handed to a blind replica as text, and a revocation, all through it alone.
 */
import assert from 'node:assert/strict'
import { createAccount, joinAccount, parseSwarmKey, serveReplica, swarmKeyHex, OrbitAccountError, type Change, type NodeAccount, type ServedReplica } from '../src/index.ts'
import { removeDir, tempDir, waitFor } from './helpers/device.ts'

const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']

describe('the library, through its public surface', function () {
  this.timeout(120_000)
  const open: Array<NodeAccount | ServedReplica> = []
  const dirs: string[] = []
  const dir = async (label: string): Promise<string> => { const d = await tempDir(label); dirs.push(d); return d }
  afterEach(async () => {
    for (const x of open.splice(0).reverse()) await x.close().catch(() => {})
    for (const d of dirs.splice(0)) await removeDir(d)
  })

  it('the README example, then a device by invite, a replica given the swarm key as text, and a revocation', async () => {
    const laptop = await createAccount({ dir: await dir('laptop'), name: 'laptop', mode: 'private', listen: LOOPBACK })
    open.push(laptop)
    const changes: Change[] = []
    const stop = laptop.watch((change) => changes.push(change))
    await laptop.put('settings/theme', 'dark')
    assert.equal(laptop.get('settings/theme'), 'dark')
    assert.deepEqual(laptop.all({ prefix: 'settings/' }), { 'settings/theme': 'dark' })
    assert.deepEqual(changes.map((c) => [c.key, c.value, c.op]), [['settings/theme', 'dark', 'put']])
    stop()

    const invite = await laptop.invite({ ttlMs: 60_000, role: 'member' })
    const phone = await joinAccount({ dir: await dir('phone'), invite: invite.text, name: 'phone', listen: LOOPBACK })
    open.push(phone)
    assert.equal((await invite.admitted).name, 'phone')
    assert.equal(phone.get('settings/theme'), 'dark')

    const swarm = laptop.swarm()
    assert.ok(swarm !== undefined, 'a private account has a swarm key')
    const replica = await serveReplica({ dir: await dir('replica'), address: laptop.address, listen: LOOPBACK, swarmKey: parseSwarmKey(swarmKeyHex(swarm.key)) })
    open.push(replica)
    await laptop.syncWith(replica.addrs(), 15_000, 'registry')
    const served = await replica.ready
    await waitFor(async () => (await served.counts()).data >= 1, 20_000, 'the replica to hold the write')

    const { revoked, epoch } = await laptop.revoke('phone')
    assert.equal(revoked, phone.device)
    assert.equal(epoch, 1)
    assert.deepEqual(laptop.devices().map((x) => [x.name, x.status]), [['laptop', 'active'], ['phone', 'revoked']])
    await assert.rejects(laptop.revoke('phone'), (err: unknown) => err instanceof OrbitAccountError && err.code === 'ALREADY_REVOKED')
  })
})
