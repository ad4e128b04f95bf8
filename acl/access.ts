/**
 * The OrbitDB access controllers of an account: the log layer of the two layers of
 * checks. They accept only what stays true forever: a valid device identity whose key
 * signed the entry, belonging to a device the account admitted. What can change as
 * history arrives (voided adds, revocations) is the reducer's and the index's job.
 *
 * OrbitDB builds an access controller from its address alone when a log is opened by
 * address, so the account-specific knowledge (who was admitted) is looked up through
 * the opening node's identity: each open account binds one `AccessContext` to it.
 *
 * One check is not such a fact, and decides only what is stored, never what counts: a
 * revoked device may have a few registry entries stored outside its revocation's causal
 * past (the reducer voids them anyway), no more, so a thief with its keys cannot fill
 * every peer's log.
 */
import * as Block from 'multiformats/block'
import * as dagCbor from '@ipld/dag-cbor'
import { sha256 } from 'multiformats/hashes/sha2'
import { CID } from 'multiformats/cid'
import { base58btc } from 'multiformats/bases/base58'
import { Entry, IPFSBlockStorage } from '../src/orbit/orbitdb.ts'
import { DATA_ENTRY_MAX_BYTES, REGISTRY_ENTRY_MAX_BYTES } from '../src/orbit/caps.ts'
import type { AccessController, AccessControllerArgs, HeliaNode, LogEntry, OrbitIdentities, OrbitIdentity } from '../src/orbit/orbitdb.ts'
import type { DeviceId } from '../src/types.ts'
import { MODES } from '../src/types.ts'
import type { AccountParams } from './types.ts'
import { parseOp } from './ops.ts'
import { InvalidOperationError } from '../src/errors.ts'
import { checkQuotas } from '../src/store/quota.ts'

export const REGISTRY_AC_TYPE = 'orbit-account-registry'
export const DATA_AC_TYPE = 'orbit-account-data'

/** What an open account knows about who may write. */
export interface AccessContext {
  /** Was `device` (with this signing key) ever admitted to the account whose registry AC is `registryAc`? */
  isAdmitted: (device: DeviceId, signingKey: string) => boolean
  /** May `device` append to the data log of `epoch` of `account`? */
  canWriteData: (account: string, epoch: number, device: DeviceId, signingKey: string) => boolean
  /** Is `device` known to be revoked (no admission of it can come any more)? Absent: no. */
  isRevoked?: (device: DeviceId) => boolean
  /**
   * How many more registry entries `device` may have stored: Infinity unless it is
   * revoked, then a small budget less its entries stored outside the revocation's past.
   * Absent: no bound.
   */
  registryAllowance?: (device: DeviceId, signingKey: string) => Promise<number>
}

const contexts = new WeakMap<OrbitIdentity, AccessContext>()

export const bindAccessContext = (identity: OrbitIdentity, context: AccessContext): void => {
  contexts.set(identity, context)
}
export const unbindAccessContext = (identity: OrbitIdentity): void => {
  contexts.delete(identity)
}

/** Params of a data log's access controller. */
export interface DataLogParams {
  account: string
  epoch: number
}

const putParams = async (ipfs: HeliaNode, value: object): Promise<string> => {
  const storage = await IPFSBlockStorage({ ipfs, pin: true })
  const { cid, bytes } = await Block.encode({ value, codec: dagCbor, hasher: sha256 })
  const hash = cid.toString(base58btc)
  await storage.put(hash, bytes)
  return hash
}

const getParams = async (ipfs: HeliaNode, address: string): Promise<unknown> => {
  const hash = address.split('/').pop() ?? ''
  try {
    CID.parse(hash, base58btc)
  } catch {
    throw new InvalidOperationError(`not an access controller address: ${address}`)
  }
  const storage = await IPFSBlockStorage({ ipfs, pin: true })
  const bytes = await storage.get(hash)
  if (bytes === undefined) throw new InvalidOperationError(`access controller params not found: ${address}`)
  const { value } = await Block.decode({ bytes, codec: dagCbor, hasher: sha256 })
  return value
}

const parseAccountParams = (v: unknown): AccountParams & { nonce: string } => {
  const o = v as Record<string, unknown> | null
  if (typeof o !== 'object' || o === null || typeof o.founder !== 'string' || typeof o.founderSigningKey !== 'string' ||
    typeof o.mode !== 'string' || !(MODES as readonly string[]).includes(o.mode) || typeof o.nonce !== 'string') {
    throw new InvalidOperationError('malformed account parameters in the registry access controller')
  }
  if (o.genesisKey !== undefined && typeof o.genesisKey !== 'string') throw new InvalidOperationError('malformed account parameters in the registry access controller')
  let quotas: AccountParams['quotas']
  try {
    quotas = o.quotas === undefined ? undefined : checkQuotas(o.quotas)
  } catch {
    throw new InvalidOperationError('malformed quotas in the registry access controller')
  }
  return { founder: o.founder as DeviceId, founderSigningKey: o.founderSigningKey, mode: o.mode as AccountParams['mode'], nonce: o.nonce, ...(typeof o.genesisKey === 'string' ? { genesisKey: o.genesisKey } : {}), ...(quotas !== undefined ? { quotas } : {}) }
}

const parseDataParams = (v: unknown): DataLogParams => {
  const o = v as Record<string, unknown> | null
  if (typeof o !== 'object' || o === null || typeof o.account !== 'string' || typeof o.epoch !== 'number' || !Number.isSafeInteger(o.epoch) || o.epoch < 0) {
    throw new InvalidOperationError('malformed data log parameters in the access controller')
  }
  return { account: o.account, epoch: o.epoch }
}

/**
 * An access controller's params: read from IPFS when the log is opened by address,
 * else stored there (the address is their hash). Returns both.
 */
const resolveParams = async <P extends object>(
  ipfs: HeliaNode, type: string, address: string | undefined, given: P | undefined, parse: (v: unknown) => P, missing: string
): Promise<{ params: P, address: string }> => {
  if (address !== undefined) return { params: parse(await getParams(ipfs, address)), address }
  if (given === undefined) throw new InvalidOperationError(missing)
  return { params: given, address: `/${type}/${await putParams(ipfs, given)}` }
}

/** The writer of an entry, if its identity is valid and its key signed the entry. */
export const entryWriter = async (identities: OrbitIdentities, entry: LogEntry): Promise<{ device: DeviceId, signingKey: string } | undefined> => {
  if (typeof entry?.identity !== 'string' || typeof entry.key !== 'string') return undefined
  const identity = await identities.getIdentity(entry.identity)
  if (identity === undefined) return undefined
  // OrbitDB checks the signature against entry.key: that key must be the identity's own.
  if (identity.publicKey !== entry.key) return undefined
  if (!(await identities.verifyIdentity(identity))) return undefined
  return { device: identity.id as DeviceId, signingKey: identity.publicKey }
}

/** A refused entry may be accepted later unless its writer is invalid or known revoked. */
const retryableWith = (identities: OrbitIdentities, self: OrbitIdentity) => async (entry: LogEntry): Promise<boolean> => {
  const writer = await entryWriter(identities, entry)
  return writer !== undefined && contexts.get(self)?.isRevoked?.(writer.device) !== true
}

/** How far back, and how deep a chain of admissions, the registry AC looks. */
const MAX_SEARCH_ENTRIES = 512
const MAX_CHAIN_DEPTH = 8
const FETCH_TIMEOUT_MS = 2000
/** The whole search for one entry gives up after this long. */
const SEARCH_DEADLINE_MS = 4000

/**
 * Looks in the causal past of `entry` for an admission of `device` (an `add` op with
 * this signing key, or a `recovery` op or the genesis setting it as the recovery key), signed by the
 * founder or by a device (or recovery key) itself admitted that way:
 * the certificate chain back to the founder that lets a peer accept an entry of a
 * device whose admission reached it in the same batch.
 */
const admittedInCausalPast = async (
  ipfs: HeliaNode, identities: OrbitIdentities, params: AccountParams, known: (device: DeviceId, key: string) => boolean,
  entry: LogEntry, device: DeviceId, signingKey: string, requireAdmin: boolean, depth = 0, deadline = Date.now() + SEARCH_DEADLINE_MS
): Promise<boolean> => {
  if (depth > MAX_CHAIN_DEPTH) return false
  const storage = await IPFSBlockStorage({ ipfs, pin: false, timeout: FETCH_TIMEOUT_MS })
  const seen = new Set<string>()
  const queue = [...entry.next, ...entry.refs]
  while (queue.length > 0 && seen.size < MAX_SEARCH_ENTRIES && Date.now() < deadline) {
    const hash = queue.shift() as string
    if (seen.has(hash)) continue
    seen.add(hash)
    let ancestor: LogEntry
    try {
      const bytes = await storage.get(hash)
      if (bytes === undefined) continue
      ancestor = await Entry.decode(bytes)
    } catch {
      continue
    }
    if (Array.isArray(ancestor.next)) queue.push(...ancestor.next)
    if (Array.isArray(ancestor.refs)) queue.push(...ancestor.refs)
    let op
    try {
      op = parseOp(ancestor.payload)
    } catch {
      continue
    }
    // An admission of this key: an add of a device, or a recovery op setting a recovery key.
    const named = op.type === 'add' ? op.device : op.type === 'recovery' ? op.key : op.type === 'genesis' ? op.recovery : undefined
    if (named === undefined || named.device !== device || named.signingKey !== signingKey) continue
    if (requireAdmin && op.type === 'add' && op.role !== 'admin') continue
    if (!(await Entry.verify(identities, ancestor))) continue
    const adder = await entryWriter(identities, ancestor)
    if (adder === undefined) continue
    if (adder.device === params.founder && adder.signingKey === params.founderSigningKey) return true
    if (known(adder.device, adder.signingKey)) return true
    // An admission that names an invitation may be written by any device (the reducer checks the invitation).
    const adderMustBeAdmin = !(op.type === 'add' && op.invitation !== undefined)
    if (await admittedInCausalPast(ipfs, identities, params, known, ancestor, adder.device, adder.signingKey, adderMustBeAdmin, depth + 1, deadline)) return true
  }
  return false
}

/** The registry's access controller; its params are the account's fixed parameters. */
export const RegistryAccessController = Object.assign(
  (params?: AccountParams & { nonce: string }) => async ({ orbitdb, identities, address }: AccessControllerArgs): Promise<AccessController & { params: AccountParams }> => {
    const resolved = await resolveParams(orbitdb.ipfs, REGISTRY_AC_TYPE, address, params, parseAccountParams, 'a new registry needs its account parameters')
    const p = resolved.params
    const admitted = async (entry: LogEntry, writer: { device: DeviceId, signingKey: string }): Promise<boolean> => {
      if (writer.device === p.founder) return writer.signingKey === p.founderSigningKey
      const context = contexts.get(orbitdb.identity)
      const known = (device: DeviceId, key: string): boolean => context !== undefined && context.isAdmitted(device, key)
      if (known(writer.device, writer.signingKey)) return true
      return await admittedInCausalPast(orbitdb.ipfs, identities, p, known, entry, writer.device, writer.signingKey, false)
    }
    const allowanceOf = async (writer: { device: DeviceId, signingKey: string }): Promise<number> =>
      await (contexts.get(orbitdb.identity)?.registryAllowance?.(writer.device, writer.signingKey) ?? Number.POSITIVE_INFINITY)
    const canAppend = async (entry: LogEntry): Promise<boolean> => {
      const writer = await entryWriter(identities, entry)
      if (writer === undefined || !(await admitted(entry, writer))) return false
      return await allowanceOf(writer) > 0
    }
    const allowance = async (entry: LogEntry): Promise<number> => {
      const writer = await entryWriter(identities, entry)
      return writer === undefined ? 0 : await allowanceOf(writer)
    }
    return {
      type: REGISTRY_AC_TYPE,
      address: resolved.address,
      params: { founder: p.founder, founderSigningKey: p.founderSigningKey, mode: p.mode, ...(p.genesisKey !== undefined ? { genesisKey: p.genesisKey } : {}), ...(p.quotas !== undefined ? { quotas: p.quotas } : {}) },
      canAppend,
      allowance,
      mayRetry: retryableWith(identities, orbitdb.identity),
      maxEntryBytes: REGISTRY_ENTRY_MAX_BYTES
    }
  },
  { type: REGISTRY_AC_TYPE }
)

/** A data log's access controller; its params name the account and the epoch. */
export const DataAccessController = Object.assign(
  (params?: DataLogParams) => async ({ orbitdb, identities, address }: AccessControllerArgs): Promise<AccessController & { params: DataLogParams }> => {
    const resolved = await resolveParams(orbitdb.ipfs, DATA_AC_TYPE, address, params, parseDataParams, 'a new data log needs its account and epoch')
    const p = resolved.params
    const canAppend = async (entry: LogEntry): Promise<boolean> => {
      const writer = await entryWriter(identities, entry)
      if (writer === undefined) return false
      const context = contexts.get(orbitdb.identity)
      return context !== undefined && context.canWriteData(p.account, p.epoch, writer.device, writer.signingKey)
    }
    // A data entry may join without an ancestor no peer serves (its values are last-writer-wins by stamp, whatever the past).
    return { type: DATA_AC_TYPE, address: resolved.address, params: p, canAppend, mayRetry: retryableWith(identities, orbitdb.identity), maxEntryBytes: DATA_ENTRY_MAX_BYTES, holes: true }
  },
  { type: DATA_AC_TYPE }
)
