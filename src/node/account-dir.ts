/**
 * The Node.js side of an account: its directory (keystore, config, lock), its network
 * node and its OrbitDB instance. `createAccount` and `openAccount` are what the CLI,
 * the daemon and Node programs call.
 */
import { mkdir, stat } from 'node:fs/promises'
import { createAccountCore, openAccountCore, type Account } from '../account/account.ts'
import { useAccountAccessControllers } from '../account/access-registration.ts'
import { generateDeviceKeys, deviceIdFromSigningKey } from '../../identity/keys.ts'
import { createDeviceIdentities } from '../../identity/identities.ts'
import { decodeKeystore, encodeKeystore, type DeviceSecrets } from '../../identity/keystore.ts'
import { readKeystoreFile, writeKeystoreFile } from '../../identity/keystore-fs.ts'
import { AccountExistsError, InvalidArgumentError, NoAccountError, NotImplementedError, StoreLockedError } from '../errors.ts'
import { PRIVATE_NOT_YET } from '../account/account.ts'
import { createOrbitDB } from '../orbit/orbitdb.ts'
import { startNode, type StartedNode } from '../network/node.ts'
import type { Mode } from '../types.ts'
import { MODES } from '../types.ts'
import { acquireLock, isLevelLocked, type LockInfo, type StoreLock } from './lock.ts'
import { accountPaths, type AccountPaths } from './paths.ts'
import { readConfig, writeConfig } from './config.ts'
export { readConfig, type AccountConfig } from './config.ts'

export interface NodeAccount extends Account {
  paths: AccountPaths
  node: StartedNode
  peerId: () => string
  addrs: () => string[]
  peers: () => string[]
}

export interface DirOptions {
  dir: string
  passphrase?: string
  /** Multiaddrs to listen on (none: dial-only, as for a one-shot command). */
  listen?: string[]
  role?: LockInfo['role']
}

const NAME_RE = /^[^\u0000-\u001f\u007f]{1,64}$/

const exists = async (path: string): Promise<boolean> => {
  try {
    await stat(path)
    return true
  } catch {
    return false
  }
}

const start = async (paths: AccountPaths, secrets: DeviceSecrets, listen: string[]): Promise<{ node: StartedNode, orbitdb: Awaited<ReturnType<typeof createOrbitDB>> }> => {
  useAccountAccessControllers()
  let node: StartedNode
  try {
    node = await startNode({ directory: paths.node, listen })
  } catch (err) {
    if (isLevelLocked(err)) throw new StoreLockedError(`the account store in ${paths.dir} is open in another process`, { cause: err })
    throw err
  }
  try {
    const { identities, identity } = await createDeviceIdentities({ ipfs: node.helia, signing: secrets.signing })
    const orbitdb = await createOrbitDB({ ipfs: node.helia, identities, identity, directory: paths.orbitdb })
    return { node, orbitdb }
  } catch (err) {
    await node.stop()
    if (isLevelLocked(err)) throw new StoreLockedError(`the account store in ${paths.dir} is open in another process`, { cause: err })
    throw err
  }
}

const wrap = (account: Account, paths: AccountPaths, node: StartedNode, orbitdb: Awaited<ReturnType<typeof createOrbitDB>>, lock: StoreLock): NodeAccount => ({
  ...account,
  paths,
  node,
  peerId: () => node.libp2p.peerId.toString(),
  addrs: () => node.libp2p.getMultiaddrs().map((a) => a.toString()),
  peers: () => node.libp2p.getPeers().map((p) => p.toString()),
  close: async () => {
    try {
      await account.close()
      await orbitdb.stop()
      await node.stop()
    } finally {
      await lock.release()
    }
  }
})

/** Creates an account in `dir` with this machine as its first device. */
export const createAccount = async (options: DirOptions & { name: string, mode?: Mode }): Promise<NodeAccount> => {
  const paths = accountPaths(options.dir)
  const mode = options.mode ?? 'encrypted'
  if (!(MODES as readonly string[]).includes(mode)) throw new InvalidArgumentError(`mode must be one of ${MODES.join(', ')}`)
  if (typeof options.name !== 'string' || !NAME_RE.test(options.name)) {
    throw new InvalidArgumentError('device name must be 1 to 64 characters without control characters')
  }
  if (mode === 'private') throw new NotImplementedError(PRIVATE_NOT_YET)
  if (await exists(paths.config)) throw new AccountExistsError(`an account already exists in ${paths.dir}`)
  await mkdir(paths.dir, { recursive: true, mode: 0o700 })
  const lock = await acquireLock(paths.lock, options.role ?? 'command')
  try {
    if (await exists(paths.config)) throw new AccountExistsError(`an account already exists in ${paths.dir}`)
    const keys = generateDeviceKeys()
    const secrets: DeviceSecrets = { version: 1, device: deviceIdFromSigningKey(keys.signing.publicKey), name: options.name, signing: keys.signing, box: keys.box }
    await writeKeystoreFile(paths.keystore, await encodeKeystore(secrets, options.passphrase !== undefined ? { passphrase: options.passphrase } : {}))
    const { node, orbitdb } = await start(paths, secrets, options.listen ?? [])
    try {
      const account = await createAccountCore({ orbitdb, secrets, mode })
      const info = account.info()
      await writeConfig(paths, { version: 1, account: info.account, device: info.device, name: info.name, mode })
      return wrap(account, paths, node, orbitdb, lock)
    } catch (err) {
      await orbitdb.stop().catch(() => {})
      await node.stop().catch(() => {})
      throw err
    }
  } catch (err) {
    await lock.release()
    if (isLevelLocked(err) && !(err instanceof StoreLockedError)) throw new StoreLockedError(`the account store in ${paths.dir} is open in another process`, { cause: err })
    throw err
  }
}

/** Opens the account in `dir` (its keystore, its node, its logs). */
export const openAccount = async (options: DirOptions): Promise<NodeAccount> => {
  const paths = accountPaths(options.dir)
  const config = await readConfig(paths)
  const lock = await acquireLock(paths.lock, options.role ?? 'command')
  try {
    const secrets = await decodeKeystore(await readKeystoreFile(paths.keystore), options.passphrase)
    const { node, orbitdb } = await start(paths, secrets, options.listen ?? [])
    try {
      const account = await openAccountCore({ orbitdb, secrets, address: config.account })
      return wrap(account, paths, node, orbitdb, lock)
    } catch (err) {
      await orbitdb.stop().catch(() => {})
      await node.stop().catch(() => {})
      throw err
    }
  } catch (err) {
    await lock.release()
    if (isLevelLocked(err) && !(err instanceof StoreLockedError)) throw new StoreLockedError(`the account store in ${paths.dir} is open in another process`, { cause: err })
    throw err
  }
}
