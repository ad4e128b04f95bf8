/**
 * Bytes read on demand, a range at a time, synchronously: the part of a checkpoint an
 * open does not read (the values and the ledgers, src/store/checkpoint.ts). A store on
 * disk reads and authenticates them from the file as they are asked for
 * (src/node/state-files.ts); in memory they are a Uint8Array. Browser-ready.
 */
export interface ByteSource {
  readonly length: number
  /** Bytes [start, end). Throws CorruptStateError when they do not authenticate. */
  bytes: (start: number, end: number) => Uint8Array
  /** Lets go of what the source holds (a file descriptor); a read after it throws. */
  close: () => void
}

/** A ByteSource over bytes in memory. */
export const memorySource = (bytes: Uint8Array): ByteSource => ({
  length: bytes.length,
  bytes: (start, end) => bytes.subarray(start, end),
  close: () => {}
})

/** Every byte of a source, as one array. */
export const allBytes = (source: ByteSource): Uint8Array => source.bytes(0, source.length)
