/**
 * The causal graph of a set of registry entries: which entries are known, a deterministic
 * topological order, and strict ancestry. Pure and browser-ready.
 */
import type { IgnoredOp, RegistryEntry } from '../types.ts'
import { Heap } from '../../src/heap.ts'

export interface CausalGraph {
  /** The distinct, well-formed, placeable entries in deterministic topological order. */
  readonly order: readonly RegistryEntry[]
  /** Entries that cannot be placed: malformed, conflicting under one hash, or in/after a cycle. */
  readonly rejected: readonly IgnoredOp[]
  has: (hash: string) => boolean
  /** True if `ancestor` is a strict causal ancestor of `descendant` (both in `order`). */
  isAncestor: (ancestor: string, descendant: string) => boolean
  /** The position of `hash` in `order`, or -1 if it is not there. */
  indexOf: (hash: string) => number
  /** True if every ancestor `hash` names is here: its causal past can no longer change. */
  isComplete: (hash: string) => boolean
}

interface Node {
  entry: RegistryEntry
  hash: string
  time: number
  parents: string[]
  /** False when it names a parent that is not in the input. */
  allParentsKnown: boolean
}

const MAX_SHOWN = 64
/** Untrusted strings in reasons are cut short. */
export const show = (s: string): string => s.length > MAX_SHOWN ? `${s.slice(0, MAX_SHOWN)}...` : s

/** Reads an entry's envelope defensively; returns a reason when it is malformed. */
const readNode = (entry: RegistryEntry): Node | string => {
  const e: unknown = entry
  if (typeof e !== 'object' || e === null) return 'malformed entry: not an object'
  const { hash, author, next, clock } = entry
  if (typeof hash !== 'string' || hash.length === 0) return 'malformed entry: hash must be a non-empty string'
  if (typeof author !== 'string') return 'malformed entry: author must be a string'
  if (!Array.isArray(next) || !next.every((p: unknown) => typeof p === 'string')) {
    return 'malformed entry: next must be an array of strings'
  }
  const c: unknown = clock
  if (typeof c !== 'object' || c === null || typeof clock.id !== 'string' ||
      typeof clock.time !== 'number' || !Number.isFinite(clock.time)) {
    return 'malformed entry: clock must be { id: string, time: finite number }'
  }
  return { entry, hash, time: clock.time, parents: [...new Set(next)], allParentsKnown: true }
}

/** Structural equality of decoded payloads (plain data), bounded in depth. */
const sameData = (a: unknown, b: unknown, depth = 0): boolean => {
  if (Object.is(a, b)) return true
  if (depth > 32 || typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a) !== Array.isArray(b) || Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false
  const ka = Object.keys(a)
  const kb = Object.keys(b)
  if (ka.length !== kb.length) return false
  const ra = a as Record<string, unknown>
  const rb = b as Record<string, unknown>
  return ka.every(k => Object.hasOwn(rb, k) && sameData(ra[k], rb[k], depth + 1))
}

const sameEntry = (a: Node, b: Node): boolean =>
  a.entry.author === b.entry.author && a.time === b.time && a.entry.clock.id === b.entry.clock.id &&
  a.entry.next.length === b.entry.next.length && a.entry.next.every((p, i) => p === b.entry.next[i]) &&
  sameData(a.entry.payload, b.entry.payload)

const before = (a: Node, b: Node): boolean => a.time < b.time || (a.time === b.time && a.hash < b.hash)

export const compare = (a: string, b: string): number => a < b ? -1 : a > b ? 1 : 0
const byHashThenReason = (a: IgnoredOp, b: IgnoredOp): number => compare(a.hash, b.hash) || compare(a.reason, b.reason)

/**
 * Builds the causal DAG of a set of entries. Duplicates (same hash, same content) count
 * once; different contents under one hash are all rejected. Parents that are not in the
 * input are treated as unknown.
 */
export const buildCausalGraph = (entries: Iterable<RegistryEntry>): CausalGraph => {
  const rejected: IgnoredOp[] = []
  const malformed = new Set<string>()
  const nodes = new Map<string, Node>()
  const conflicting = new Set<string>()
  for (const entry of entries) {
    let node: Node | string
    try {
      node = readNode(entry)
    } catch {
      node = 'malformed entry: unreadable'
    }
    if (typeof node === 'string') {
      const hash = safeHash(entry)
      // The same malformed entry twice is reported once.
      const key = `${hash}\n${node}`
      if (!malformed.has(key)) rejected.push({ hash, reason: node })
      malformed.add(key)
      continue
    }
    const seen = nodes.get(node.hash)
    if (seen === undefined) {
      nodes.set(node.hash, node)
      continue
    }
    let same: boolean
    try {
      same = sameEntry(seen, node)
    } catch {
      same = false
    }
    if (!same) conflicting.add(node.hash)
  }
  for (const hash of conflicting) {
    nodes.delete(hash)
    rejected.push({ hash, reason: 'conflicting entries share this hash' })
  }

  // Kahn's algorithm over known parents, smallest (time, hash) first.
  const children = new Map<string, string[]>()
  const pending = new Map<string, number>()
  const ready = new Heap<Node>(before)
  for (const node of nodes.values()) {
    const known = node.parents.filter(p => nodes.has(p))
    node.allParentsKnown = known.length === node.parents.length
    node.parents = known
    pending.set(node.hash, known.length)
    if (known.length === 0) ready.push(node)
    for (const p of known) {
      const list = children.get(p)
      if (list === undefined) children.set(p, [node.hash])
      else list.push(node.hash)
    }
  }
  const order: Node[] = []
  for (let node = ready.pop(); node !== undefined; node = ready.pop()) {
    order.push(node)
    for (const child of children.get(node.hash) ?? []) {
      const left = (pending.get(child) ?? 0) - 1
      pending.set(child, left)
      if (left === 0) ready.push(nodes.get(child) as Node)
    }
  }
  const position = new Map<string, number>()
  order.forEach((node, i) => position.set(node.hash, i))
  for (const hash of nodes.keys()) {
    if (!position.has(hash)) rejected.push({ hash, reason: 'entry is in or after a causal cycle' })
  }
  rejected.sort(byHashThenReason)

  const complete: boolean[] = order.map(n => n.allParentsKnown)
  order.forEach((node, i) => {
    complete[i] = (complete[i] as boolean) && node.parents.every(p => complete[position.get(p) as number] === true)
  })

  // Ancestor sets as bitsets over topological positions.
  const words = Math.ceil(order.length / 32)
  const ancestors: Uint32Array[] = []
  for (const node of order) {
    const bits = new Uint32Array(words)
    for (const p of node.parents) {
      const i = position.get(p) as number
      const pbits = ancestors[i] as Uint32Array
      for (let w = 0; w < words; w++) bits[w] = (bits[w] as number) | (pbits[w] as number)
      bits[i >> 5] = (bits[i >> 5] as number) | (1 << (i & 31))
    }
    ancestors.push(bits)
  }

  return {
    order: order.map(n => n.entry),
    rejected,
    has: (hash: string): boolean => position.has(hash),
    isAncestor: (ancestor: string, descendant: string): boolean => {
      const a = position.get(ancestor)
      const d = position.get(descendant)
      if (a === undefined || d === undefined || a >= d) return false
      return (((ancestors[d] as Uint32Array)[a >> 5] as number) & (1 << (a & 31))) !== 0
    },
    indexOf: (hash: string): number => position.get(hash) ?? -1,
    isComplete: (hash: string): boolean => {
      const i = position.get(hash)
      return i !== undefined && complete[i] === true
    }
  }
}

const safeHash = (entry: unknown): string => {
  try {
    if (typeof entry === 'object' && entry !== null) {
      const hash: unknown = (entry as { hash?: unknown }).hash
      if (typeof hash === 'string') return hash
    }
  } catch {}
  return ''
}

/** True if `ancestor` is a strict causal ancestor of `descendant`. */
export const isAncestor = (graph: CausalGraph, ancestor: string, descendant: string): boolean =>
  graph.isAncestor(ancestor, descendant)

/** True if `a` is `b` or one of its causal ancestors: `a` is in `b`'s causal past, inclusive. */
export const isInCausalPast = (graph: CausalGraph, a: string, b: string): boolean =>
  a === b || graph.isAncestor(a, b)

