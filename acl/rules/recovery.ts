/**
 * Which recovery key is current. A recovery op (set or replace) counts, like a
 * revocation, when it is valid on the state of its own causal past (rules/revocation.ts),
 * so nothing outside that past undoes it: a back-dated revocation cannot void the words.
 * This file settles the counted ops into one chain of keys, in causal order:
 *
 * - a set by an admin device (there was no key in its past) makes its key current when
 *   there is none; a concurrent second set loses;
 * - a replacement signed by the current key retires that key: its later ops (anything
 *   outside the replacement's causal past) are void;
 * - two replacements signed by one key, neither in the other's past, prove that key's
 *   words were stolen: no successor of it counts (the thief cannot take the key over, and
 *   neither can anyone else), the account has no recovery key, and an admin may set new
 *   words. Denial of service, never a takeover.
 *
 * Pure and deterministic: it reads only the counted ops and their causal order.
 */
import type { DeviceId } from '../../src/types.ts'
import type { RecoveryDescriptor, RecoveryRecord } from '../types.ts'

/** A recovery op valid on its own causal past. */
export interface CountedRecovery {
  readonly hash: string
  readonly author: DeviceId
  readonly key: RecoveryDescriptor
  /** Position in the causal order. */
  readonly index: number
  /** True when it is signed by a recovery key (a replacement), false when by an admin device (a set). */
  readonly byKey: boolean
  /** True for the key the genesis set: nothing voids it. */
  readonly atGenesis: boolean
}

export interface RecoveryChain {
  current: RecoveryRecord | null
  /** Every key that is no longer current, oldest first. */
  retired: RecoveryRecord[]
  /** Replaced keys: id -> the ops that replaced it (its ops count only in the causal past of all of them). */
  replacedIn: ReadonlyMap<string, readonly string[]>
  /** Keys set after a stolen (forked) key, and the fork's own: none of their ops count. */
  never: ReadonlySet<string>
  /** The ops whose key became current at some point. */
  effective: ReadonlySet<string>
  /** Why a counted op had no effect. */
  reasons: ReadonlyMap<string, string>
}

const record = (op: CountedRecovery): RecoveryRecord => ({ ...op.key, setIn: op.hash, setBy: op.author })

export const resolveRecoveryChain = (counted: readonly CountedRecovery[]): RecoveryChain => {
  const ops = [...counted].sort((a, b) => a.index - b.index)
  let current: RecoveryRecord | null = null
  /** The keys since the last set, in order (a fork voids those after the forked key). */
  let lineage: RecoveryRecord[] = []
  const retired: RecoveryRecord[] = []
  const replacedIn = new Map<string, string[]>()
  const never = new Set<string>()
  const effective = new Set<string>()
  const reasons = new Map<string, string>()
  for (const op of ops) {
    if (!op.byKey) {
      if (current !== null) {
        reasons.set(op.hash, `a recovery key ${current.device} was set concurrently, by ${current.setIn}`)
        continue
      }
      current = record(op)
      lineage = [current]
      effective.add(op.hash)
      continue
    }
    const signer = op.author
    if (never.has(signer)) {
      reasons.set(op.hash, `recovery key ${signer} came after stolen words: it counts for nothing`)
    } else if (current?.device === signer) {
      replacedIn.set(signer, [op.hash])
      retired.push(current)
      current = record(op)
      lineage.push(current)
      effective.add(op.hash)
    } else if (replacedIn.has(signer)) {
      // A second replacement by one key: its words are in two hands.
      const why = `recovery key ${signer} was replaced twice concurrently (its words were stolen): neither replacement counts, and the account has no recovery key until an admin sets new words`
      const at = lineage.findIndex(r => r.device === signer)
      if (at >= 0) {
        // Every key after the stolen one goes, with the op that set it.
        for (const r of lineage.slice(at + 1)) {
          never.add(r.device)
          effective.delete(r.setIn)
          reasons.set(r.setIn, why)
        }
        for (let i = retired.length - 1; i >= 0; i--) if (never.has((retired[i] as RecoveryRecord).device)) retired.splice(i, 1)
        if (current !== null && never.has(current.device)) current = null
        lineage = lineage.slice(0, at + 1)
      }
      ;(replacedIn.get(signer) as string[]).push(op.hash)
      never.add(op.key.device)
      reasons.set(op.hash, why)
    } else {
      reasons.set(op.hash, `recovery key ${signer} is not the current one`)
    }
  }
  return { current, retired, replacedIn, never, effective, reasons }
}
