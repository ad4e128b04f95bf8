/**
 * The registry: a log of signed membership operations. These are the types shared by
 * the pure reducer (acl/reducer.ts), the op validators (acl/ops.ts) and the OrbitDB
 * plumbing. Binary values inside ops are base64url strings without padding.
 */
import type { DeviceId, Epoch, Mode, Role } from '../src/types.ts'
import type { Quotas } from '../src/store/quota.ts'

/** A device's public description, as carried in genesis and add ops. */
export interface DeviceDescriptor {
  device: DeviceId
  name: string
  /** Ed25519 public key, base64url (32 bytes). */
  signingKey: string
  /** X25519 public key, base64url (32 bytes). */
  boxKey: string
}

/** Lockboxes of one epoch's group key, one per device: DeviceId -> sealed box (base64url). */
export type Lockboxes = Record<string, string>

export interface GenesisOp {
  type: 'genesis'
  v: 1
  mode: Mode
  founder: DeviceDescriptor
  /** Address of the epoch-0 data log. */
  dataLog: string
  /** Lockbox of the epoch-0 key for the founder (empty in public mode), and for the recovery key. */
  lockboxes: Lockboxes
  /**
   * The recovery key set at creation. In the genesis, nothing can void it: not even a
   * stolen founder's back-dated revocation of itself.
   */
  recovery?: RecoveryDescriptor
  /**
   * Signature of the genesis (acl/genesis.ts `genesisBytes`) by the one-time key that the
   * account's parameters name (`genesisKey`), whose secret was dropped once it signed: so
   * the founder's keys, stolen, cannot make another genesis.
   */
  seal?: string
}

export interface AddOp {
  type: 'add'
  v: 1
  device: DeviceDescriptor
  role: Role
  /** The epoch whose key is sealed in `lockbox` (the adder's current epoch). */
  epoch: number
  /** The epoch key sealed to the new device's box key (empty string in public mode). */
  lockbox: string
  /**
   * The recorded invitation this admission uses (its id). With it, any active device may
   * write the add (acl/rules/pass.ts); without it, only an admin.
   */
  invitation?: string
  /** With `invitation`: the invitation key's signature of this admission (acl/invitation.ts). */
  proof?: string
}

/**
 * An invitation, recorded by an admin when it makes an invite: single-use across
 * restarts and devices, and usable by any active device to admit its holder.
 */
export interface InvitationOp {
  type: 'invitation'
  v: 1
  /** The invite's id (src/invite/invite.ts `inviteId`): 32 hex chars. */
  id: string
  /** Ed25519 public key derived from the invite secret (acl/invitation.ts), base64url. */
  key: string
  role: Role
  /** Expiry, unix seconds: checked by the device that writes the admission, on its clock. */
  expires: number
  /** Only the inviter, after its person confirmed, may admit with it. */
  confirm: boolean
}

/**
 * Registers a replica (an admin): its libp2p peer id, addresses and X25519 key (from a
 * handshake with it). A replica holds no group key; devices dial it. Registering a peer
 * again updates its addresses and key.
 */
export interface ReplicaOp {
  type: 'replica'
  v: 1
  peer: string
  addrs: string[]
  /** X25519 public key, base64url (32 bytes). */
  boxKey: string
}

/**
 * Private mode: the swarm key of `epoch` (the epoch whose group key names the swarm)
 * sealed to a registered replica's X25519 key, so it follows a revocation by itself.
 * Never a group key. Written by any active device that knows that swarm key.
 */
export interface SwarmBoxOp {
  type: 'swarm-box'
  v: 1
  peer: string
  epoch: number
  box: string
}

/** Ends a replica's registration (an admin); final, as a revocation is: the peer id is never registered again. */
export interface ReplicaRemoveOp {
  type: 'replica-remove'
  v: 1
  peer: string
}

/** Withdraws an invitation (its inviter, or an admin): no admission after it may use it. */
export interface WithdrawOp {
  type: 'withdraw'
  v: 1
  invitation: string
}

export interface RevokeOp {
  type: 'revoke'
  v: 1
  device: DeviceId
}

export interface RotateOp {
  type: 'rotate'
  v: 1
  epoch: number
  dataLog: string
  lockboxes: Lockboxes
  /** Heads of the previous epoch's data log that the rotating admin had seen. */
  cut: string[]
}

export interface RenameOp {
  type: 'rename'
  v: 1
  device: DeviceId
  name: string
}

/**
 * The recovery key's public half. Its id is derived from its signing key, as a device's
 * is, but it is not a device: it is held as 24 words by a person, never on a device.
 */
export interface RecoveryDescriptor {
  device: DeviceId
  /** Ed25519 public key, base64url (32 bytes). */
  signingKey: string
  /** X25519 public key, base64url (32 bytes). */
  boxKey: string
}

/**
 * Sets the account's recovery key: by an admin device when the account has none, else
 * only by the current recovery key itself (a replacement), with a lockbox of the key of
 * `epoch` sealed to the new recovery key (empty string in public mode).
 */
export interface RecoveryOp {
  type: 'recovery'
  v: 1
  key: RecoveryDescriptor
  epoch: number
  lockbox: string
}

export type RegistryOp = GenesisOp | AddOp | RevokeOp | RotateOp | RenameOp | RecoveryOp | InvitationOp | WithdrawOp | ReplicaOp | ReplicaRemoveOp | SwarmBoxOp
export type RegistryOpType = RegistryOp['type']

/**
 * One registry log entry as the reducer sees it. `author` has already been checked by
 * the log layer (valid signature by that device's key); `payload` is untrusted.
 */
export interface RegistryEntry {
  hash: string
  author: DeviceId
  /** Direct causal parents (OrbitDB `next` plus `refs`: every one is an ancestor). */
  next: readonly string[]
  clock: { id: string, time: number }
  payload: unknown
}

/** The fixed parameters of an account, committed to by its address. */
export interface AccountParams {
  founder: DeviceId
  /** Ed25519 public key of the founder, base64url. */
  founderSigningKey: string
  /**
   * A one-time Ed25519 public key (base64url) that sealed the one genesis; its secret was
   * dropped at creation. Absent: any genesis by the founder (older accounts, tests).
   */
  genesisKey?: string
  mode: Mode
  /** Per-device quotas every peer applies to the data logs (src/store/quota.ts). Absent: the defaults (older accounts). */
  quotas?: Quotas
}

export type DeviceStatus = 'active' | 'revoked'

export interface DeviceRecord extends DeviceDescriptor {
  role: Role
  status: DeviceStatus
  /** Who admitted it; null for the founder. */
  addedBy: DeviceId | null
  /** Hash of the genesis or add entry that admitted it. */
  admittedIn: string
  /** 0 for the founder, then 1, 2, ... in the deterministic order admissions were applied. */
  seniority: number
  /** Hash of the entry that revoked it, when revoked. */
  revokedIn?: string
  /** Author of the revocation `revokedIn`, when revoked. */
  revokedBy?: DeviceId
}

export interface EpochRecord {
  epoch: Epoch
  dataLog: string
  lockboxes: Lockboxes
  /** Hash of the genesis or rotate entry that started it. */
  startedIn: string
  startedBy: DeviceId
  cut: string[]
}

export interface RecoveryRecord extends RecoveryDescriptor {
  /** Hash of the recovery op that set it. */
  setIn: string
  /** Who set it: an admin device, or the recovery key it replaced. */
  setBy: DeviceId
}

export interface InvitationRecord {
  id: string
  key: string
  role: Role
  expires: number
  confirm: boolean
  /** The admin that recorded it. */
  by: DeviceId
  /** Hash of the invitation op. */
  recordedIn: string
  /** Hash of the one add that used it (the first in the causal order), once used. */
  usedIn?: string
  /** The device that add admitted. */
  admitted?: DeviceId
  /** Hash of the first withdrawal of it: an admission with this in its causal past does not count. */
  withdrawnIn?: string
}

export interface ReplicaRecord {
  peer: string
  addrs: string[]
  boxKey: string
  /** The admin that registered it (last). */
  by: DeviceId
  /** Hash of the replica op that registered it (last). */
  registeredIn: string
  /** Hash of the op that removed it, once removed. */
  removedIn?: string
  /**
   * The highest epoch started in the causal past of that op: in private mode the replica
   * holds that epoch's swarm key, so the rotation to the next epoch moves the swarm.
   */
  removedAtEpoch?: number
  /** Private mode: the swarm key of the highest epoch sealed to it (the first box for that epoch). */
  swarm?: { epoch: number, box: string }
}

export interface IgnoredOp {
  hash: string
  reason: string
}

export interface AccountState {
  params: AccountParams
  /** False until a valid genesis by the founder has been seen. */
  initialized: boolean
  devices: Record<string, DeviceRecord>
  /**
   * The current recovery key; null when the account has none. It may admit, revoke and
   * rotate; no device can revoke or replace it.
   */
  recovery: RecoveryRecord | null
  /** Recovery keys replaced by their successors (their later ops are void), oldest first. */
  retiredRecovery: RecoveryRecord[]
  /** The current epoch (highest valid one); null before genesis. */
  epoch: EpochRecord | null
  epochs: EpochRecord[]
  /** Extra lockboxes for devices added after an epoch started: epoch -> device -> box. */
  addedLockboxes: Record<string, Lockboxes>
  /**
   * Valid rotations that lost to a concurrent rotation to the same epoch number, by epoch
   * then hash, then rotations voided with their author (lockboxes of active devices
   * only). Devices that wrote to one of their data logs must carry those writes forward.
   */
  supersededEpochs: EpochRecord[]
  /**
   * True when the current epoch's key (in public mode: its membership marker) reached a
   * device that is no longer an active member, or an active device has no lockbox for it.
   * The account layer then starts a new rotation.
   */
  needsRotation: boolean
  /** Why `needsRotation` is true (the first reason found); null when it is false. */
  rotationReason: string | null
  /** Invitations recorded by admins, by id; an invitation admits at most one device. */
  invitations: Record<string, InvitationRecord>
  /** Replicas registered by admins, by libp2p peer id (removed ones too, with `removedIn`). */
  replicas: Record<string, ReplicaRecord>
  /** Ops that do not count, with the reason (malformed, unauthorized, voided, ...). */
  ignored: IgnoredOp[]
}
