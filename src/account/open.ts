/**
 * Making and opening an account (browser-ready): the registry with its genesis, the
 * epoch-0 data log, and the access-control knowledge bound to the node's identity.
 */
import { bindAccessContext, DataAccessController, RegistryAccessController } from '../../acl/access.ts'
import { genesisOp } from '../../acl/ops.ts'
import { sealGenesis } from '../../acl/genesis.ts'
import { generateDeviceKeys } from '../../identity/keys.ts'
import type { AccountParams, AccountState, RecoveryDescriptor } from '../../acl/types.ts'
import { generateKey } from '../crypto/aead.ts'
import { base64urlEncode, randomBytes } from '../crypto/bytes.ts'
import { NoAccountError } from '../errors.ts'
import type { OrbitDB, OrbitLog } from '../orbit/orbitdb.ts'
import { ManagedDatabase } from '../orbit/database.ts'
import { KV_TYPE } from '../store/kv-database.ts'
import { checkQuotas, DEFAULT_QUOTAS, type Quotas } from '../store/quota.ts'
import type { DeviceId, Mode } from '../types.ts'
import { buildAccount, REGISTRY_NAME, type Account, type BuildOptions, type CoreOptions } from './account.ts'
import { lockboxOf, sealEpochKey } from './epochs.ts'
import { RegistryDatabaseType, REGISTRY_TYPE, type RegistryDatabase } from './registry.ts'

const dataLogName = (epoch: number): string => `orbit-account/data/${epoch}`

/**
 * How many registry entries of a revoked device may be stored outside its revocation's
 * causal past (everything in that past came with the revocation): a few, since an honest
 * device may have pointed at some before it heard of the revocation. The reducer voids
 * them; the bound only keeps a thief with the device's keys from filling every log.
 */
export const REVOKED_REGISTRY_BUDGET = 16

/** How many entries signed with `signingKey` the log holds outside the causal past of `revokedIn`. */
const storedOutside = async (log: OrbitLog, revokedIn: string, signingKey: string): Promise<number> => {
  const entries = await log.values()
  const byHash = new Map(entries.map((e) => [e.hash, e]))
  const past = new Set<string>()
  const stack = [revokedIn]
  while (stack.length > 0) {
    const hash = stack.pop() as string
    if (past.has(hash)) continue
    past.add(hash)
    const entry = byHash.get(hash)
    if (entry !== undefined) stack.push(...entry.next, ...entry.refs)
  }
  return entries.filter((e) => e.key === signingKey && !past.has(e.hash)).length
}

/** Binds who-may-write knowledge for this account to the node's identity (see acl/access.ts). */
export const bindContext = (orbitdb: OrbitDB, registryAddress: () => string | undefined, state: () => AccountState | undefined, registryLog: () => OrbitLog | undefined): void => {
  const self = orbitdb.identity.id
  const isAdmitted = (device: DeviceId, signingKey: string): boolean => {
    const s = state()
    const record = s?.devices[device]
    if (record !== undefined) return record.signingKey === signingKey
    // The recovery key, and the ones it replaced (their earlier entries stay in the log).
    const isKey = (r: RecoveryDescriptor | null | undefined): boolean => r?.device === device && r.signingKey === signingKey
    return isKey(s?.recovery) || (s?.retiredRecovery.some(isKey) ?? false)
  }
  // The registry log changes only with its state (recomputed on every change): counts are kept per state.
  const counted = new WeakMap<AccountState, Map<DeviceId, Promise<number>>>()
  const registryAllowance = async (device: DeviceId, signingKey: string): Promise<number> => {
    const s = state()
    const record = s?.devices[device]
    if (s === undefined || record?.status !== 'revoked') return Number.POSITIVE_INFINITY
    const log = registryLog()
    if (log === undefined || record.revokedIn === undefined) return 0
    let counts = counted.get(s)
    if (counts === undefined) counted.set(s, counts = new Map())
    let stored = counts.get(device)
    // A log that cannot be read counts as full: the device gets nothing more stored.
    if (stored === undefined) counts.set(device, stored = storedOutside(log, record.revokedIn, signingKey).catch(() => REVOKED_REGISTRY_BUDGET))
    return Math.max(0, REVOKED_REGISTRY_BUDGET - await stored)
  }
  bindAccessContext(orbitdb.identity, {
    isAdmitted,
    isRevoked: (device) => state()?.devices[device]?.status === 'revoked',
    registryAllowance,
    // A member of that epoch: it holds a lockbox of it (a rule that stays true forever).
    canWriteData: (account, epoch, device, signingKey) => {
      const s = state()
      if (s === undefined || account !== registryAddress() || !isAdmitted(device, signingKey)) return false
      // This device's own writes: a rotation writes its snapshot before the registry names the new epoch.
      if (device === self) return true
      return [...s.epochs, ...(s.supersededEpochs ?? [])].some((e) => e.epoch === epoch && lockboxOf(s, e, device) !== undefined)
    }
  })
}

/** Creates a new account with this device as its founder (an admin). */
/**
 * Makes a new account on this device, its founder. `recovery`: the public half of the
 * recovery key (from `recoveryKeysFromWords`), set in the genesis with a lockbox of the
 * epoch-0 key; without it the account has no recovery key until an admin sets one.
 */
export const createAccountCore = async (options: CoreOptions & { mode: Mode, recovery?: RecoveryDescriptor, quotas?: Quotas }): Promise<Account> => {
  const { orbitdb, secrets, mode } = options
  const signingKey = base64urlEncode(secrets.signing.publicKey)
  // A one-time key seals the genesis, then its secret is dropped: the founder's keys alone cannot make another one.
  const genesisKeys = generateDeviceKeys().signing
  const params: AccountParams & { nonce: string } = {
    founder: secrets.device, founderSigningKey: signingKey, mode, nonce: base64urlEncode(randomBytes(16)), genesisKey: base64urlEncode(genesisKeys.publicKey),
    // In the parameters the address commits to, so every peer applies the same numbers.
    quotas: options.quotas !== undefined ? checkQuotas(options.quotas) : { ...DEFAULT_QUOTAS }
  }
  let registry: RegistryDatabase | undefined
  bindContext(orbitdb, () => registry?.address, () => registry?.state(), () => registry?.log)
  registry = await orbitdb.open(REGISTRY_NAME, {
    type: REGISTRY_TYPE,
    AccessController: RegistryAccessController(params),
    Database: RegistryDatabaseType({ params, identities: orbitdb.identities }),
    meta: { app: 'orbit-account', v: 1 }
  }) as RegistryDatabase
  const account = registry.address
  const data = await orbitdb.open(dataLogName(0), {
    type: KV_TYPE,
    AccessController: DataAccessController({ account, epoch: 0 }),
    // Opened only to fix its address; buildAccount opens it with its codec.
    Database: ManagedDatabase,
    meta: { account, epoch: 0 }
  })
  const dataLog = data.address
  await data.close()
  const key = mode === 'public' ? undefined : generateKey()
  const founder = { device: secrets.device, name: secrets.name, signingKey, boxKey: base64urlEncode(secrets.box.publicKey) }
  const recovery = options.recovery
  const lockboxes: Record<string, string> = { [secrets.device]: sealEpochKey(account, 0, key, founder) }
  // The words made at creation go in the genesis, which nothing can void.
  if (recovery !== undefined) lockboxes[recovery.device] = sealEpochKey(account, 0, key, recovery)
  const genesis = sealGenesis(genesisOp({
    mode,
    founder,
    dataLog,
    lockboxes,
    ...(recovery !== undefined ? { recovery } : {})
  }), genesisKeys.secretKey)
  genesisKeys.secretKey.fill(0)
  await registry.append(genesis)
  return await buildAccount(orbitdb, secrets, registry, { ...(key !== undefined ? { knownKey: key } : {}), ...(options.store !== undefined ? { store: options.store } : {}), ...(options.onEpoch !== undefined ? { onEpoch: options.onEpoch } : {}) })
}

/** Opens the registry of the account at `address` (its params come from its access controller). */
export const openRegistry = async (orbitdb: OrbitDB, address: string, signal?: AbortSignal): Promise<RegistryDatabase> => {
  // Until the registry is open nobody but the founder is known to be admitted.
  let registry: RegistryDatabase | undefined
  bindContext(orbitdb, () => registry?.address, () => registry?.state(), () => registry?.log)
  registry = await orbitdb.open(address, {
    ...(signal !== undefined ? { signal } : {}),
    Database: async (args) => {
      const ac = args.access as typeof args.access & { params?: AccountParams }
      if (ac.params === undefined) throw new NoAccountError(`${address} is not an orbit-account registry`)
      return await RegistryDatabaseType({ params: ac.params, identities: orbitdb.identities })(args)
    }
  }) as RegistryDatabase
  if (registry.type !== REGISTRY_TYPE) throw new NoAccountError(`${address} is not an orbit-account registry`)
  return registry
}

/** Opens an account this device belongs to, by its registry address. */
export const openAccountCore = async (options: CoreOptions & { address: string } & BuildOptions): Promise<Account> => {
  const { orbitdb, secrets, address } = options
  const registry = await openRegistry(orbitdb, address)
  try {
    return await buildAccount(orbitdb, secrets, registry, options)
  } catch (err) {
    await registry.close().catch(() => {})
    throw err
  }
}
