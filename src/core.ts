/**
 * The browser-ready surface (`orbit-account/core`): the account core, the device keys
 * and keystore, invites, the registry's reducer and the errors, without the Node
 * adapters (account directories, the CLI, the daemon, the TCP/WebSockets node). It
 * imports no Node built-in (test/package/package.test.ts bundles it for a browser to
 * check), so an app gives it an OrbitDB on a libp2p/Helia node of its own:
 * `createDeviceIdentities` + `createOrbitDB`, `useAccountAccessControllers()` once,
 * then `createAccountCore` / `openAccountCore` / `joinAccountCore`.
 */
export { createAccountCore, openAccountCore } from './account/open.ts'
export { joinAccountCore, type JoinCoreOptions } from './account/join.ts'
export { recoverAccountCore, type RecoverCoreOptions } from './account/recovery.ts'
export { generateRecoveryWords, normalizeWords, recoveryKeysFromWords, type RecoveryKeys } from './account/recovery-words.ts'
export { useAccountAccessControllers } from './account/access-registration.ts'
export { openReplicaCore, type Replica } from './replica/replica.ts'
export type { Account, AccountInfo, DeviceView, CoreOptions, BuildOptions } from './account/account.ts'
export { swarmKeyFrom, type Swarm } from './account/swarm.ts'
export { createOrbitDB, type OrbitDB, type HeliaNode } from './orbit/orbitdb.ts'
export { createDeviceIdentities, type DeviceIdentities } from '../identity/identities.ts'
export { generateDeviceKeys, deviceIdFromSigningKey, isDeviceId, type DeviceKeys, type KeyPair } from '../identity/keys.ts'
export { encodeKeystore, decodeKeystore, type DeviceSecrets, type EncodeKeystoreOptions } from '../identity/keystore.ts'
export { parseInvite, encodeInvite, type Invite, type ParseInviteOptions } from './invite/invite.ts'
export type { Change } from './store/kv-index.ts'
export type { BatchOp } from './store/batch-write.ts'
export { checkKey, parseJsonValue, MAX_KEY_BYTES, MAX_VALUE_BYTES, type JsonValue } from './store/limits.ts'
export { DEFAULT_QUOTAS, type Quotas } from './store/quota.ts'
export * from './errors.ts'
export type { DeviceId, AccountAddress, Epoch, Role, Mode } from './types.ts'
export { reduce } from '../acl/reducer.ts'
export type { AccountState, DeviceRecord, RecoveryDescriptor, RegistryOp } from '../acl/types.ts'
