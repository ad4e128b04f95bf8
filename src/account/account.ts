/**
 * An open account: the registry, the current epoch's data log, and this device's keys.
 * Browser-ready: it gets an OrbitDB instance and the device secrets from its caller
 * (the Node adapter in src/node/ opens files, locks and the network).
 */
import { bindAccessContext, unbindAccessContext, DataAccessController, RegistryAccessController } from '../../acl/access.ts'
import { addOp, genesisOp } from '../../acl/ops.ts'
import { deviceList } from '../../acl/reducer.ts'
import type { AccountParams, AccountState, DeviceDescriptor, DeviceRecord, EpochRecord } from '../../acl/types.ts'
import type { DeviceSecrets } from '../../identity/keystore.ts'
import { generateKey } from '../crypto/aead.ts'
import { base64urlDecode, base64urlEncode, randomBytes } from '../crypto/bytes.ts'
import { lockboxAad, openBox, sealTo } from '../crypto/lockbox.ts'
import { NoAccountError, NotAuthorizedError, NotImplementedError } from '../errors.ts'
import type { OrbitDB } from '../orbit/orbitdb.ts'
import { ManagedDatabase } from '../orbit/database.ts'
import { encryptedCodec, plainCodec, type PayloadCodec } from '../store/codec.ts'
import { KeyValueDatabase, KV_TYPE, type KvDatabase } from '../store/kv-database.ts'
import type { Change } from '../store/kv-index.ts'
import type { JsonValue } from '../store/limits.ts'
import type { AccountAddress, DeviceId, Epoch, Mode, Role } from '../types.ts'
import { RegistryDatabaseType, REGISTRY_TYPE, type RegistryDatabase } from './registry.ts'

export interface AccountInfo {
  account: AccountAddress
  device: DeviceId
  name: string
  mode: Mode
  epoch: Epoch
}

export interface DeviceView {
  device: DeviceId
  name: string
  role: DeviceRecord['role']
  status: DeviceRecord['status']
  addedBy: DeviceId | null
}

export interface Account {
  readonly address: AccountAddress
  readonly device: DeviceId
  info: () => AccountInfo
  put: (key: string, value: JsonValue) => Promise<void>
  get: (key: string) => JsonValue | undefined
  del: (key: string) => Promise<boolean>
  all: (options?: { prefix?: string }) => Record<string, JsonValue>
  /** Calls `listener` for every visible change, local or from peers; returns an unsubscribe function. */
  watch: (listener: (change: Change) => void) => () => void
  devices: () => DeviceView[]
  state: () => AccountState
  /**
   * Admits a device (this device must be an active admin): appends an `add` with the
   * current epoch key sealed to the new device. Returns the heads a joiner waits for.
   */
  admit: (device: DeviceDescriptor, role: Role) => Promise<{ registryHeads: string[], dataHeads: string[] }>
  /** Entries the logs refused since the account opened (outsiders, forgeries), and those kept for a retry. */
  rejected: () => { registry: number, data: number, pending: number }
  /** Calls `listener` when a peer has exchanged heads with this device (for the registry or the data log). */
  onSync: (listener: (peerId: string, log: 'registry' | 'data') => void) => () => void
  /** Heads of the registry and the current data log (what a peer must have to be in sync). */
  heads: () => Promise<{ registryHeads: string[], dataHeads: string[] }>
  close: () => Promise<void>
}

export interface CoreOptions {
  orbitdb: OrbitDB
  secrets: DeviceSecrets
}

export const PRIVATE_NOT_YET = 'private mode (a libp2p private network with a swarm key) is not implemented yet; use --mode encrypted or --mode public'

export const REGISTRY_NAME = 'orbit-account/registry'
const dataLogName = (epoch: number): string => `orbit-account/data/${epoch}`

/** Opens the key of `epoch` from this device's lockbox in the registry state. */
const epochKey = (state: AccountState, epoch: EpochRecord, account: string, secrets: DeviceSecrets): Uint8Array => {
  const box = epoch.lockboxes[secrets.device] ?? state.addedLockboxes[String(epoch.epoch)]?.[secrets.device]
  if (box === undefined || box === '') {
    throw new NotAuthorizedError(`this device holds no key for epoch ${epoch.epoch} of ${account}`)
  }
  return openBox(secrets.box.secretKey, base64urlDecode(box, 'lockbox'), lockboxAad(account, epoch.epoch, secrets.device))
}

export const buildAccount = async (orbitdb: OrbitDB, secrets: DeviceSecrets, registry: RegistryDatabase, epochKeyOverride?: Uint8Array): Promise<Account> => {
  const address = registry.address as AccountAddress
  const state = registry.state()
  const epoch = state.epoch
  if (!state.initialized || epoch === null) {
    throw new NoAccountError(`the registry ${address} has no genesis record on this device yet`)
  }
  const mode = state.params.mode
  const key = mode === 'public' ? undefined : epochKeyOverride ?? epochKey(state, epoch, address, secrets)
  const codec: PayloadCodec = key === undefined ? plainCodec : encryptedCodec(key, address, epoch.epoch)
  const data = await orbitdb.open(epoch.dataLog, { type: KV_TYPE, Database: KeyValueDatabase({ codec }) }) as KvDatabase

  // Entries refused because their writer's admission had not arrived yet are retried
  // as soon as the registry admits someone new.
  let knownDevices = Object.keys(state.devices).length
  const stopRetry = registry.onState((next) => {
    const n = Object.keys(next.devices).length
    if (n === knownDevices) return
    knownDevices = n
    void registry.retryPending().then(async () => { await data.retryPending() })
  })
  const refused = { registry: 0, data: 0 }
  registry.events.on('rejected', () => { refused.registry++ })
  data.events.on('rejected', () => { refused.data++ })
  const heads = async (): Promise<{ registryHeads: string[], dataHeads: string[] }> => ({
    registryHeads: (await registry.log.heads()).map((e) => e.hash),
    dataHeads: (await data.log.heads()).map((e) => e.hash)
  })

  const self = (): DeviceRecord | undefined => registry.state().devices[secrets.device]
  return {
    address,
    device: secrets.device,
    info: () => ({ account: address, device: secrets.device, name: self()?.name ?? secrets.name, mode, epoch: epoch.epoch }),
    put: async (key, value) => { await data.put(key, value) },
    get: (key) => data.get(key),
    del: async (key) => {
      const existed = data.get(key) !== undefined
      await data.del(key)
      return existed
    },
    all: (options) => Object.fromEntries(data.entries(options?.prefix)),
    watch: (listener) => data.onChange(listener),
    devices: () => deviceList(registry.state()).map((d) => ({ device: d.device, name: d.name, role: d.role, status: d.status, addedBy: d.addedBy })),
    state: () => registry.state(),
    heads,
    rejected: () => ({ ...refused, pending: registry.pendingCount() + data.pendingCount() }),
    onSync: (listener) => {
      const onRegistry = (peerId: unknown): void => listener(String(peerId), 'registry')
      const onData = (peerId: unknown): void => listener(String(peerId), 'data')
      registry.events.on('join', onRegistry)
      data.events.on('join', onData)
      return () => {
        registry.events.off('join', onRegistry)
        data.events.off('join', onData)
      }
    },
    admit: async (device, role) => {
      const now = registry.state()
      const me = now.devices[secrets.device]
      if (me === undefined || me.status !== 'active' || me.role !== 'admin') {
        throw new NotAuthorizedError('only an active admin device can admit devices')
      }
      if (now.devices[device.device] !== undefined) throw new NotAuthorizedError(`device ${device.device} is already known to this account`)
      const lockbox = key === undefined
        ? ''
        : base64urlEncode(sealTo(base64urlDecode(device.boxKey, 'boxKey'), key, lockboxAad(address, epoch.epoch, device.device)))
      await registry.append(addOp({ device, role, epoch: epoch.epoch, lockbox }))
      return await heads()
    },
    close: async () => {
      stopRetry()
      await data.close()
      await registry.close()
      unbindAccessContext(orbitdb.identity)
    }
  }
}

/** Binds who-may-write knowledge for this account to the node's identity (see acl/access.ts). */
export const bindContext = (orbitdb: OrbitDB, registryAddress: () => string | undefined, state: () => AccountState | undefined): void => {
  const isAdmitted = (device: DeviceId, signingKey: string): boolean => {
    const record = state()?.devices[device]
    return record !== undefined && record.signingKey === signingKey
  }
  bindAccessContext(orbitdb.identity, {
    isAdmitted,
    canWriteData: (account, epoch, device, signingKey) =>
      account === registryAddress() && (state()?.epochs ?? []).some((e) => e.epoch === epoch) && isAdmitted(device, signingKey)
  })
}

/** Creates a new account with this device as its founder (an admin). */
export const createAccountCore = async (options: CoreOptions & { mode: Mode }): Promise<Account> => {
  const { orbitdb, secrets, mode } = options
  if (mode === 'private') {
    throw new NotImplementedError(PRIVATE_NOT_YET)
  }
  const signingKey = base64urlEncode(secrets.signing.publicKey)
  const params: AccountParams & { nonce: string } = { founder: secrets.device, founderSigningKey: signingKey, mode, nonce: base64urlEncode(randomBytes(16)) }
  let registry: RegistryDatabase | undefined
  bindContext(orbitdb, () => registry?.address, () => registry?.state())
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
  const lockboxes: Record<string, string> = key === undefined
    ? {}
    : { [secrets.device]: base64urlEncode(sealTo(secrets.box.publicKey, key, lockboxAad(account, 0, secrets.device))) }
  await registry.append(genesisOp({
    mode,
    founder: { device: secrets.device, name: secrets.name, signingKey, boxKey: base64urlEncode(secrets.box.publicKey) },
    dataLog,
    lockboxes
  }))
  return await buildAccount(orbitdb, secrets, registry, key)
}

/** Opens the registry of the account at `address` (its params come from its access controller). */
export const openRegistry = async (orbitdb: OrbitDB, address: string, signal?: AbortSignal): Promise<RegistryDatabase> => {
  // Until the registry is open nobody but the founder is known to be admitted.
  let registry: RegistryDatabase | undefined
  bindContext(orbitdb, () => registry?.address, () => registry?.state())
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
export const openAccountCore = async (options: CoreOptions & { address: string }): Promise<Account> => {
  const { orbitdb, secrets, address } = options
  const registry = await openRegistry(orbitdb, address)
  try {
    return await buildAccount(orbitdb, secrets, registry)
  } catch (err) {
    await registry.close().catch(() => {})
    throw err
  }
}
