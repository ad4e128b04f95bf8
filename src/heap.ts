/** A binary heap (browser-ready): `pop` returns the item that comes `before` all others. */
export class Heap<T> {
  readonly #items: T[] = []
  readonly #before: (a: T, b: T) => boolean
  constructor (before: (a: T, b: T) => boolean) { this.#before = before }

  get size (): number { return this.#items.length }

  push (item: T): void {
    const items = this.#items
    items.push(item)
    let i = items.length - 1
    while (i > 0) {
      const up = (i - 1) >> 1
      const parent = items[up] as T
      if (!this.#before(item, parent)) break
      items[i] = parent
      i = up
    }
    items[i] = item
  }

  pop (): T | undefined {
    const items = this.#items
    const top = items[0]
    const last = items.pop()
    if (top === undefined || last === undefined || items.length === 0) return top
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let first = i
      let firstItem = last
      const left = items[l]
      const right = items[r]
      if (left !== undefined && this.#before(left, firstItem)) { first = l; firstItem = left }
      if (right !== undefined && this.#before(right, firstItem)) { first = r; firstItem = right }
      if (first === i) break
      items[i] = firstItem
      i = first
    }
    items[i] = last
    return top
  }
}
