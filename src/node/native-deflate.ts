/**
 * Lends the core Node's native raw DEFLATE (zlib) for snapshot parts and carries
 * (src/crypto/deflate.ts): a few times faster than JavaScript's, and bounded where it
 * stops (maxOutputLength). Imported for its effect by the Node entry points.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib'
import { useNativeDeflate, type NativeDeflate } from '../crypto/deflate.ts'

/** The bytes of a Node buffer, as a plain Uint8Array over the same memory (the core takes no Buffer). */
const plain = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)

export const nodeDeflate: NativeDeflate = {
  deflate: (bytes) => plain(deflateRawSync(bytes, { level: 1 })),
  inflate: (bytes, max) => plain(inflateRawSync(bytes, { maxOutputLength: max }))
}

useNativeDeflate(nodeDeflate)
