/**
 * Invitations recorded in the registry, on real nodes over loopback: an invite stays
 * single-use across the inviter's restarts, a member device can complete an admission
 * that the admin's invitation authorized, and a joiner waits for an inviter that is
 * offline until it comes back.
 */
import assert from 'node:assert/strict'
import { joinAccount, openAccount, type NodeAccount } from '../../src/node/account-dir.ts'
import { encodeInvite, inviteId, parseInvite } from '../../src/invite/invite.ts'
import { waitFor } from '../helpers/device.ts'
import { Devices, LOOPBACK } from './helpers.ts'

/** The inviter's TCP listen address (without /p2p/), to come back on after a restart. */
const tcpAddr = (account: NodeAccount): string => {
  const addr = account.addrs().find((a) => a.includes('/tcp/') && !a.includes('/ws'))
  if (addr === undefined) throw new Error('no TCP address')
  return addr.replace(/\/p2p\/[^/]+$/, '')
}

describe('join: invitations in the registry', function () {
  this.timeout(120_000)
  let d: Devices
  beforeEach(() => { d = new Devices() })
  afterEach(async () => { await d.cleanup() })

  /** Restarts `name` listening where it listened before (the address its invites carry). */
  const restartAt = async (name: string, addr: string): Promise<NodeAccount> => {
    await d.stop(name)
    const account = await openAccount({ dir: await d.dir(name), listen: [addr] })
    d.open.set(name, account)
    return account
  }

  it('a used invite is INVITE_USED after the laptop restarts, and admits nobody', async () => {
    const laptop = await d.create('laptop')
    const addr = tcpAddr(laptop)
    const open = await laptop.invite({ ttlMs: 60_000, role: 'member' })
    const phone = await joinAccount({ dir: await d.dir('phone'), invite: open.text, name: 'phone', listen: LOOPBACK })
    d.open.set('phone', phone)
    await open.admitted
    await d.stop('phone')
    const back = await restartAt('laptop', addr)
    assert.ok(back.state().invitations[inviteId(parseInvite(open.text).secret)]?.usedIn !== undefined, 'the registry records the invitation as used')
    await assert.rejects(
      joinAccount({ dir: await d.dir('tablet'), invite: open.text, name: 'tablet', listen: LOOPBACK }),
      { code: 'INVITE_USED' }
    )
    assert.deepEqual(back.devices().map((x) => x.name), ['laptop', 'phone'])
  })

  it("a member phone admits a tablet with the laptop's invitation while the laptop is away, and the laptop agrees", async () => {
    const laptop = await d.create('laptop')
    await laptop.put('notes/1', 'before')
    const phone = await d.join('phone', 'laptop')
    const open = await laptop.invite({ ttlMs: 60_000, role: 'member' })
    const id = inviteId(parseInvite(open.text).secret)
    await waitFor(() => phone.state().invitations[id] !== undefined, 15_000, 'the phone to sync the invitation')
    await d.stop('laptop')
    // The same invite, reaching the phone (as an invite that carries other devices' addresses would).
    const toPhone = encodeInvite({ ...parseInvite(open.text), peerId: phone.peerId(), addrs: [tcpAddr(phone)] })
    const tablet = await joinAccount({ dir: await d.dir('tablet'), invite: toPhone, name: 'tablet', listen: LOOPBACK })
    d.open.set('tablet', tablet)
    assert.equal(tablet.get('notes/1'), 'before')
    assert.equal(tablet.devices().find((x) => x.name === 'tablet')?.addedBy, phone.device)
    // The laptop, back, counts the member's admission too.
    const back = await d.start('laptop')
    await d.connect('laptop', 'phone', 'registry')
    await waitFor(() => back.devices().some((x) => x.name === 'tablet' && x.status === 'active'), 15_000, 'the laptop to count the tablet')
    assert.equal(back.state().invitations[id]?.admitted, tablet.device)
  })

  it('a withdrawn invite (cancelled) is refused after the laptop restarts', async () => {
    const laptop = await d.create('laptop')
    const addr = tcpAddr(laptop)
    const open = await laptop.invite({ ttlMs: 60_000, role: 'member' })
    open.cancel()
    await assert.rejects(open.admitted, { code: 'INVITE_EXPIRED' })
    const back = await restartAt('laptop', addr)
    assert.ok(back.state().invitations[inviteId(parseInvite(open.text).secret)]?.withdrawnIn !== undefined, 'the withdrawal is in the registry')
    await assert.rejects(
      joinAccount({ dir: await d.dir('phone'), invite: open.text, name: 'phone', listen: LOOPBACK }),
      { code: 'INVITE_REJECTED', message: /withdrawn/ }
    )
    assert.equal(back.devices().length, 1)
  })

  it('a detached invite: the laptop goes offline, the join waits, the laptop comes back and admits it', async () => {
    const laptop = await d.create('laptop')
    const addr = tcpAddr(laptop)
    await laptop.put('notes/1', 'written before the invite')
    const open = await laptop.invite({ ttlMs: 60_000, role: 'member' })
    await d.stop('laptop')
    const progress: string[] = []
    const joining = joinAccount({ dir: await d.dir('phone'), invite: open.text, name: 'phone', listen: LOOPBACK, onProgress: (m) => progress.push(m) })
    joining.catch(() => {})
    await waitFor(() => progress.some((m) => m.includes('no device of the account answers')), 20_000, 'the join to say what it waits for')
    const back = await restartAt('laptop', addr)
    const phone = await joining
    d.open.set('phone', phone)
    assert.equal(phone.get('notes/1'), 'written before the invite')
    assert.equal(back.devices().find((x) => x.name === 'phone')?.status, 'active')
  })
})
