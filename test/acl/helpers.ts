/**
 * Hand-built registry entries for the ACL specs: fake but well-formed device ids and
 * keys, hashes 'h1', 'h2', ..., Lamport clock times, and a seeded PRNG.
 */
import assert from 'node:assert/strict'
import { addOp, genesisOp, recoveryOp, rotateOp } from '../../acl/ops.ts'
import type { AccountParams, AccountState, DeviceDescriptor, RecoveryDescriptor, RegistryEntry } from '../../acl/types.ts'
import { deviceIdFromSigningKey, signingPublicKey } from '../../identity/keys.ts'
import type { DeviceId, Mode, Role } from '../../src/types.ts'

// ---------------------------------------------------------------------------------------
// Seeded PRNG (mulberry32): same seed, same sequence, on every run.

export interface Rng {
  /** A float in [0, 1). */
  next: () => number
  /** An integer in [0, n). */
  int: (n: number) => number
  chance: (p: number) => boolean
  pick: <T>(items: readonly T[]) => T
  /** A shuffled copy. */
  shuffle: <T>(items: readonly T[]) => T[]
  bytes: (n: number) => Uint8Array
}

export const makeRng = (seed: number): Rng => {
  let a = seed >>> 0
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number): number => Math.floor(next() * n)
  const pick = <T>(items: readonly T[]): T => {
    if (items.length === 0) throw new Error('pick from an empty list')
    return items[int(items.length)] as T
  }
  const shuffle = <T>(items: readonly T[]): T[] => {
    const out = [...items]
    for (let i = out.length - 1; i > 0; i--) {
      const j = int(i + 1)
      const tmp = out[i] as T
      out[i] = out[j] as T
      out[j] = tmp
    }
    return out
  }
  const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => int(256))
  return { next, int, chance: p => next() < p, pick, shuffle, bytes }
}

/** A stable 32-bit seed from a string (FNV-1a). */
export const seedOf = (text: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0
  return h
}

// ---------------------------------------------------------------------------------------
// Fake identities.

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567'

/** Unpadded base64url, without Buffer. */
export const base64url = (bytes: Uint8Array): string => {
  let out = ''
  for (let i = 0; i < bytes.length; i += 3) {
    const n = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0)
    const chars = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6))
    for (let c = 0; c < chars; c++) out += B64URL[(n >> (18 - 6 * c)) & 63]
  }
  return out
}

export const fakeDeviceId = (rng: Rng): DeviceId =>
  ('d' + Array.from({ length: 24 }, () => BASE32[rng.int(32)]).join('')) as DeviceId

/** 43 chars: base64url of 32 bytes. */
export const fakeKey = (rng: Rng): string => base64url(rng.bytes(32))

/** A sealed box of plausible size (nonce + 32-byte key + tag). */
export const fakeLockbox = (rng: Rng): string => base64url(rng.bytes(24 + 32 + 16))

export const persona = (name: string): DeviceDescriptor => {
  const rng = makeRng(seedOf(name))
  return { device: fakeDeviceId(rng), name, signingKey: fakeKey(rng), boxKey: fakeKey(rng) }
}

/**
 * A recovery key's public half from a seeded rng: its id derives from a real Ed25519
 * public key (the reducer checks that), so a history replays by seed.
 */
export const recoveryKeyFrom = (rng: Rng): RecoveryDescriptor => {
  const signingKey = signingPublicKey(rng.bytes(32))
  return { device: deviceIdFromSigningKey(signingKey), signingKey: base64url(signingKey), boxKey: fakeKey(rng) }
}

export interface Personas {
  /** The founder. */
  laptop: DeviceDescriptor
  phone: DeviceDescriptor
  tablet: DeviceDescriptor
  /** Never legitimately admitted. */
  thief: DeviceDescriptor
}

export const personas = (): Personas => ({
  laptop: persona('laptop'),
  phone: persona('phone'),
  tablet: persona('tablet'),
  thief: persona('thief')
})

export const DATA_LOG = '/orbitdb/zdpuAwEpoch0DataLogAddressForTests'

export const paramsFor = (founder: DeviceDescriptor, mode: Mode = 'encrypted'): AccountParams =>
  ({ founder: founder.device, founderSigningKey: founder.signingKey, mode })

// ---------------------------------------------------------------------------------------
// A registry log built by hand.

export interface AppendOptions {
  /** Causal parents; defaults to the current heads. */
  after?: readonly string[]
  /** Clock time; defaults to one more than the latest parent's (Lamport). */
  time?: number
}

export interface Registry {
  readonly entries: RegistryEntry[]
  append: (author: DeviceDescriptor | DeviceId, payload: unknown, options?: AppendOptions) => RegistryEntry
  /** Entries that no other entry points at. */
  heads: () => string[]
}

export const registry = (): Registry => {
  const entries: RegistryEntry[] = []
  const byHash = new Map<string, RegistryEntry>()
  const heads = (): string[] => {
    const referenced = new Set(entries.flatMap(e => e.next))
    return entries.filter(e => !referenced.has(e.hash)).map(e => e.hash)
  }
  const append = (author: DeviceDescriptor | DeviceId, payload: unknown, options: AppendOptions = {}): RegistryEntry => {
    const next = [...(options.after ?? heads())]
    const time = options.time ?? 1 + Math.max(0, ...next.map(h => byHash.get(h)?.clock.time ?? 0))
    const id = typeof author === 'string' ? author : author.device
    const entry: RegistryEntry = { hash: `h${entries.length + 1}`, author: id, next, clock: { id, time }, payload }
    entries.push(entry)
    byHash.set(entry.hash, entry)
    return entry
  }
  return { entries, append, heads }
}

/** An encrypted account founded by the laptop: the registry holds its genesis. */
export interface Founded {
  p: Personas
  params: AccountParams
  log: Registry
  genesis: RegistryEntry
}

export const found = (mode: Mode = 'encrypted'): Founded => {
  const p = personas()
  const log = registry()
  const lockboxes = mode === 'public' ? {} : { [p.laptop.device]: fakeLockbox(makeRng(1)) }
  const genesis = log.append(p.laptop, genesisOp({ mode, founder: p.laptop, dataLog: DATA_LOG, lockboxes }))
  return { p, params: paramsFor(p.laptop, mode), log, genesis }
}

/** An add op for epoch 0 with a fake lockbox. */
export const addPayload = (device: DeviceDescriptor, role: Role, epoch = 0): unknown =>
  addOp({ device, role, epoch, lockbox: fakeLockbox(makeRng(seedOf(device.device))) })

/** A rotate op to `epoch` with a fake lockbox for each of `devices`. */
export const rotatePayload = (epoch: number, devices: readonly DeviceDescriptor[], cut: readonly string[] = []): unknown => {
  const rng = makeRng(seedOf(`epoch ${epoch} ${devices.map(d => d.device).join(' ')}`))
  return rotateOp({
    epoch,
    dataLog: `/orbitdb/zdpuEpoch${epoch}DataLog${rng.int(1e9)}`,
    lockboxes: Object.fromEntries(devices.map(d => [d.device, fakeLockbox(rng)])),
    cut
  })
}

/** A recovery op setting `key`, with a fake lockbox of `epoch`'s key for it. */
export const recoveryPayload = (key: RecoveryDescriptor, epoch = 0): unknown =>
  recoveryOp({ key, epoch, lockbox: fakeLockbox(makeRng(seedOf(`${key.device} ${epoch}`))) })

// ---------------------------------------------------------------------------------------
// Assertions on reduced states.

export const reasonFor = (state: AccountState, entry: RegistryEntry): string | undefined =>
  state.ignored.find(i => i.hash === entry.hash)?.reason

export const assertIgnored = (state: AccountState, entry: RegistryEntry, reason: RegExp): void => {
  const found = reasonFor(state, entry)
  assert.ok(found !== undefined, `expected ${entry.hash} to be ignored; ignored: ${JSON.stringify(state.ignored)}`)
  assert.match(found, reason)
}

export const assertCounts = (state: AccountState, entry: RegistryEntry): void => {
  assert.equal(reasonFor(state, entry), undefined, `expected ${entry.hash} to count`)
}

// ---------------------------------------------------------------------------------------
// Causal pasts.

/** The entries in the causal past of `heads`, inclusive (unknown hashes are skipped). */
export const pastOf = (byHash: ReadonlyMap<string, RegistryEntry>, heads: readonly string[]): RegistryEntry[] => {
  const seen = new Set<string>()
  const stack = [...heads]
  const out: RegistryEntry[] = []
  for (let hash = stack.pop(); hash !== undefined; hash = stack.pop()) {
    const entry = byHash.get(hash)
    if (seen.has(hash) || entry === undefined) continue
    seen.add(hash)
    out.push(entry)
    stack.push(...entry.next)
  }
  return out
}
