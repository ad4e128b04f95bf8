/**
 * Raw DEFLATE (RFC 1951) for the plaintext of snapshot parts and carries (src/store/codec.ts),
 * before they are padded and encrypted: a snapshot of 100,000 keys is ~24 MB of JSON, which
 * a new device fetched, hashed, stored, decrypted and decoded byte by byte.
 *
 * fflate's by default (browser-ready, no dependencies); a platform with a native one
 * (Node's zlib, src/node/native-deflate.ts) lends it. Either way the output is raw
 * DEFLATE, so either reads what the other wrote.
 *
 * Inflating is bounded: what a peer sends may be a "bomb" (a few KB that inflate to GB),
 * so no more than `max` bytes are ever produced, and no more than a chunk's worth of work
 * is done past them.
 */
import { deflateSync, Inflate } from 'fflate'
import { InvalidArgumentError } from '../errors.ts'
import { joinBytes } from './bytes.ts'

export interface NativeDeflate {
  deflate: (bytes: Uint8Array) => Uint8Array
  /** Throws once the output would pass `max` bytes, or when `bytes` is not raw DEFLATE. */
  inflate: (bytes: Uint8Array, max: number) => Uint8Array
}

let native: NativeDeflate | undefined

/** Lends a native raw DEFLATE (undefined: fflate's only). */
export const useNativeDeflate = (impl: NativeDeflate | undefined): void => { native = impl }

/** The fastest level: a snapshot is written while the device answers its peers; JSON compresses well at any level. */
const LEVEL = 1

export const deflate = (bytes: Uint8Array): Uint8Array => native?.deflate(bytes) ?? deflateSync(bytes, { level: LEVEL })

/** Input handed to fflate at a time: at most ~1,032 times this comes out of one push (DEFLATE's largest ratio). */
const CHUNK = 1024

/** Inflates raw DEFLATE; throws InvalidArgumentError when it is not, or when it would be over `max` bytes. */
export const inflate = (bytes: Uint8Array, max: number): Uint8Array => {
  try {
    if (native !== undefined) return native.inflate(bytes, max)
    const chunks: Uint8Array[] = []
    let length = 0
    let done = false
    const stream = new Inflate((chunk, final) => {
      chunks.push(chunk)
      length += chunk.length
      done = final
    })
    for (let at = 0; at < bytes.length; at += CHUNK) {
      stream.push(bytes.subarray(at, at + CHUNK), at + CHUNK >= bytes.length)
      if (length > max) throw new InvalidArgumentError(`inflates to more than ${max} bytes`)
    }
    if (!done) throw new InvalidArgumentError('the DEFLATE stream ends early')
    return joinBytes(chunks)
  } catch (cause) {
    if (cause instanceof InvalidArgumentError) throw cause
    throw new InvalidArgumentError(`not raw DEFLATE within ${max} bytes: ${(cause as Error).message}`, { cause })
  }
}
