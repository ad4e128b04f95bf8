/**
 * Recovery words, as a person uses them: every device lost, a new machine brings the
 * account back through a blind replica alone; a thief with an old device's keys gets
 * nothing afterwards. Real nodes on loopback.
 */
import assert from 'node:assert/strict'
import { readdir } from 'node:fs/promises'
import { Devices, LOOPBACK } from '../join/helpers.ts'
import { removeDir, tempDir, waitFor } from '../helpers/device.ts'
import { createAccount, recoverAccount, type NodeAccount } from '../../src/node/account-dir.ts'
import { serveReplica, type ServedReplica } from '../../src/node/replica-dir.ts'
import { generateRecoveryWords, recoveryKeysFromWords } from '../../src/account/recovery-words.ts'
import { lockboxFor } from '../../acl/reducer.ts'
import { revokeOp } from '../../acl/ops.ts'
import { announce, stealDevice } from '../rotation/thief-helpers.ts'

describe('recovery words', function () {
  this.timeout(180_000)
  let d: Devices
  let replica: ServedReplica | undefined
  let replicaDir: string
  let words: string
  let laptop: NodeAccount

  beforeEach(async () => {
    d = new Devices()
    replicaDir = await tempDir('replica')
    words = generateRecoveryWords()
    laptop = await createAccount({ dir: await d.dir('laptop'), name: 'laptop', listen: LOOPBACK, recoveryWords: words })
    d.open.set('laptop', laptop)
  })
  afterEach(async () => {
    await replica?.close()
    replica = undefined
    await d.cleanup()
    await removeDir(replicaDir)
  })

  /** A replica that has fetched the account and holds `n` data entries at least. */
  const startReplica = async (n: number): Promise<ServedReplica> => {
    replica = await serveReplica({ dir: replicaDir, address: laptop.address, listen: LOOPBACK })
    await laptop.syncWith(replica.addrs(), 15_000, 'registry')
    const served = await replica.ready
    await waitFor(async () => (await served.counts()).data >= n, 20_000, 'the replica to hold the data')
    return replica
  }
  const replicaAddr = (r: ServedReplica): string => `${r.addrs()[0] as string}`

  it('every device lost: a new machine recovers through a blind replica alone, reads the data and revokes the old devices; the old laptop\'s thief gets nothing after', async () => {
    await laptop.put('bank/pin', '1234')
    await d.join('phone', 'laptop', 'admin')
    const r = await startReplica(1)
    await d.stop('phone')
    const laptopDir = await d.dir('laptop')
    await d.stop('laptop')

    // Extra spaces, line breaks and capitals, as a person types them.
    const typed = `  ${words.split(' ').slice(0, 12).join('  ').toUpperCase()}\n${words.split(' ').slice(12).join(' ')}  `
    const progress: string[] = []
    const fresh = await recoverAccount({ dir: await d.dir('fresh'), address: laptop.address, words: typed, name: 'fresh', peers: [replicaAddr(r)], listen: LOOPBACK, revokeOthers: true, onProgress: (m) => progress.push(m) })
    d.open.set('fresh', fresh)
    assert.equal(fresh.get('bank/pin'), '1234')
    const state = fresh.state()
    assert.equal(state.devices[fresh.device]?.role, 'admin')
    assert.equal(state.devices[fresh.device]?.addedBy, state.recovery?.device)
    assert.deepEqual(fresh.devices().map((x) => [x.name, x.status]).sort(), [['fresh', 'active'], ['laptop', 'revoked'], ['phone', 'revoked']])
    assert.ok(progress.some((m) => /admitting this device with the recovery key/.test(m)), progress.join('; '))
    await waitFor(() => fresh.state().needsRotation === false && fresh.info().epoch >= 1, 30_000, 'the new device to rotate the old devices out')
    await fresh.put('bank/pin', '9999')

    // The thief runs the old laptop's keys on a node of its own, next to the replica and the new device.
    const thief = await stealDevice(d, 'laptop', [fresh])
    try {
      const now = fresh.state()
      const current = now.epoch
      assert.ok(current !== null)
      for (const e of now.epochs.filter((x) => x.epoch >= 1)) assert.equal(lockboxFor(now, e.epoch, laptop.device), undefined, `the laptop holds a key of epoch ${e.epoch}`)
      // A revocation of the new device, signed with the laptop's keys: the laptop is revoked, so it does not count.
      const entry = await announce(thief, laptop.address, revokeOp({ device: fresh.device }), (await fresh.heads()).registryHeads)
      await waitFor(() => fresh.state().ignored.some((i) => i.hash === entry.hash), 20_000, 'the new device to refuse or void the thief\'s revocation')
      assert.equal(fresh.state().devices[fresh.device]?.status, 'active')
    } finally {
      await thief.stop()
      await removeDir(thief.dir)
    }
    assert.ok(laptopDir.length > 0)
  })

  it('a stolen admin that back-dates revocations of every other device: the words admit a new device, and the thief stays revoked', async () => {
    await laptop.put('bank/pin', '1234')
    const phone = await d.join('phone', 'laptop', 'admin')
    const before = (await laptop.heads()).registryHeads
    await d.stop('phone')
    await laptop.revoke('phone')
    const thief = await stealDevice(d, 'phone', [laptop])
    try {
      const backdated = await announce(thief, laptop.address, revokeOp({ device: laptop.device }), before)
      await waitFor(() => laptop.state().devices[laptop.device]?.status === 'revoked', 20_000, 'the thief\'s back-dated revocation of the laptop to count')
      assert.ok(!laptop.state().ignored.some((i) => i.hash === backdated.hash))
      assert.deepEqual(laptop.devices().filter((x) => x.status === 'active'), [])
      // The person takes the account back from the laptop's node (still running, revoked). The
      // laptop's rotation was voided with it, so the current epoch is the old one, whose log it
      // no longer serves: the new device is admitted all the same, and rotates.
      const fresh = await recoverAccount({ dir: await d.dir('fresh'), address: laptop.address, words, name: 'fresh', peers: laptop.addrs(), listen: LOOPBACK, dataWaitMs: 2000 })
      d.open.set('fresh', fresh)
      await waitFor(() => fresh.state().needsRotation === false, 30_000, 'the new device to rotate the revoked devices out')
      const state = fresh.state()
      assert.equal(state.devices[fresh.device]?.status, 'active')
      assert.equal(state.devices[phone.device]?.status, 'revoked')
      for (const e of state.epochs) {
        if (e.epoch > 0) assert.equal(lockboxFor(state, e.epoch, phone.device), undefined, `the thief holds a key of epoch ${e.epoch}`)
      }
      // Another back-dated revocation, of the new device this time, cannot name it: it was not there before.
      const again = await announce(thief, laptop.address, revokeOp({ device: fresh.device }), before)
      await waitFor(() => fresh.state().ignored.some((i) => i.hash === again.hash) || fresh.rejected().registry > 0, 20_000, 'the new device to refuse the thief\'s revocation')
      assert.equal(fresh.state().devices[fresh.device]?.status, 'active')
    } finally {
      await thief.stop()
      await removeDir(thief.dir)
    }
  })

  it('wrong words, a bad checksum and words of another account are refused, and nothing is written', async () => {
    await laptop.put('k', 1)
    const r = await startReplica(1)
    const list = words.split(' ')
    const swapped = [...list.slice(0, 22), list[23], list[22]].join(' ')
    const attempts: Array<[string, string]> = [
      ['not recovery words at all', 'INVALID_RECOVERY_WORDS'],
      [list.slice(0, 23).join(' '), 'INVALID_RECOVERY_WORDS'],
      [[...list.slice(0, 23), 'zzzz'].join(' '), 'INVALID_RECOVERY_WORDS'],
      ...(swapped !== words ? [[swapped, 'INVALID_RECOVERY_WORDS'] as [string, string]] : []),
      [generateRecoveryWords(), 'WRONG_RECOVERY_WORDS']
    ]
    for (const [attempt, code] of attempts) {
      const dir = await tempDir('attempt')
      try {
        await assert.rejects(recoverAccount({ dir, address: laptop.address, words: attempt, name: 'fresh', peers: [replicaAddr(r)], listen: LOOPBACK }), { code })
        assert.deepEqual((await readdir(dir)).filter((f) => f === 'account.json' || f === 'keys.json'), [], `files left by ${code}`)
      } finally {
        await removeDir(dir)
      }
    }
    assert.deepEqual(laptop.devices().map((x) => x.name), ['laptop'])
  })

  it('recovery rotate: the new words work and the old ones are refused; no device can set another key', async () => {
    const fresh = generateRecoveryWords()
    await laptop.replaceRecovery(recoveryKeysFromWords(words), recoveryKeysFromWords(fresh).descriptor)
    assert.equal(laptop.state().recovery?.device, recoveryKeysFromWords(fresh).descriptor.device)
    await assert.rejects(laptop.setRecovery(recoveryKeysFromWords(generateRecoveryWords()).descriptor), { code: 'NOT_AUTHORIZED' })
    await assert.rejects(laptop.replaceRecovery(recoveryKeysFromWords(words), recoveryKeysFromWords(generateRecoveryWords()).descriptor), { code: 'WRONG_RECOVERY_WORDS' })
    // The laptop rotates so the old words hold no key of the current epoch.
    await waitFor(() => laptop.state().needsRotation === false && laptop.info().epoch === 1, 30_000, 'the laptop to rotate the old recovery key out')
    await laptop.put('k', 2)
    const r = await startReplica(1)
    const dir = await tempDir('old-words')
    try {
      await assert.rejects(recoverAccount({ dir, address: laptop.address, words, name: 'old', peers: [replicaAddr(r)], listen: LOOPBACK }), { code: 'WRONG_RECOVERY_WORDS' })
    } finally {
      await removeDir(dir)
    }
    const back = await recoverAccount({ dir: await d.dir('back'), address: laptop.address, words: fresh, name: 'back', peers: [replicaAddr(r)], listen: LOOPBACK })
    d.open.set('back', back)
    await waitFor(() => back.get('k') === 2, 20_000, 'the recovered device to read the data')
  })
})
