/**
 * A new device decrypts each snapshot part once. The parts are decoded as soon as each is
 * checked, while the rest of the snapshot is still on its way (the database's EarlyWork),
 * and the join applies those ops: were the two keyed apart, every part would be decrypted
 * twice. Counted on Node's native ChaCha20-Poly1305, which opens every part (256 KiB of
 * JSON, deflated to some tens of KiB).
 */
import assert from 'node:assert/strict'
import { NATIVE_AEAD_FROM, useNativeChaCha } from '../../src/crypto/aead.ts'
import { nodeChaCha } from '../../src/node/native-aead.ts'
import { Devices } from '../join/helpers.ts'
import { waitFor } from '../helpers/device.ts'

const KEYS = 6000

describe('a new device and the snapshot parts', function () {
  this.timeout(180_000)
  let d: Devices
  beforeEach(() => { d = new Devices() })
  afterEach(async () => {
    useNativeChaCha(nodeChaCha)
    await d.cleanup()
  })

  it('decrypts each part once, and reads every key', async () => {
    const laptop = await d.create('laptop')
    const entries: Record<string, { i: number, note: string }> = {}
    for (let i = 0; i < KEYS; i++) entries[`item/${String(i).padStart(5, '0')}`] = { i, note: `value ${i} `.repeat(10) }
    await laptop.putMany(entries)

    // Every part the phone opens, by its nonce (the laptop writes its own parts, and reads none back).
    const opened: string[] = []
    useNativeChaCha({
      seal: nodeChaCha.seal,
      open: (key, nonce, sealed, aad) => {
        if (sealed.length >= 8 * 1024) opened.push(Buffer.from(key.subarray(0, 8)).toString('hex') + Buffer.from(nonce).toString('hex'))
        return nodeChaCha.open(key, nonce, sealed, aad)
      }
    })
    // The invite compacts first: the phone gets the state as a snapshot, not the batch.
    const phone = await d.join('phone', 'laptop')
    await waitFor(() => Object.keys(phone.all()).length === KEYS, 120_000, 'every key on the phone')
    assert.deepEqual(phone.all(), laptop.all())
    assert.ok(NATIVE_AEAD_FROM < 8 * 1024)
    const parts = new Set(opened)
    assert.ok(parts.size >= 2, `a snapshot of several parts (${parts.size})`)
    assert.equal(opened.length, parts.size, `each part decrypted once: ${opened.length} opens of ${parts.size} parts`)
  })
})
