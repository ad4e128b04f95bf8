/**
 * Padding to size buckets, so a ciphertext tells only a coarse size of what it holds.
 * Buckets follow Padmé (Nikitin et al., "Reducing Metadata Leakage from Encrypted Files
 * and Communication with PURBs", PETS 2019): a length of E significant bits keeps only
 * its top floor(log2 E) + 1 bits, the rest rounded up, so a size leaks O(log log n)
 * bits and the overhead is at most 1/16 above MIN_BUCKET (1/32 from 64 KiB). Below
 * MIN_BUCKET everything is MIN_BUCKET long, so small writes (a `del`, a short `put`)
 * look alike.
 *
 * Padded form: FORMAT (1 byte) || content length (4 bytes, big-endian) || content ||
 * zeros, exactly `bucketSize(5 + content length)` bytes. It is meant to be encrypted
 * whole (the length is authenticated with the rest); `unpad` accepts only that exact
 * canonical form. Browser-ready: Uint8Array only.
 */
import { InvalidArgumentError } from '../errors.ts'
import { assertBytes } from './bytes.ts'

/** The first byte of a padded plaintext (never `{`, with which every older plaintext began). */
export const PADDED_FORMAT = 0x02
/** The smallest padded size: every plaintext up to this long pads to exactly this. */
export const MIN_BUCKET = 256
const HEADER = 5
/** The longest content `pad` takes (a bucket then still fits the 32-bit length field and a safe integer). */
export const MAX_PADDED_CONTENT = 2 ** 30

/** Bit length of n (1 for 1, 9 for 256...), for 0 < n < 2^32. */
const bitLength = (n: number): number => 32 - Math.clz32(n)

/** Padmé: the smallest bucket of at least `n` bytes (n >= 1). */
export const padme = (n: number): number => {
  if (!Number.isSafeInteger(n) || n < 1 || n > 2 ** 31) throw new InvalidArgumentError(`padme: length must be an integer from 1 to 2^31, got ${n}`)
  const e = bitLength(n) - 1 // floor(log2 n)
  if (e === 0) return n
  const s = bitLength(e) // floor(log2 e) + 1
  const step = 2 ** (e - s)
  return Math.ceil(n / step) * step
}

/** The padded size for `n` bytes (header included): MIN_BUCKET, or the Padmé bucket above it. */
export const bucketSize = (n: number): number => n <= MIN_BUCKET ? MIN_BUCKET : padme(n)

/** The length `pad` makes of `n` bytes of content (to size caps that must hold a padded payload). */
export const paddedLength = (n: number): number => bucketSize(HEADER + n)

/** Pads `content` to its bucket, in the canonical form `unpad` accepts. */
export const pad = (content: Uint8Array): Uint8Array => {
  assertBytes(content, 'content')
  if (content.length > MAX_PADDED_CONTENT) throw new InvalidArgumentError(`content is ${content.length} bytes; padding takes at most ${MAX_PADDED_CONTENT}`)
  const out = new Uint8Array(paddedLength(content.length))
  out[0] = PADDED_FORMAT
  new DataView(out.buffer).setUint32(1, content.length)
  out.set(content, HEADER)
  return out
}

/**
 * The content of a padded plaintext. Strict: the format byte, a length that fits, a
 * total size that is exactly that length's bucket (no padding stripped or added) and
 * zeros after the content; anything else is an InvalidArgumentError.
 */
export const unpad = (padded: Uint8Array): Uint8Array => {
  assertBytes(padded, 'padded')
  if (padded.length < MIN_BUCKET || padded[0] !== PADDED_FORMAT) throw new InvalidArgumentError('padded plaintext has no padding header')
  const n = new DataView(padded.buffer, padded.byteOffset, padded.byteLength).getUint32(1)
  if (n > padded.length - HEADER) throw new InvalidArgumentError(`padded plaintext claims ${n} bytes of content in ${padded.length}`)
  if (padded.length !== bucketSize(HEADER + n)) throw new InvalidArgumentError(`padded plaintext is ${padded.length} bytes, not the bucket of its content (${bucketSize(HEADER + n)})`)
  for (let i = HEADER + n; i < padded.length; i++) {
    if (padded[i] !== 0) throw new InvalidArgumentError('padding bytes must be zero')
  }
  return padded.subarray(HEADER, HEADER + n)
}
