/**
 * Interned strings: each written once in a list, referred to by its index (a checkpoint's
 * string tables, src/store/checkpoint.ts; a packed op's ids and hashes, src/store/codec.ts).
 * Browser-ready.
 */
export class Strings {
  readonly list: string[] = []
  readonly #index = new Map<string, number>()
  /** The index of `s`, added at the end when new. */
  of (s: string): number {
    let i = this.#index.get(s)
    if (i === undefined) {
      i = this.list.length
      this.list.push(s)
      this.#index.set(s, i)
    }
    return i
  }
}
