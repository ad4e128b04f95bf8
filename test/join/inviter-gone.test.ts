/**
 * The inviting device goes away in the middle of a join, at each step of the joining
 * device's sync. If it comes back (a dropped connection, a restarted daemon), the join
 * finishes; if it stays away, the join ends with JOIN_FAILED and leaves nothing behind,
 * without waiting out a block fetch's 30 s timeout.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { access } from 'node:fs/promises'
import { joinAccount, type NodeAccount } from '../../src/node/account-dir.ts'
import { OrbitAccountError } from '../../src/errors.ts'
import { Devices, LOOPBACK } from './helpers.ts'

const exists = async (path: string): Promise<boolean> => await access(path).then(() => true, () => false)
const STEPS = ['syncing the device registry', 'syncing app data']

describe('join: the inviter goes away while the new device syncs', function () {
  this.timeout(60_000)
  let d: Devices
  beforeEach(() => { d = new Devices() })
  afterEach(async () => { await d.cleanup() })

  /** Joins the laptop's account as `phone`, calling `away` once the phone reports `step`. */
  const joinWith = async (step: string, away: (laptop: NodeAccount) => Promise<void>, inviterReturnMs: number): Promise<{ result: NodeAccount | unknown, progress: string[], dir: string, awayCalled: boolean }> => {
    const laptop = await d.create('laptop')
    await laptop.put('notes/1', 'written before the join')
    const invite = await laptop.invite({ ttlMs: 60_000, role: 'member' })
    invite.admitted.catch(() => {})
    const dir = await d.dir('phone')
    const progress: string[] = []
    let gone: Promise<void> | undefined
    const result = await joinAccount({
      dir,
      invite: invite.text,
      name: 'phone',
      listen: LOOPBACK,
      inviterReturnMs,
      onProgress: (message) => {
        progress.push(message)
        if (message === step) gone ??= away(laptop)
      }
    }).catch((err: unknown) => err)
    await gone
    return { result, progress, dir, awayCalled: gone !== undefined }
  }

  for (const step of STEPS) {
    it(`stays away at "${step}": JOIN_FAILED once the wait for it ends, and no account left`, async () => {
      // The laptop's node stops at once, as if its process were killed.
      const { result, progress, dir, awayCalled } = await joinWith(step, async (laptop) => { await laptop.node.libp2p.stop() }, 1500)
      assert.ok(awayCalled, `the join never reported "${step}"`)
      assert.ok(result instanceof OrbitAccountError, `the join should fail with a typed error, not ${String(result)}`)
      assert.equal(result.code, 'JOIN_FAILED', result.message)
      assert.match(result.message, /did not come back/)
      assert.ok(progress.includes('the inviting device went away; trying to reach it again'), progress.join(' | '))
      assert.equal(await exists(join(dir, 'config.json')), false, 'a failed join left an account behind')
      assert.equal(await exists(join(dir, 'keys.json')), false, 'a failed join left its keys behind')
    })

    it(`comes back at "${step}": the join finishes with the history`, async () => {
      // Every connection between them drops; the laptop itself stays up.
      const { result, progress } = await joinWith(step, async (laptop) => {
        await Promise.all(laptop.node.libp2p.getConnections().map(async (c) => { await c.close() }))
      }, 20_000)
      assert.ok(!(result instanceof Error), `the join failed: ${String(result)}`)
      const phone = result as NodeAccount
      d.open.set('phone', phone)
      assert.equal(phone.get('notes/1'), 'written before the join')
      assert.ok(progress.includes('the inviting device went away; trying to reach it again') && progress.includes('reached the inviting device again'), progress.join(' | '))
    })
  }
})
