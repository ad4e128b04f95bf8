/**
 * The account's persisted state on disk (src/store/state-store.ts): one file per name in
 * `<dir>/state/`, owner-only, sealed under the device's state key: ChaCha20 then
 * HMAC-SHA256 over the name, the IV and the ciphertext (encrypt-then-MAC, both native:
 * a 100,000-key checkpoint is ~25 MB, sealed in ~40 ms where this machine's AES-GCM takes
 * ~200 ms), a fresh random nonce per write, so a file renamed onto another name does not open. A write goes to a
 * temporary file renamed over the old one: a process killed mid-write leaves the old file.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { CorruptStateError } from '../errors.ts'
import type { StateStore } from '../store/state-store.ts'

const MAGIC = Buffer.from('OAS2')
/** ChaCha20's IV in OpenSSL: a 4-byte block counter (zero) then the 12-byte nonce. */
const IV = 16
const TAG = 32
/** Bytes decrypted at a time. */
const CHUNK = 64 * 1024

const fileOf = (dir: string, name: string): string => {
  if (!/^[A-Za-z0-9._-]{1,200}$/.test(name)) throw new CorruptStateError(`not a state name: ${name.slice(0, 80)}`)
  return join(dir, `${name}.bin`)
}

/** The MAC of a sealed file: its magic, name, IV and ciphertext (encrypt-then-MAC). */
const macOf = (macKey: Buffer, name: string, iv: Uint8Array, body: Uint8Array): Buffer => {
  const h = createHmac('sha256', macKey)
  h.update(MAGIC)
  h.update(`${name.length}:${name}`)
  h.update(iv)
  h.update(body)
  return h.digest()
}

export const stateFiles = (dir: string, key: Uint8Array): StateStore => {
  // Two keys from one: ChaCha20 to encrypt, HMAC-SHA256 to authenticate.
  const encKey = createHmac('sha256', key).update('orbit-account/state/enc').digest()
  const macKey = createHmac('sha256', key).update('orbit-account/state/mac').digest()
  let made: Promise<unknown> | undefined
  return {
    read: async (name) => {
      let sealed: Buffer
      try {
        sealed = await readFile(fileOf(dir, name))
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
        throw err
      }
      if (sealed.length < MAGIC.length + IV + TAG || !sealed.subarray(0, MAGIC.length).equals(MAGIC)) throw new CorruptStateError(`${name}: not a state file`)
      const iv = sealed.subarray(MAGIC.length, MAGIC.length + IV)
      const tag = sealed.subarray(MAGIC.length + IV, MAGIC.length + IV + TAG)
      const body = sealed.subarray(MAGIC.length + IV + TAG)
      if (!timingSafeEqual(tag, macOf(macKey, name, iv, body))) {
        throw new CorruptStateError(`${name}: does not open with this device's key (damaged, or another device's)`)
      }
      // Decrypted in place, a chunk at a time: a second buffer the size of the file (25 MB
      // at 100,000 keys) cost more in fresh pages than the decryption itself.
      const decipher = createDecipheriv('chacha20', encKey, iv)
      for (let at = 0; at < body.length; at += CHUNK) body.set(decipher.update(body.subarray(at, at + CHUNK)), at)
      return new Uint8Array(body.buffer, body.byteOffset, body.byteLength)
    },
    write: async (name, bytes) => {
      made ??= mkdir(dir, { recursive: true, mode: 0o700 })
      await made
      const iv = Buffer.concat([Buffer.alloc(4), randomBytes(IV - 4)])
      const body = createCipheriv('chacha20', encKey, iv).update(bytes)
      const file = fileOf(dir, name)
      const temp = `${file}.tmp`
      const handle = await open(temp, 'w', 0o600)
      try {
        await handle.writev([MAGIC, iv, macOf(macKey, name, iv, body), body])
      } finally {
        await handle.close()
      }
      await rename(temp, file)
    },
    remove: async (name) => { await rm(fileOf(dir, name), { force: true }) }
  }
}
