/**
 * The OrbitDB access controllers of an account: the log layer of the two layers of
 * checks. They accept only what stays true forever: a valid device identity whose key
 * signed the entry, belonging to a device the account admitted. What can change as
 * history arrives (voided adds, revocations) is the reducer's and the index's job.
 *
 * OrbitDB builds an access controller from its address alone when a log is opened by
 * address, so the account-specific knowledge (who was admitted) is looked up through
 * the opening node's identity: each open account binds one `AccessContext` to it.
 */
import * as Block from 'multiformats/block'
import * as dagCbor from '@ipld/dag-cbor'
import { sha256 } from 'multiformats/hashes/sha2'
import { CID } from 'multiformats/cid'
import { base58btc } from 'multiformats/bases/base58'
import { IPFSBlockStorage } from '../src/orbit/orbitdb.ts'
import type { AccessController, AccessControllerArgs, HeliaNode, LogEntry, OrbitIdentities, OrbitIdentity } from '../src/orbit/orbitdb.ts'
import type { DeviceId } from '../src/types.ts'
import { MODES } from '../src/types.ts'
import type { AccountParams } from './types.ts'
import { InvalidOperationError } from '../src/errors.ts'

export const REGISTRY_AC_TYPE = 'orbit-account-registry'
export const DATA_AC_TYPE = 'orbit-account-data'

/** What an open account knows about who may write. */
export interface AccessContext {
  /** Was `device` (with this signing key) ever admitted to the account whose registry AC is `registryAc`? */
  isAdmitted: (device: DeviceId, signingKey: string) => boolean
  /** May `device` append to the data log of `epoch` of `account`? */
  canWriteData: (account: string, epoch: number, device: DeviceId, signingKey: string) => boolean
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
  return { founder: o.founder as DeviceId, founderSigningKey: o.founderSigningKey, mode: o.mode as AccountParams['mode'], nonce: o.nonce }
}

const parseDataParams = (v: unknown): DataLogParams => {
  const o = v as Record<string, unknown> | null
  if (typeof o !== 'object' || o === null || typeof o.account !== 'string' || typeof o.epoch !== 'number' || !Number.isSafeInteger(o.epoch) || o.epoch < 0) {
    throw new InvalidOperationError('malformed data log parameters in the access controller')
  }
  return { account: o.account, epoch: o.epoch }
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

/** The registry's access controller; its params are the account's fixed parameters. */
export const RegistryAccessController = Object.assign(
  (params?: AccountParams & { nonce: string }) => async ({ orbitdb, identities, address }: AccessControllerArgs): Promise<AccessController & { params: AccountParams }> => {
    let p: AccountParams & { nonce: string }
    if (address !== undefined) {
      p = parseAccountParams(await getParams(orbitdb.ipfs, address))
    } else if (params !== undefined) {
      p = params
      address = `/${REGISTRY_AC_TYPE}/${await putParams(orbitdb.ipfs, params)}`
    } else {
      throw new InvalidOperationError('a new registry needs its account parameters')
    }
    const canAppend = async (entry: LogEntry): Promise<boolean> => {
      const writer = await entryWriter(identities, entry)
      if (writer === undefined) return false
      if (writer.device === p.founder) return writer.signingKey === p.founderSigningKey
      const context = contexts.get(orbitdb.identity)
      return context !== undefined && context.isAdmitted(writer.device, writer.signingKey)
    }
    return { type: REGISTRY_AC_TYPE, address, params: { founder: p.founder, founderSigningKey: p.founderSigningKey, mode: p.mode }, canAppend }
  },
  { type: REGISTRY_AC_TYPE }
)

/** A data log's access controller; its params name the account and the epoch. */
export const DataAccessController = Object.assign(
  (params?: DataLogParams) => async ({ orbitdb, identities, address }: AccessControllerArgs): Promise<AccessController & { params: DataLogParams }> => {
    let p: DataLogParams
    if (address !== undefined) {
      p = parseDataParams(await getParams(orbitdb.ipfs, address))
    } else if (params !== undefined) {
      p = params
      address = `/${DATA_AC_TYPE}/${await putParams(orbitdb.ipfs, params)}`
    } else {
      throw new InvalidOperationError('a new data log needs its account and epoch')
    }
    const canAppend = async (entry: LogEntry): Promise<boolean> => {
      const writer = await entryWriter(identities, entry)
      if (writer === undefined) return false
      const context = contexts.get(orbitdb.identity)
      return context !== undefined && context.canWriteData(p.account, p.epoch, writer.device, writer.signingKey)
    }
    return { type: DATA_AC_TYPE, address, params: p, canAppend }
  },
  { type: DATA_AC_TYPE }
)
