/**
 * The browser side of a device (the twin of src/node/account-dir.ts): one device per
 * origin, its keys and what it remembers in IndexedDB, its node and its OrbitDB. A join
 * stores nothing until it has finished; one that fails leaves nothing behind.
 */
import { multiaddr } from '@multiformats/multiaddr'
import type { Account } from '../account/account.ts'
import { joinAccountCore } from '../account/join.ts'
import { openAccountCore } from '../account/open.ts'
import { useAccountAccessControllers } from '../account/access-registration.ts'
import { createDeviceIdentities } from '../../identity/identities.ts'
import { deviceIdFromSigningKey, generateDeviceKeys } from '../../identity/keys.ts'
import type { DeviceSecrets } from '../../identity/keystore.ts'
import { base64urlEncode } from '../crypto/bytes.ts'
import { AccountExistsError, InvalidArgumentError, InvalidInviteError, JoinFailedError, NoAccountError, OrbitAccountError } from '../errors.ts'
import { parseInvite } from '../invite/invite.ts'
import { requestAdmission } from '../join/joiner.ts'
import { watchInviter } from '../node/inviter-watch.ts'
import { createOrbitDB, type OrbitDB } from '../orbit/orbitdb.ts'
import type { DeviceId, Mode } from '../types.ts'
import { DB_PREFIX, DEVICE_DB, deleteAllDatabases, openKeyValue, type KeyValue } from './idb.ts'
import { loadSecrets, saveSecrets } from './keys.ts'
import { startBrowserNode, type BrowserNode } from './node.ts'
import { idbLogStores } from './log-stores.ts'
import { retiredLogSweeper } from '../account/retired-logs.ts'
import type { EpochRecord } from '../../acl/types.ts'
import { stateKey, type StateStore } from '../store/state-store.ts'
import { answerPeerDevice } from '../network/peer-device-answer.ts'
import { idbStateStore } from './state-idb.ts'

/** What this browser remembers of its account (the twin of config.json and peers.json). */
export interface BrowserConfig {
  version: 1
  account: string
  device: DeviceId
  name: string
  mode: Mode
  dataLog?: string | undefined
  /** Full multiaddrs (with /p2p/) of the account's devices this browser dials. */
  peers: string[]
}

export interface BrowserDevice {
  account: Account
  node: BrowserNode
  config: () => BrowserConfig
  /** Whether the registry says this device was revoked. */
  revoked: () => boolean
  close: () => Promise<void>
}

export interface BrowserJoinOptions {
  invite: string
  name: string
  signal?: AbortSignal
  onCode?: (code: string) => void
  onProgress?: (message: string) => void
}

const CONFIG = 'config'
const REDIAL_MS = 10_000
const DIAL_MS = 8000
// eslint-disable-next-line no-control-regex
const NAME_RE = /^[^\u0000-\u001f\u007f]{1,64}$/

const checkName = (name: string): void => {
  if (typeof name !== 'string' || !NAME_RE.test(name)) throw new InvalidArgumentError('device name must be 1 to 64 characters without control characters')
}

const peerIdOf = (addr: string): string | undefined => addr.match(/\/p2p\/([^/]+)$/)?.[1]

/** Asks the browser not to evict this origin's storage under pressure (the device's keys live there). */
const askPersistence = async (): Promise<boolean> => await navigator.storage?.persist?.().catch(() => false) ?? false

/** Whether this browser already holds a device. */
export const hasDevice = async (): Promise<boolean> => {
  // Looked up first, so that asking creates no database.
  if (!(await indexedDB.databases()).some((d) => d.name === DEVICE_DB)) return false
  const kv = await openKeyValue()
  try {
    return (await kv.get<BrowserConfig>(CONFIG)) !== undefined
  } finally {
    kv.close()
  }
}

interface Services { node: BrowserNode, orbitdb: OrbitDB }

/** Where this device keeps each account's checkpoints and registry state, sealed under its own key (src/browser/state-idb.ts). */
const storeOf = (secrets: DeviceSecrets) => (account: string): StateStore => idbStateStore(stateKey(secrets.box.secretKey, account))

const startServices = async (secrets: DeviceSecrets): Promise<Services> => {
  useAccountAccessControllers()
  const node = await startBrowserNode()
  try {
    const { identities, identity } = await createDeviceIdentities({ ipfs: node.helia, signing: secrets.signing })
    const orbitdb = await createOrbitDB({ ipfs: node.helia, identities, identity, directory: `${DB_PREFIX}/orbitdb` })
    return { node, orbitdb }
  } catch (err) {
    await node.stop()
    throw err
  }
}

const stopServices = async (s: Services): Promise<void> => {
  await s.orbitdb.stop().catch(() => {})
  await s.node.stop().catch(() => {})
}

/** Dials the remembered peers this node is not connected to (best effort). */
const dialPeers = async (node: BrowserNode, peers: string[]): Promise<void> => {
  const connected = new Set(node.libp2p.getPeers().map((p) => p.toString()))
  await Promise.all(peers.filter((p) => !connected.has(peerIdOf(p) ?? '')).map(async (p) => {
    await node.libp2p.dial(multiaddr(p), { signal: AbortSignal.timeout(DIAL_MS) }).catch(() => {})
  }))
}

/**
 * The data log this device moved to (the account's `onEpoch`: told once the move is
 * done, not when the registry names a newer epoch, so the next open starts where this
 * device's uncarried writes are). Moves told before the config store is attached are
 * saved once it is.
 */
interface EpochMemory {
  onEpoch: (epoch: EpochRecord) => void
  attach: (save: (dataLog: string) => void) => void
}

const epochMemory = (): EpochMemory => {
  let moved: string | undefined
  let save: ((dataLog: string) => void) | undefined
  return {
    onEpoch: (epoch) => {
      moved = epoch.dataLog
      save?.(epoch.dataLog)
    },
    attach: (s) => {
      save = s
      if (moved !== undefined) s(moved)
    }
  }
}

const wrap = (services: Services, account: Account, kv: KeyValue, initial: BrowserConfig, memory: EpochMemory): BrowserDevice => {
  let config = initial
  /** The data log the stored config names (a sweep counts from it). */
  let stored = initial.dataLog
  for (const p of config.peers) {
    const id = peerIdOf(p)
    if (id !== undefined) services.node.allowPeer(id)
  }
  // Logs of epochs long left: their IndexedDB stores and blocks go (src/account/retired-logs.ts).
  const retired = retiredLogSweeper({ orbitdb: services.orbitdb, account: account.address, stores: idbLogStores(services.orbitdb.directory), state: () => account.state(), configured: async () => stored })
  let saving: Promise<void> = Promise.resolve()
  memory.attach((dataLog) => {
    if (dataLog === config.dataLog) return
    config = { ...config, dataLog }
    const next = config
    saving = saving.then(async () => {
      await kv.put(CONFIG, next)
      stored = next.dataLog
      retired.sweep()
    }).catch(() => {})
  })
  retired.sweep()
  void dialPeers(services.node, config.peers)
  const redial = setInterval(() => { void dialPeers(services.node, config.peers) }, REDIAL_MS)
  return {
    account,
    node: services.node,
    config: () => config,
    revoked: () => account.devices().some((d) => d.device === account.device && d.status === 'revoked'),
    close: async () => {
      clearInterval(redial)
      await retired.stop()
      await account.close().catch(() => {})
      await saving
      await stopServices(services)
      kv.close()
    }
  }
}

/** Joins the account of `invite` with this browser as a new device, and syncs it. */
export const joinInBrowser = async (options: BrowserJoinOptions): Promise<BrowserDevice> => {
  // Pasted invites may carry line breaks or spaces.
  const invite = parseInvite(options.invite.replace(/\s+/g, ''), { now: Date.now() })
  checkName(options.name)
  if (invite.mode === 'private') {
    throw new InvalidInviteError('this invite is for a private account: a browser cannot join one (its private network is a handshake on the raw connection, which WebRTC does not give and the browser adapters do not make). Join from a Node device')
  }
  if (await hasDevice()) throw new AccountExistsError('this browser already holds a device of an account')
  // Whatever a join that did not finish left here goes first.
  await deleteAllDatabases()
  void askPersistence()
  const keys = generateDeviceKeys()
  const secrets: DeviceSecrets = { version: 1, device: deviceIdFromSigningKey(keys.signing.publicKey), name: options.name, signing: keys.signing, box: keys.box }
  const inviterGone = new AbortController()
  const signal = AbortSignal.any([options.signal ?? new AbortController().signal, inviterGone.signal, AbortSignal.timeout(Math.max(60_000, invite.expires * 1000 - Date.now() + 60_000))])
  let services: Services | undefined
  let kv: KeyValue | undefined
  let stopWatching = (): void => {}
  const memory = epochMemory()
  try {
    services = await startServices(secrets)
    const { node, orbitdb } = services
    // Which device this page is, for the account's other devices (`status` names it): answered once it is in.
    const answerFor = await answerPeerDevice(node.libp2p, secrets)
    node.allowPeer(invite.peerId)
    options.onProgress?.('asking the inviting device to admit this one')
    const device = { device: secrets.device, name: secrets.name, signingKey: base64urlEncode(secrets.signing.publicKey), boxKey: base64urlEncode(secrets.box.publicKey) }
    const admission = await requestAdmission({ libp2p: node.libp2p, invite, device, signal, ...(options.onCode !== undefined ? { onCode: options.onCode } : {}), ...(options.onProgress !== undefined ? { onProgress: options.onProgress } : {}) })
    stopWatching = watchInviter(node.libp2p, invite.peerId, invite.addrs, { onProgress: options.onProgress, onGone: (reason) => { inviterGone.abort(reason) } })
    const account = await joinAccountCore({ orbitdb, secrets, store: storeOf(secrets), address: invite.account, registryHeads: admission.registryHeads, dataHeads: admission.dataHeads, signal, onEpoch: memory.onEpoch, ...(options.onProgress !== undefined ? { onProgress: options.onProgress } : {}) })
    stopWatching()
    answerFor(account)
    kv = await openKeyValue()
    const config: BrowserConfig = { version: 1, account: invite.account, device: secrets.device, name: secrets.name, mode: invite.mode, dataLog: account.state().epoch?.dataLog, peers: invite.addrs.map((a) => `${a}/p2p/${invite.peerId}`) }
    // The keys first: a config without keys would be a device that cannot open.
    await saveSecrets(kv, secrets)
    await kv.put(CONFIG, config)
    return wrap(services, account, kv, config, memory)
  } catch (err) {
    stopWatching()
    kv?.close()
    if (services !== undefined) await stopServices(services)
    await deleteAllDatabases()
    if (err instanceof OrbitAccountError) throw err
    throw new JoinFailedError(`the join did not finish: ${(err as Error).message}`, { cause: err })
  }
}

/** Opens the device this browser holds (its data shows at once, from IndexedDB; the peers sync it when they are reachable). */
export const openInBrowser = async (): Promise<BrowserDevice> => {
  const kv = await openKeyValue()
  try {
    const config = await kv.get<BrowserConfig>(CONFIG)
    const secrets = await loadSecrets(kv)
    if (config === undefined || secrets === undefined) throw new NoAccountError('this browser holds no device yet: join an account')
    void askPersistence()
    const services = await startServices(secrets)
    const memory = epochMemory()
    try {
      const answerFor = await answerPeerDevice(services.node.libp2p, secrets)
      const account = await openAccountCore({
        orbitdb: services.orbitdb,
        secrets,
        store: storeOf(secrets),
        address: config.account,
        onEpoch: memory.onEpoch,
        ...(config.dataLog !== undefined ? { previous: config.dataLog } : {})
      })
      answerFor(account)
      return wrap(services, account, kv, config, memory)
    } catch (err) {
      await stopServices(services)
      throw err
    }
  } catch (err) {
    kv.close()
    throw err
  }
}
