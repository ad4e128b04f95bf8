/**
 * Back-dated revocations by a thief (issue #11, item 1). A device is stolen; an honest
 * admin revokes it (a rotation to epoch 1). The thief runs a node of its own with the
 * stolen device's real keys and announces one registry entry: a revocation whose `next`
 * are registry heads from before its own revocation. Under the old "seniority decides"
 * rule that revocation undid the thief's and the account sealed later keys to it. Under
 * the new rules it may still count (the thief was an admin in that past: denial of
 * service), but the thief must never get back in: every honest device agrees it is
 * revoked, no lockbox of a later epoch is sealed to it, and it reads no later write.
 */
import assert from 'node:assert/strict'
import { genesisOp, revokeOp } from '../../acl/ops.ts'
import type { AccountState } from '../../acl/types.ts'
import type { NodeAccount } from '../../src/node/account-dir.ts'
import type { DeviceId } from '../../src/types.ts'
import type { BaseDatabase, LogEntry } from '../../src/orbit/orbitdb.ts'
import { randomBytes, base64urlEncode } from '../../src/crypto/bytes.ts'
import { removeDir, waitFor, type TestDevice } from '../helpers/device.ts'
import { Devices } from '../join/helpers.ts'
import { announce, clockAfter, decryptAll, spyOn, stealDevice, stolenKeys } from './thief-helpers.ts'

/** What honest devices must agree on: every device's status, and the current epoch. */
const summary = (s: AccountState): string => JSON.stringify({
  devices: Object.values(s.devices).map((x) => [x.device, x.status]).sort(),
  epoch: [s.epoch?.epoch, s.epoch?.dataLog],
  needsRotation: s.needsRotation
})

const idOf = (account: NodeAccount, name: string): DeviceId => {
  const record = Object.values(account.state().devices).find((x) => x.name === name)
  if (record === undefined) throw new Error(`no device ${name}`)
  return record.device
}

describe('revocation under attack: a back-dated counter-revocation by the thief', function () {
  this.timeout(240_000)
  let d: Devices
  let thief: TestDevice | undefined
  const spied: BaseDatabase[] = []

  beforeEach(() => {
    d = new Devices()
    thief = undefined
    spied.length = 0
  })
  afterEach(async () => {
    for (const db of spied) await db.close().catch(() => {})
    await thief?.stop()
    if (thief !== undefined) await removeDir(thief.dir)
    await d.cleanup()
  })

  interface Attack {
    /** The honest devices still running (the stolen one is closed). */
    honest: NodeAccount[]
    stolen: string
    /** The honest admin who revokes the stolen device. */
    revoker: NodeAccount
    /** The honest device that writes a secret after the revocation, before the attack (one that stays active). */
    writer: NodeAccount
    /** The device the thief revokes, back-dated. */
    target: string
    /** The registry heads the thief's revocation names as its `next`. */
    before: string[]
  }

  /**
   * Runs the attack and checks its aftermath: the thief steals `stolen`, the revoker
   * revokes it, the writer writes a secret, the thief announces the back-dated
   * revocation; once the honest devices settle, an active one writes another secret.
   */
  const attack = async (a: Attack): Promise<void> => {
    const address = a.revoker.address
    const stolenId = idOf(a.revoker, a.stolen)
    const targetId = idOf(a.revoker, a.target)
    const epoch0 = a.revoker.state().epoch
    assert.ok(epoch0 !== null && epoch0.epoch === 0)
    await d.stop(a.stolen)
    // The thief starts its node with the stolen keys before the owner notices, and
    // follows the data log of the epoch it holds the key of.
    const t = await stealDevice(d, a.stolen, a.honest)
    thief = t
    const old = await spyOn(t, epoch0.dataLog)
    spied.push(old)
    await waitFor(async () => (await old.log.values()).length > 0, 20_000, 'the thief to fetch the epoch-0 log')

    await a.revoker.revoke(a.stolen)
    for (const device of a.honest) {
      await waitFor(() => device.info().epoch === 1, 30_000, `${device.info().name} to move to epoch 1`).catch((e: unknown) => {
        throw new Error(`${String(e)}: it is in epoch ${device.info().epoch}, its registry at ${device.state().epoch?.epoch}, ${JSON.stringify(device.rejected())}`)
      })
    }
    const before = `before-${base64urlEncode(randomBytes(12))}`
    await a.writer.put('secret/before', before)
    const epoch1 = a.revoker.state().epoch?.dataLog as string
    spied.push(await spyOn(t, epoch1))

    const time = await clockAfter(t, a.before)
    const forged: LogEntry = await announce(t, address, revokeOp({ device: targetId }), a.before, time)
    for (const device of a.honest) {
      await waitFor(() => device.state().devices[targetId]?.revokedIn === forged.hash || device.state().ignored.some((i) => i.hash === forged.hash),
        20_000, `${device.info().name} to receive the back-dated revocation`)
    }
    // Settle: the same state everywhere, no rotation called for, the active devices in the current epoch.
    await waitFor(() => {
      const states = a.honest.map((x) => x.state())
      const first = states[0] as AccountState
      return !first.needsRotation && states.every((s) => summary(s) === summary(first)) &&
        a.honest.every((x) => x.state().devices[x.device]?.status !== 'active' || x.info().epoch === first.epoch?.epoch)
    }, 90_000, 'the honest devices to settle on one state')
    const states = a.honest.map((x) => x.state())
    const final = states[0] as AccountState

    for (const state of states) assert.equal(state.devices[stolenId]?.status, 'revoked', 'the stolen device is revoked on every honest device')
    // No lockbox of a later epoch is sealed to the thief, in any epoch any honest device knows.
    for (const state of states) {
      for (const e of [...state.epochs, ...state.supersededEpochs]) {
        assert.ok(e.epoch <= epoch0.epoch || e.lockboxes[stolenId] === undefined, `a lockbox of epoch ${e.epoch} (${e.startedIn}) is sealed to the thief`)
      }
      for (const [e, boxes] of Object.entries(state.addedLockboxes)) {
        assert.ok(Number(e) <= epoch0.epoch || boxes[stolenId] === undefined, `an added lockbox of epoch ${e} is sealed to the thief`)
      }
    }
    const keys = stolenKeys(t, address, states)
    assert.deepEqual([...keys.keys()], [epoch0.epoch], 'the thief opens the epoch-0 lockbox only')

    // A write after the attack, by a device still active (if any is left).
    const after = `after-${base64urlEncode(randomBytes(12))}`
    const active = a.honest.find((x) => final.devices[x.device]?.status === 'active')
    const logs = new Set([...final.epochs, ...final.supersededEpochs].map((e) => e.dataLog))
    for (const log of logs) if (log !== epoch0.dataLog && log !== epoch1) spied.push(await spyOn(t, log))
    if (active !== undefined) {
      await active.put('secret/after', after)
      const written = (await active.heads()).dataHeads
      const current = spied.find((db) => db.address === final.epoch?.dataLog)
      assert.ok(current !== undefined)
      // The thief fetches the ciphertext of the write: it only lacks the key.
      await waitFor(async () => (await Promise.all(written.map(async (h) => await current.log.has(h)))).every(Boolean), 30_000, 'the thief to fetch the later write')
    }
    const maxEpoch = Math.max(...states.flatMap((s) => [...s.epochs, ...s.supersededEpochs].map((e) => e.epoch)))
    const read: Array<{ log: string, hash: string, text: string }> = []
    for (const db of spied) for (const r of decryptAll(keys, address, await db.log.values(), maxEpoch)) read.push({ log: db.address, ...r })
    assert.ok(read.some((r) => r.text.includes('bank/pin')), 'the thief reads what was written before its revocation (so the check can see a leak)')
    const leaks = read.filter((r) => r.text.includes(before) || r.text.includes(after))
    assert.deepEqual(leaks, [], `the thief reads a write made after its revocation (${before} before the attack, ${after} after it)`)
  }

  it('by a senior admin: the stolen phone revokes the tablet that revoked it', async () => {
    const laptop = await d.create('laptop')
    await laptop.put('bank/pin', '1234')
    await d.join('phone', 'laptop', 'admin')
    const tablet = await d.join('tablet', 'laptop', 'admin')
    await waitFor(() => tablet.devices().length === 3, 20_000, 'the tablet to know the phone')
    const before = (await tablet.heads()).registryHeads
    await attack({ honest: [laptop, tablet], stolen: 'phone', revoker: tablet, writer: laptop, target: 'tablet', before })
  })

  it('by the founder: the stolen laptop revokes the tablet that revoked it', async () => {
    const laptop = await d.create('laptop')
    await laptop.put('bank/pin', '1234')
    const phone = await d.join('phone', 'laptop', 'admin')
    const tablet = await d.join('tablet', 'laptop', 'admin')
    await waitFor(() => tablet.devices().length === 3 && phone.devices().length === 3, 20_000, 'the phone and the tablet to know each other')
    // Both joined through the laptop: connect them, or they lose touch when it is stolen.
    await d.connect('phone', 'tablet', 'registry')
    const before = (await tablet.heads()).registryHeads
    await attack({ honest: [phone, tablet], stolen: 'laptop', revoker: tablet, writer: phone, target: 'tablet', before })
    // A second genesis, signed with the founder's stolen keys and an earlier clock than the
    // real one: without the account's one-time genesis key it is no genesis at all.
    const founder = phone.state().devices[laptop.device]
    assert.ok(founder !== undefined && thief !== undefined)
    const fake = genesisOp({ mode: 'encrypted', founder, dataLog: '/orbitdb/zdpuTheThiefsOwnDataLog', lockboxes: {} })
    const entry = await announce(thief, laptop.address, fake, [], 0)
    for (const device of [phone, tablet]) {
      const epoch = device.state().epoch?.startedIn
      await waitFor(() => device.state().ignored.some((i) => i.hash === entry.hash), 20_000, `${device.info().name} to refuse the second genesis`)
      assert.match(device.state().ignored.find((i) => i.hash === entry.hash)?.reason ?? '', /not sealed|voided by revocation/)
      assert.equal(device.state().epoch?.startedIn, epoch)
      assert.equal(device.state().devices[device.device]?.status, device === phone ? 'active' : 'revoked')
    }
  })

  it('of the revoker\'s adder: the stolen phone revokes the laptop back-dated to before the laptop admitted the tablet', async () => {
    const laptop = await d.create('laptop')
    await laptop.put('bank/pin', '1234')
    const desktop = await d.join('desktop', 'laptop', 'admin')
    await d.join('phone', 'laptop', 'admin')
    await waitFor(() => desktop.devices().length === 3, 20_000, 'the desktop to know the phone')
    // The thief's revocation will name these heads: the laptop's admission of the tablet is not in its past.
    const before = (await laptop.heads()).registryHeads
    const tablet = await d.join('tablet', 'laptop', 'admin')
    await waitFor(() => tablet.devices().length === 4 && desktop.devices().length === 4, 20_000, 'everyone to know the tablet')
    await attack({ honest: [laptop, desktop, tablet], stolen: 'phone', revoker: tablet, writer: desktop, target: 'laptop', before })
  })
})
