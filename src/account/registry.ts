/**
 * The registry database: an OrbitDB log of signed membership ops whose meaning is the
 * pure reducer's `reduce(params, entries)`. The state is recomputed whenever the log
 * changes (the registry is small: one op per admission, revocation or rotation).
 */
import { ManagedDatabase } from '../orbit/database.ts'
import { Entry, type DatabaseArgs, type LogEntry, type OrbitIdentities, type OrbitIdentity } from '../orbit/orbitdb.ts'
import { entryWriter } from '../../acl/access.ts'
import { reduce, type VerdictCache } from '../../acl/reducer.ts'
import { preverifySeals } from '../../acl/genesis.ts'
import type { AccountParams, AccountState, RegistryEntry, RegistryOp } from '../../acl/types.ts'
import type { DeviceId } from '../types.ts'

export const REGISTRY_TYPE = 'orbit-account-registry'

export interface RegistryDatabase extends ManagedDatabase {
  type: typeof REGISTRY_TYPE
  state: () => AccountState
  append: (op: RegistryOp) => Promise<string>
  /**
   * Appends an op signed by another identity this process holds the key of (the
   * recovery key): made on the current heads, checked by the log like any entry, then
   * announced to the peers.
   */
  appendAs: (identity: OrbitIdentity, op: RegistryOp) => Promise<string>
  onState: (listener: (state: AccountState) => void) => () => void
}

export interface RegistryOptions {
  params: AccountParams
  identities: OrbitIdentities
}

export const RegistryDatabaseType = ({ params, identities }: RegistryOptions) => async (args: DatabaseArgs): Promise<RegistryDatabase> => {
  const authors = new Map<string, DeviceId | null>()
  const listeners = new Set<(state: AccountState) => void>()
  // A revocation's verdict depends only on its causal past, fixed by its hash.
  const verdicts: VerdictCache = new Map()
  let state = reduce(params, [])
  let db: ManagedDatabase | undefined

  const authorOf = async (entry: LogEntry): Promise<DeviceId | null> => {
    const known = authors.get(entry.identity)
    if (known !== undefined) return known
    const writer = await entryWriter(identities, entry)
    const device = writer?.device ?? null
    authors.set(entry.identity, device)
    return device
  }

  const recompute = async (): Promise<void> => {
    if (db === undefined) return
    const entries: RegistryEntry[] = []
    for (const entry of await db.log.values()) {
      const author = await authorOf(entry)
      if (author === null) continue
      entries.push({ hash: entry.hash, author, next: [...entry.next, ...entry.refs], clock: entry.clock, payload: entry.payload })
    }
    await preverifySeals(params, entries.map((e) => e.payload))
    state = reduce(params, entries, verdicts)
    for (const listener of listeners) listener(state)
  }

  db = await ManagedDatabase({ ...args, onUpdate: recompute })
  await recompute()

  return {
    ...db,
    type: REGISTRY_TYPE,
    state: () => state,
    append: async (op) => {
      const hash = await (db as ManagedDatabase).addOperation(op)
      return hash
    },
    appendAs: async (identity, op) => {
      const managed = db as ManagedDatabase
      const heads = await managed.log.heads()
      const time = 1 + Math.max(0, ...heads.map((h) => h.clock.time))
      const created = await Entry.create(identity, managed.address, op, undefined, { id: identity.publicKey, time }, heads.map((h) => h.hash), [])
      const { hash } = await Entry.encode(created)
      const entry: LogEntry = { ...created, hash }
      await managed.log.joinEntry(entry)
      await recompute()
      managed.events.emit('update', entry)
      await managed.sync.add(entry)
      return hash
    },
    onState: (listener) => {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    }
  }
}
