/**
 * The swarm key of a private-mode account (browser-ready): the pre-shared key of the
 * libp2p private network its devices form. It is derived from a group key, so every
 * device that holds that epoch's key knows it and nobody else does, and it changes
 * only at a rotation that leaves a device out (a revocation) or that follows a replica's
 * removal (replicas hold the swarm key, never a group key): a compaction keeps the
 * swarm, so a replica or a device that was away is not cut off by housekeeping.
 */
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import type { AccountState, EpochRecord } from '../../acl/types.ts'
import { utf8Encode } from '../crypto/bytes.ts'

export const SWARM_KEY_INFO = 'orbit-account/swarm-key/v1'
export const SWARM_KEY_BYTES = 32

/** The swarm as a device knows it: the key, and the epoch whose group key it comes from. */
export interface Swarm {
  /** -1 when the key came from an invite and its epoch is not known yet. */
  epoch: number
  key: Uint8Array
}

export const swarmKeyFrom = (epochKey: Uint8Array, account: string): Uint8Array =>
  hkdf(sha256, epochKey, utf8Encode(account), utf8Encode(SWARM_KEY_INFO), SWARM_KEY_BYTES)

const holders = (state: AccountState, record: EpochRecord): string[] =>
  [...Object.keys(record.lockboxes), ...Object.keys(state.addedLockboxes[String(record.epoch)] ?? {})]

/** A replica was removed while `record` was the latest epoch it knew of: it holds the swarm key then in use. */
const removedReplicaHeld = (state: AccountState, record: EpochRecord): boolean =>
  Object.values(state.replicas).some((r) => r.removedAtEpoch === record.epoch)

/**
 * The epoch whose key names the swarm now: the latest one (up to the current epoch) that
 * left out a device holding a key of the epoch before it, or that follows the removal of
 * a replica (which was let in with the swarm key of the epoch before); epoch 0 when none
 * did; undefined before the registry has an epoch.
 */
export const swarmEpochOf = (state: AccountState): EpochRecord | undefined => {
  const upTo = state.epoch?.epoch ?? -1
  const chain = state.epochs.filter((e) => e.epoch <= upTo).sort((a, b) => a.epoch - b.epoch)
  let result = chain[0]
  for (let i = 1; i < chain.length; i++) {
    const prev = chain[i - 1] as EpochRecord
    const cur = chain[i] as EpochRecord
    if (holders(state, prev).some((d) => cur.lockboxes[d] === undefined) || removedReplicaHeld(state, prev)) result = cur
  }
  return result
}
