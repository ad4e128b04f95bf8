/**
 * A rotation interrupted by a crash: the revocation is in the registry but its rotation
 * is not. The admin finishes it when it starts again. Built on the core API, with the
 * test holding the OrbitDB instance (as a program embedding the library would).
 */
import assert from 'node:assert/strict'
import { createAccountCore, openAccountCore } from '../../src/account/open.ts'
import { revokeOp } from '../../acl/ops.ts'
import { base64urlEncode } from '../../src/crypto/bytes.ts'
import { makeSecrets, removeDir, startDevice, waitFor, type TestDevice } from '../helpers/device.ts'
import type { DeviceId } from '../../src/types.ts'

describe('rotation: crash recovery', function () {
  this.timeout(120_000)
  let laptop: TestDevice | undefined

  afterEach(async () => {
    await laptop?.stop()
    if (laptop !== undefined) await removeDir(laptop.dir)
    laptop = undefined
  })

  it('a revocation whose rotation never happened is finished by the admin on restart', async () => {
    laptop = await startDevice('laptop')
    const secrets = laptop.secrets
    const dir = laptop.dir
    const account = await createAccountCore({ orbitdb: laptop.orbitdb, secrets, mode: 'encrypted' })
    const phone = makeSecrets('phone')
    await account.admit({ device: phone.device, name: 'phone', signingKey: base64urlEncode(phone.signing.publicKey), boxKey: base64urlEncode(phone.box.publicKey) }, 'member')
    for (let i = 0; i < 20; i++) await account.put(`k${i}`, i)
    // The first half of a revocation, then the "crash": no rotate op.
    const registry = await laptop.orbitdb.open(account.address) as unknown as { append: (op: unknown) => Promise<string> }
    await registry.append(revokeOp({ device: phone.device as DeviceId }))
    const address = account.address
    await account.close()
    await laptop.stop()

    laptop = await startDevice('laptop', { dir, secrets })
    const back = await openAccountCore({ orbitdb: laptop.orbitdb, secrets, address })
    try {
      await waitFor(() => back.info().epoch === 1, 30_000, 'the restarted laptop to finish the rotation')
      const state = back.state()
      assert.equal(state.needsRotation, false)
      assert.equal(state.epoch?.lockboxes[phone.device], undefined, 'the revoked phone gets no key of the new epoch')
      assert.ok(state.epoch?.lockboxes[secrets.device] !== undefined)
      assert.equal(Object.keys(back.all()).length, 20)
      assert.equal(back.get('k19'), 19)
    } finally {
      await back.close()
    }
  })
})
