/**
 * Lends the core Node's native raw DEFLATE (zlib) for snapshot parts and carries
 * (src/crypto/deflate.ts): a few times faster than JavaScript's, and bounded where it
 * stops (maxOutputLength). Imported for its effect by the Node entry points.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib'
import { useNativeDeflate, type NativeDeflate } from '../crypto/deflate.ts'

/** The bytes of a Node buffer, as a plain Uint8Array over the same memory (the core takes no Buffer). */
const plain = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)

const CHUNK = 256 * 1024

export const nodeDeflate: NativeDeflate = {
  deflate: (bytes) => plain(deflateRawSync(bytes, { level: 1 })),
  // Output in 256 KiB chunks, not zlib's 16 KiB: a snapshot part inflates to a few hundred
  // KiB, and small chunks cost an allocation each and a copy to join them (~5x slower).
  inflate: (bytes, max) => plain(inflateRawSync(bytes, { maxOutputLength: max, chunkSize: Math.min(CHUNK, Math.max(64, max)) }))
}

useNativeDeflate(nodeDeflate)
