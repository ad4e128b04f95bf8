/**
 * The registry reducer: entries in, account state out. Pure and deterministic: the
 * result depends only on the SET of entries (not their order, not duplicates), so every
 * device that has seen the same entries agrees on who is a member.
 *
 * 1. Build the causal DAG from `next` (parents missing from the input are unknown).
 * 2. Order it topologically, breaking ties by (clock.time, hash).
 * 3. Apply each op in that order if it passes the rules for its type; record every op
 *    that does not count in `ignored`, with the reason.
 *
 * Authority is causal: an op counts only if its author's admission is in the op's causal
 * past (an ancestor), so a device cannot act before it was admitted, nor backdate an op
 * by pointing at old heads. Never throws on entry content.
 */
import { InvalidArgumentError } from '../src/errors.ts'
import { MODES, asEpoch } from '../src/types.ts'
import type { DeviceId } from '../src/types.ts'
import { isCanonicalBase64url, isDeviceId, LIMITS, parseOp } from './ops.ts'
import type {
  AccountParams,
  AccountState,
  AddOp,
  DeviceRecord,
  EpochRecord,
  GenesisOp,
  IgnoredOp,
  RegistryEntry,
  RegistryOp,
  RenameOp,
  RevokeOp,
  RotateOp
} from './types.ts'

// ---------------------------------------------------------------------------------------
// Causal graph

export interface CausalGraph {
  /** The distinct, well-formed, placeable entries in deterministic topological order. */
  readonly order: readonly RegistryEntry[]
  /** Entries that cannot be placed: malformed, conflicting under one hash, or in/after a cycle. */
  readonly rejected: readonly IgnoredOp[]
  has: (hash: string) => boolean
  /** True if `ancestor` is a strict causal ancestor of `descendant` (both in `order`). */
  isAncestor: (ancestor: string, descendant: string) => boolean
}

interface Node {
  entry: RegistryEntry
  hash: string
  time: number
  parents: string[]
}

const MAX_SHOWN = 64
/** Untrusted strings in reasons are cut short. */
const show = (s: string): string => s.length > MAX_SHOWN ? `${s.slice(0, MAX_SHOWN)}...` : s

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
  return { entry, hash, time: clock.time, parents: [...new Set(next)] }
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

/** A binary min-heap of nodes ordered by (time, hash). */
class NodeHeap {
  readonly #items: Node[] = []
  get size (): number { return this.#items.length }
  push (node: Node): void {
    const items = this.#items
    items.push(node)
    let i = items.length - 1
    while (i > 0) {
      const up = (i - 1) >> 1
      const parent = items[up] as Node
      if (!before(node, parent)) break
      items[i] = parent
      i = up
    }
    items[i] = node
  }

  pop (): Node | undefined {
    const items = this.#items
    const top = items[0]
    const last = items.pop()
    if (top === undefined || last === undefined || items.length === 0) return top
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let min = i
      let minNode = last
      const ln = items[l]
      const rn = items[r]
      if (ln !== undefined && before(ln, minNode)) { min = l; minNode = ln }
      if (rn !== undefined && before(rn, minNode)) { min = r; minNode = rn }
      if (min === i) break
      items[i] = minNode
      i = min
    }
    items[i] = last
    return top
  }
}

const compare = (a: string, b: string): number => a < b ? -1 : a > b ? 1 : 0
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
  const ready = new NodeHeap()
  for (const node of nodes.values()) {
    const known = node.parents.filter(p => nodes.has(p))
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

// ---------------------------------------------------------------------------------------
// Rules. Each returns undefined when satisfied, or the reason the op does not count.

type Verdict = string | undefined
const OK: Verdict = undefined

interface Context {
  readonly params: AccountParams
  readonly graph: CausalGraph
  readonly state: AccountState
  /** Hash of the applied genesis. */
  genesis: string | null
  nextSeniority: number
}

/** The first violated rule, if any. Rules run in order and stop at the first failure. */
const check = (...rules: Array<() => Verdict>): Verdict => {
  for (const rule of rules) {
    const verdict = rule()
    if (verdict !== undefined) return verdict
  }
  return OK
}

const mustBeAuthoredByFounder = (ctx: Context, entry: RegistryEntry): Verdict =>
  entry.author === ctx.params.founder ? OK : `genesis must be authored by the founder, not ${show(entry.author)}`

const mustDescribeFounder = (ctx: Context, op: GenesisOp): Verdict =>
  op.founder.device !== ctx.params.founder
    ? `genesis founder ${op.founder.device} is not the account founder`
    : op.founder.signingKey !== ctx.params.founderSigningKey
      ? 'genesis founder signing key does not match the account founder key'
      : OK

const mustMatchMode = (ctx: Context, op: GenesisOp): Verdict =>
  op.mode === ctx.params.mode ? OK : `genesis mode ${op.mode} does not match the account mode ${ctx.params.mode}`

const mustBeFirstGenesis = (ctx: Context): Verdict =>
  ctx.genesis === null ? OK : 'a genesis was already applied'

const mustFollowGenesis = (ctx: Context, entry: RegistryEntry): Verdict =>
  ctx.genesis !== null && ctx.graph.isAncestor(ctx.genesis, entry.hash)
    ? OK
    : 'no valid genesis in the causal past of this op'

const authorOf = (ctx: Context, entry: RegistryEntry): DeviceRecord | undefined =>
  isDeviceId(entry.author) ? ctx.state.devices[entry.author] : undefined

const mustBeAdmittedInCausalPast = (ctx: Context, entry: RegistryEntry): Verdict => {
  const author = authorOf(ctx, entry)
  if (author === undefined) return `author ${show(entry.author)} is not a device of this account`
  return ctx.graph.isAncestor(author.admittedIn, entry.hash)
    ? OK
    : `author ${author.device} was not admitted in the causal past of this op`
}

const mustBeActiveInCausalPast = (ctx: Context, entry: RegistryEntry): Verdict => {
  const author = authorOf(ctx, entry)
  if (author === undefined) return `author ${show(entry.author)} is not a device of this account`
  return author.revokedIn !== undefined && ctx.graph.isAncestor(author.revokedIn, entry.hash)
    ? `author ${author.device} was revoked in the causal past of this op`
    : OK
}

const mustBeAdmin = (ctx: Context, entry: RegistryEntry, action: string): Verdict =>
  authorOf(ctx, entry)?.role === 'admin' ? OK : `only an admin may ${action}; author ${show(entry.author)} is not an admin`

const mustBeNewDevice = (ctx: Context, device: DeviceId): Verdict =>
  ctx.state.devices[device] === undefined ? OK : `device ${device} is already known`

const mustBeKnownDevice = (ctx: Context, device: DeviceId): Verdict =>
  ctx.state.devices[device] !== undefined ? OK : `device ${device} is not known`

const mustBeSelfOrAdmin = (ctx: Context, entry: RegistryEntry, device: DeviceId): Verdict =>
  entry.author === device ? OK : mustBeAdmin(ctx, entry, 'rename another device')

const mustKnowEpochInCausalPast = (ctx: Context, entry: RegistryEntry, epoch: number): Verdict => {
  const record = ctx.state.epochs.find(e => e.epoch === epoch)
  return record !== undefined && ctx.graph.isAncestor(record.startedIn, entry.hash)
    ? OK
    : `epoch ${epoch} was not started in the causal past of this op`
}

// ---------------------------------------------------------------------------------------
// Op handlers: check the rules, then apply. Return the reason when the op does not count.

const applyGenesis = (ctx: Context, entry: RegistryEntry, op: GenesisOp): Verdict => {
  const verdict = check(
    () => mustBeAuthoredByFounder(ctx, entry),
    () => mustDescribeFounder(ctx, op),
    () => mustMatchMode(ctx, op),
    () => mustBeFirstGenesis(ctx)
  )
  if (verdict !== undefined) return verdict
  const { state } = ctx
  ctx.genesis = entry.hash
  state.initialized = true
  state.devices[op.founder.device] = {
    ...op.founder,
    role: 'admin',
    status: 'active',
    addedBy: null,
    admittedIn: entry.hash,
    seniority: ctx.nextSeniority++
  }
  const epoch: EpochRecord = {
    epoch: asEpoch(0),
    dataLog: op.dataLog,
    lockboxes: { ...op.lockboxes },
    startedIn: entry.hash,
    startedBy: op.founder.device,
    cut: []
  }
  state.epochs.push(epoch)
  state.epoch = epoch
  return OK
}

const applyAdd = (ctx: Context, entry: RegistryEntry, op: AddOp): Verdict => {
  const verdict = check(
    () => mustBeAdmin(ctx, entry, 'add devices'),
    () => mustBeNewDevice(ctx, op.device.device),
    () => mustKnowEpochInCausalPast(ctx, entry, op.epoch)
  )
  if (verdict !== undefined) return verdict
  const { state } = ctx
  state.devices[op.device.device] = {
    ...op.device,
    role: op.role,
    status: 'active',
    addedBy: entry.author,
    admittedIn: entry.hash,
    seniority: ctx.nextSeniority++
  }
  if (op.lockbox !== '') {
    const key = String(op.epoch)
    const boxes = state.addedLockboxes[key] ?? {}
    boxes[op.device.device] = op.lockbox
    state.addedLockboxes[key] = boxes
  }
  return OK
}

const applyRename = (ctx: Context, entry: RegistryEntry, op: RenameOp): Verdict => {
  const verdict = check(
    () => mustBeKnownDevice(ctx, op.device),
    () => mustBeSelfOrAdmin(ctx, entry, op.device)
  )
  if (verdict !== undefined) return verdict
  const record = ctx.state.devices[op.device] as DeviceRecord
  record.name = op.name
  return OK
}

/** Later stage: causal voiding and seniority resolution of mutual revocations. */
const applyRevoke = (_ctx: Context, _entry: RegistryEntry, _op: RevokeOp): Verdict =>
  'revoke is not supported yet'

/** Later stage: epoch rotation. */
const applyRotate = (_ctx: Context, _entry: RegistryEntry, _op: RotateOp): Verdict =>
  'rotate is not supported yet'

/** Rules shared by every op except genesis: causal authority of the author. */
const mustHaveCausalAuthority = (ctx: Context, entry: RegistryEntry): Verdict => check(
  () => mustFollowGenesis(ctx, entry),
  () => mustBeAdmittedInCausalPast(ctx, entry),
  () => mustBeActiveInCausalPast(ctx, entry)
)

const applyOp = (ctx: Context, entry: RegistryEntry, op: RegistryOp): Verdict => {
  if (op.type === 'genesis') return applyGenesis(ctx, entry, op)
  const verdict = mustHaveCausalAuthority(ctx, entry)
  if (verdict !== undefined) return verdict
  switch (op.type) {
    case 'add': return applyAdd(ctx, entry, op)
    case 'rename': return applyRename(ctx, entry, op)
    case 'revoke': return applyRevoke(ctx, entry, op)
    case 'rotate': return applyRotate(ctx, entry, op)
    default: {
      const unhandled: never = op
      throw new Error(`unhandled op ${JSON.stringify(unhandled)}`)
    }
  }
}

// ---------------------------------------------------------------------------------------
// Reducer

const assertParams = (params: AccountParams): void => {
  if (!isDeviceId(params.founder)) throw new InvalidArgumentError('params.founder must be a device id')
  if (typeof params.founderSigningKey !== 'string' || params.founderSigningKey.length !== LIMITS.keyLength ||
      !isCanonicalBase64url(params.founderSigningKey)) {
    throw new InvalidArgumentError('params.founderSigningKey must be base64url of 32 bytes')
  }
  if (!MODES.includes(params.mode)) throw new InvalidArgumentError(`params.mode must be one of ${MODES.join(', ')}`)
}

/** The state of an account whose registry holds no valid genesis yet. */
export const initialState = (params: AccountParams): AccountState => ({
  params: { founder: params.founder, founderSigningKey: params.founderSigningKey, mode: params.mode },
  initialized: false,
  devices: {},
  epoch: null,
  epochs: [],
  addedLockboxes: {},
  ignored: []
})

/**
 * Folds a set of registry entries into the account state. The result does not depend on
 * the order of `entries`, and duplicated entries count once.
 * @throws InvalidArgumentError only if `params` itself is invalid.
 */
export const reduce = (params: AccountParams, entries: Iterable<RegistryEntry>): AccountState => {
  assertParams(params)
  const graph = buildCausalGraph(entries)
  const state = initialState(params)
  state.ignored.push(...graph.rejected)
  const ctx: Context = { params: state.params, graph, state, genesis: null, nextSeniority: 0 }
  for (const entry of graph.order) {
    let op: RegistryOp
    try {
      op = parseOp(entry.payload)
    } catch (e) {
      state.ignored.push({ hash: entry.hash, reason: e instanceof Error ? e.message : 'invalid registry op' })
      continue
    }
    const reason = applyOp(ctx, entry, op)
    if (reason !== undefined) state.ignored.push({ hash: entry.hash, reason })
  }
  return state
}

/** The devices of an account, founder first, then in order of admission. */
export const deviceList = (state: AccountState): DeviceRecord[] =>
  Object.values(state.devices).sort((a, b) => a.seniority - b.seniority)

/** The active devices of an account, in order of seniority. */
export const activeDevices = (state: AccountState): DeviceRecord[] =>
  deviceList(state).filter(d => d.status === 'active')
