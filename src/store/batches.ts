/**
 * The parts of batch writes (`{ op: 'batch', id, part, of }` entries) until their batch
 * is whole (browser-ready). A batch is one writer's: it is named by its signer and id,
 * so a part signed by another key is a part of another batch, and no one can complete,
 * or spoil, someone else's batch.
 *
 * A batch counts once its signer's entries hold exactly one part for each number from
 * 0 to `of` - 1, all with the same `of`. Parts that contradict each other (two entries
 * with one part number, or two `of`s) make it void: it never counts, and if it had
 * counted already it stops counting. Both verdicts depend only on the set of parts
 * stored, not on the order they came in, so every device reaches the same one.
 *
 * Memory: per held part, its hash, Lamport time and number; never its records (they
 * are read back from the log when the batch is whole). Every held part is a stored
 * entry, which the log bounds per writer (src/orbit/ranks.ts) and which takes its
 * records' room in its writer's writes quota whether its batch completes or not
 * (src/store/kv-state.ts). A batch that counts keeps its parts' hashes (one per up to
 * 256 KiB of its JSON), one that is void a few fields only.
 */
import { InvalidOperationError } from '../errors.ts'

/** A part as held: its entry's hash and Lamport time. */
export interface PartRef { hash: string, time: number }

/** A whole batch: its parts in order, and the last of them in the canonical order (where it counts). */
export interface WholeBatch { signer: string, id: string, parts: PartRef[], last: PartRef }

/** What a part did: held (its batch is not whole), whole (now ready to count), void (`last`: where it had counted), or nothing (its batch was void). */
export type PartVerdict =
  | { kind: 'held' }
  | { kind: 'whole', batch: WholeBatch }
  | { kind: 'void', last: PartRef | undefined }
  | { kind: 'ignored' }

type Group =
  | { state: 'open', of: number, parts: Map<number, PartRef> }
  | { state: 'counted', of: number, last: PartRef, parts: string[] }
  | { state: 'void' }

/** (time, hash) order, as the quota ledger's (src/store/quota.ts). */
const later = (a: PartRef, b: PartRef): boolean => a.time !== b.time ? a.time > b.time : a.hash > b.hash

const groupKey = (signer: string, id: string): string => `${signer} ${id}`

export class Batches {
  readonly #groups = new Map<string, Group>()
  /** Whole batches not yet counted (their records are being read back). */
  readonly #ready = new Set<string>()
  /** The batch of each part of a counted batch (a carry takes a batch whole: src/account/carry-batch.ts). */
  readonly #partOf = new Map<string, string>()

  /** Adds a stored part (each entry once). */
  add (signer: string, id: string, ref: PartRef, part: number, of: number): PartVerdict {
    const key = groupKey(signer, id)
    const group = this.#groups.get(key)
    if (group === undefined) {
      this.#groups.set(key, { state: 'open', of, parts: new Map([[part, ref]]) })
      return this.#whole(key, signer, id)
    }
    if (group.state === 'void') return { kind: 'ignored' }
    // A counted batch holds every part number of its `of`: any further part contradicts it.
    if (group.state === 'counted' || group.of !== of || group.parts.has(part)) {
      if (group.state === 'counted') for (const hash of group.parts) this.#partOf.delete(hash)
      this.#groups.set(key, { state: 'void' })
      this.#ready.delete(key)
      return { kind: 'void', last: group.state === 'counted' ? group.last : undefined }
    }
    group.parts.set(part, ref)
    return this.#whole(key, signer, id)
  }

  /** Whole batches whose records have not been counted yet. */
  ready (): WholeBatch[] {
    const out: WholeBatch[] = []
    for (const key of this.#ready) {
      const group = this.#groups.get(key)
      const [signer = '', id = ''] = key.split(' ')
      if (group?.state === 'open') out.push(wholeOf(signer, id, group.parts))
    }
    return out
  }

  /** Is this batch still whole and uncounted (nothing voided it while its records were read)? */
  isReady (batch: WholeBatch): boolean { return this.#ready.has(groupKey(batch.signer, batch.id)) }

  /** Marks a whole batch counted: from here it keeps its `of`, its last part and its parts' hashes. */
  counted (batch: WholeBatch): void {
    const key = groupKey(batch.signer, batch.id)
    const group = this.#groups.get(key)
    if (group?.state !== 'open' || !this.#ready.delete(key)) return
    this.#setCounted(key, group.of, batch.last, batch.parts.map((p) => p.hash))
  }

  /** The hashes of every part of the counted batch that part `hash` belongs to, in order. */
  partsOf (hash: string): string[] | undefined {
    const group = this.#groups.get(this.#partOf.get(hash) ?? '')
    return group?.state === 'counted' ? group.parts : undefined
  }

  #setCounted (key: string, of: number, last: PartRef, parts: string[]): void {
    this.#groups.set(key, { state: 'counted', of, last, parts })
    for (const hash of parts) this.#partOf.set(hash, key)
  }

  /** Parts held for batches that are not whole. */
  get held (): number {
    let n = 0
    for (const [key, g] of this.#groups) if (g.state === 'open' && !this.#ready.has(key)) n += g.parts.size
    return n
  }

  #whole (key: string, signer: string, id: string): PartVerdict {
    const group = this.#groups.get(key)
    if (group?.state !== 'open' || group.parts.size !== group.of) return { kind: 'held' }
    this.#ready.add(key)
    return { kind: 'whole', batch: wholeOf(signer, id, group.parts) }
  }

  /** For a checkpoint (src/store/checkpoint.ts): plain JSON. */
  toJSON (): unknown {
    return [...this.#groups].map(([key, g]) => {
      if (g.state === 'open') return [key, g.state, g.of, [...g.parts].map(([n, r]) => [n, r.hash, r.time])]
      if (g.state === 'counted') return [key, g.state, g.of, g.last.hash, g.last.time, g.parts]
      return [key, g.state]
    })
  }

  /** What `toJSON()` gave; throws InvalidOperationError on anything else. */
  static fromJSON (v: unknown): Batches {
    const bad = (): never => { throw new InvalidOperationError('batch parts do not read') }
    const out = new Batches()
    if (!Array.isArray(v)) return bad()
    for (const row of v as unknown[]) {
      if (!Array.isArray(row) || typeof row[0] !== 'string') return bad()
      const [key, state, of] = row as [string, unknown, unknown]
      const [signer, id] = key.split(' ')
      if (signer === undefined || id === undefined) return bad()
      if (state === 'void') out.#groups.set(key, { state })
      else if (state === 'counted' && isCount(of) && typeof row[3] === 'string' && isCount(row[4]) && Array.isArray(row[5]) && (row[5] as unknown[]).every((h) => typeof h === 'string')) {
        out.#setCounted(key, of, { hash: row[3], time: row[4] }, row[5] as string[])
      } else if (state === 'open' && isCount(of) && Array.isArray(row[3])) {
        const parts = new Map<number, PartRef>()
        for (const p of row[3] as unknown[]) {
          if (!Array.isArray(p) || !isCount(p[0]) || typeof p[1] !== 'string' || !isCount(p[2])) return bad()
          parts.set(p[0], { hash: p[1], time: p[2] })
        }
        out.#groups.set(key, { state, of, parts })
        if (parts.size === of) out.#ready.add(key)
      } else return bad()
    }
    return out
  }
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0

const wholeOf = (signer: string, id: string, parts: Map<number, PartRef>): WholeBatch => {
  const ordered = [...parts].sort((a, b) => a[0] - b[0]).map(([, r]) => r)
  const last = ordered.reduce((a, b) => later(b, a) ? b : a)
  return { signer, id, parts: ordered, last }
}
