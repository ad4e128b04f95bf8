/**
 * The account's persisted state on disk (src/store/state-store.ts): one file per name in
 * `<dir>/state/`, owner-only, sealed under the device's state key: ChaCha20 then
 * HMAC-SHA256 over the name, the IV and the ciphertext (encrypt-then-MAC, both native),
 * with a fresh random nonce per write, so a file renamed onto another name does not
 * open. A write goes to a temporary file renamed over the old one: a process killed
 * mid-write leaves the old file.
 *
 * A split blob (a checkpoint) has a head, opened whole, and a tail read on demand: the
 * tail is encrypted as one ChaCha20 stream (any range decrypts on its own) and
 * authenticated per 64 KiB chunk, each chunk's MAC kept in the authenticated head. An
 * open reads the head only (~6 MB of a 100,000-key checkpoint's ~28 MB); a value is
 * read, checked and decrypted with its chunk (the last few chunks are kept). The file
 * stays open while its tail is in use: a newer checkpoint renamed over it does not
 * change what the open file holds.
 */
import { createCipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { CorruptStateError } from '../errors.ts'
import type { ByteSource } from '../store/byte-source.ts'
import type { SplitBlob, StateStore } from '../store/state-store.ts'

const MAGIC = Buffer.from('OAS2')
const SPLIT_MAGIC = Buffer.from('OAS3')
/** A split blob's fixed start: magic, head length, tail length, head IV, tail nonce. */
const SPLIT_START = 4 + 4 + 4 + 16 + 12
/** Bytes of the tail authenticated (and read) together. */
const TAIL_CHUNK = 64 * 1024
/** Tail chunks kept decrypted (the last used). */
const CACHED_CHUNKS = 32
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

/** ChaCha20 in OpenSSL: its IV is the 32-bit block counter (little-endian), then the 12-byte nonce. */
const ivAt = (nonce: Uint8Array, block: number): Buffer => {
  const iv = Buffer.alloc(IV)
  iv.writeUInt32LE(block, 0)
  iv.set(nonce, 4)
  return iv
}

/** Encrypts (or decrypts) `bytes` in place, a chunk at a time (a second buffer of their size costs more in fresh pages than the cipher). */
const cipherInPlace = (key: Buffer, iv: Uint8Array, bytes: Uint8Array): void => {
  const cipher = createCipheriv('chacha20', key, iv)
  for (let at = 0; at < bytes.length; at += CHUNK) bytes.set(cipher.update(bytes.subarray(at, at + CHUNK)), at)
}

const chunkMac = (macKey: Buffer, name: string, nonce: Uint8Array, index: number, cipher: Uint8Array): Buffer => {
  const n = Buffer.alloc(4)
  n.writeUInt32BE(index)
  return createHmac('sha256', macKey).update('chunk').update(`${name.length}:${name}`).update(nonce).update(n).update(cipher).digest()
}

export const stateFiles = (dir: string, key: Uint8Array): StateStore => {
  // Two keys from one: ChaCha20 to encrypt, HMAC-SHA256 to authenticate.
  const encKey = createHmac('sha256', key).update('orbit-account/state/enc').digest()
  const macKey = createHmac('sha256', key).update('orbit-account/state/mac').digest()
  let made: Promise<unknown> | undefined
  /**
   * Before this process's first write: the directory, made if missing, rid of the
   * temporary files a process killed mid-write left (only the process holding the store
   * writes, so none is being written now; each would only be overwritten, never removed).
   */
  const ready = async (): Promise<unknown> => await (made ??= (async () => {
    await mkdir(dir, { recursive: true, mode: 0o700 })
    for (const name of await readdir(dir)) if (name.endsWith('.bin.tmp')) await rm(join(dir, name), { force: true })
  })())
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
      cipherInPlace(encKey, iv, body)
      return new Uint8Array(body.buffer, body.byteOffset, body.byteLength)
    },
    write: async (name, bytes) => {
      await ready()
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
    writeSplit: async (name, parts) => {
      await ready()
      const file = fileOf(dir, name)
      const temp = `${file}.tmp`
      const handle = await open(temp, 'w', 0o600)
      try {
        await handle.writev(sealSplit(encKey, macKey, name, parts))
      } finally {
        await handle.close()
      }
      await rename(temp, file)
    },
    readSplit: async (name) => {
      let fd: number
      try {
        fd = openSync(fileOf(dir, name), 'r')
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
        throw err
      }
      try {
        return openSplit(fd, encKey, macKey, name)
      } catch (err) {
        closeSync(fd)
        throw err
      }
    },
    remove: async (name) => { await rm(fileOf(dir, name), { force: true }) }
  }
}

/** A split blob's bytes: the authenticated start and head, then the tail (both encrypted in place). */
const sealSplit = (encKey: Buffer, macKey: Buffer, name: string, { head, tail }: SplitBlob): Uint8Array[] => {
  const start = Buffer.alloc(SPLIT_START)
  SPLIT_MAGIC.copy(start, 0)
  start.writeUInt32BE(head.length, 4)
  start.writeUInt32BE(tail.length, 8)
  const headIv = Buffer.concat([Buffer.alloc(4), randomBytes(IV - 4)])
  const nonce = randomBytes(12)
  headIv.copy(start, 12)
  nonce.copy(start, 28)
  cipherInPlace(encKey, headIv, head)
  cipherInPlace(encKey, ivAt(nonce, 0), tail)
  const tags: Uint8Array[] = []
  for (let at = 0, i = 0; at < tail.length; at += TAIL_CHUNK, i++) tags.push(chunkMac(macKey, name, nonce, i, tail.subarray(at, at + TAIL_CHUNK)))
  const mac = createHmac('sha256', macKey).update('split').update(`${name.length}:${name}`).update(start).update(head)
  for (const tag of tags) mac.update(tag)
  return [start, head, ...tags, mac.digest(), tail]
}

/** Reads exactly `length` bytes at `position`, or throws CorruptStateError. */
const readAt = (fd: number, length: number, position: number, name: string): Buffer => readInto(fd, Buffer.allocUnsafe(length), position, name)

/** Fills `out` with the bytes at `position`, or throws CorruptStateError. */
const readInto = (fd: number, out: Buffer, position: number, name: string): Buffer => {
  let got = 0
  while (got < out.length) {
    const n = readSync(fd, out, got, out.length - got, position + got)
    if (n === 0) throw new CorruptStateError(`${name}: the state file is cut short`)
    got += n
  }
  return out
}

/** Opens the head of a split blob in `fd` (authenticated, decrypted); its tail is read from `fd` as asked. */
const openSplit = (fd: number, encKey: Buffer, macKey: Buffer, name: string): { head: Uint8Array, tail: ByteSource } => {
  const size = fstatSync(fd).size
  if (size < SPLIT_START + TAG) throw new CorruptStateError(`${name}: not a state file`)
  const start = readAt(fd, SPLIT_START, 0, name)
  if (!start.subarray(0, 4).equals(SPLIT_MAGIC)) throw new CorruptStateError(`${name}: not a split state file`)
  const headLength = start.readUInt32BE(4)
  const tailLength = start.readUInt32BE(8)
  const chunks = Math.ceil(tailLength / TAIL_CHUNK)
  const tailAt = SPLIT_START + headLength + TAG * chunks + TAG
  if (size !== tailAt + tailLength) throw new CorruptStateError(`${name}: the state file has the wrong length`)
  const sealed = readAt(fd, tailAt - SPLIT_START, SPLIT_START, name)
  const head = sealed.subarray(0, headLength)
  const tags = sealed.subarray(headLength, headLength + TAG * chunks)
  const mac = createHmac('sha256', macKey).update('split').update(`${name.length}:${name}`).update(start).update(head).update(tags).digest()
  if (!timingSafeEqual(mac, sealed.subarray(headLength + TAG * chunks))) {
    throw new CorruptStateError(`${name}: does not open with this device's key (damaged, or another device's)`)
  }
  cipherInPlace(encKey, start.subarray(12, 28), head)
  const nonce = Buffer.from(start.subarray(28, 40))
  const cache = new Map<number, Buffer>()
  // Buffers of dropped chunks, used again: fresh pages cost more here than reading and
  // decrypting into them (a read of the whole tail went from ~0.4 s to ~0.1 s at 20 MB).
  const spare: Buffer[] = []
  let open = true
  const chunk = (i: number): Buffer => {
    const held = cache.get(i)
    if (held !== undefined) {
      // The most recently used last: the first is the one to drop.
      cache.delete(i)
      cache.set(i, held)
      return held
    }
    if (!open) throw new CorruptStateError(`${name}: read after the state file was let go`)
    const length = Math.min(TAIL_CHUNK, tailLength - i * TAIL_CHUNK)
    const buffer = spare.pop() ?? Buffer.allocUnsafeSlow(TAIL_CHUNK)
    const bytes = readInto(fd, buffer.subarray(0, length), tailAt + i * TAIL_CHUNK, name)
    if (!timingSafeEqual(chunkMac(macKey, name, nonce, i, bytes), tags.subarray(i * TAG, (i + 1) * TAG))) {
      spare.push(buffer)
      throw new CorruptStateError(`${name}: a part of the state file does not authenticate (damaged on disk)`)
    }
    cipherInPlace(encKey, ivAt(nonce, i * (TAIL_CHUNK / 64)), bytes)
    cache.set(i, bytes)
    if (cache.size > CACHED_CHUNKS) {
      const first = cache.keys().next().value as number
      spare.push(Buffer.from((cache.get(first) as Buffer).buffer, 0, TAIL_CHUNK))
      cache.delete(first)
    }
    return bytes
  }
  return {
    head,
    tail: {
      length: tailLength,
      bytes: (from, to) => {
        if (from < 0 || to > tailLength || to < from) throw new RangeError(`bytes ${from}..${to} are not in the tail (${tailLength})`)
        if (from === to) return new Uint8Array(0)
        const first = Math.floor(from / TAIL_CHUNK)
        const last = Math.floor(Math.max(from, to - 1) / TAIL_CHUNK)
        // Copied out: the chunk's buffer is used again once it is dropped.
        if (first === last) return new Uint8Array(chunk(first).subarray(from - first * TAIL_CHUNK, to - first * TAIL_CHUNK))
        const out = new Uint8Array(to - from)
        for (let i = first; i <= last; i++) {
          const c = chunk(i)
          const a = Math.max(from, i * TAIL_CHUNK)
          const b = Math.min(to, (i + 1) * TAIL_CHUNK)
          out.set(c.subarray(a - i * TAIL_CHUNK, b - i * TAIL_CHUNK), a - from)
        }
        return out
      },
      close: () => {
        if (!open) return
        open = false
        cache.clear()
        closeSync(fd)
      }
    }
  }
}
