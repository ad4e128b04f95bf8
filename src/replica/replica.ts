/**
 * A blind replica (browser-ready core): it replicates and serves an account's registry
 * and the current epoch's data log for devices that are never online together. It holds
 * no group key and reads nothing; it still checks every entry like a device does
 * (signatures, admissions, epoch membership), so it stores and serves only valid data.
 * It follows the registry to each new epoch and closes the retired one.
 */
import type { AccountState, EpochRecord } from '../../acl/types.ts'
import { openRegistry } from '../account/open.ts'
import { swarmEpochOf } from '../account/swarm.ts'
import { ManagedDatabase } from '../orbit/database.ts'
import type { OrbitDB } from '../orbit/orbitdb.ts'
import { unbindAccessContext } from '../../acl/access.ts'

export interface Replica {
  address: string
  /** The epoch whose data log it serves (null until the registry has arrived). */
  epoch: () => number | null
  /** The data log it serves (null until the registry has arrived). */
  dataLog: () => string | null
  /**
   * Private mode: the epoch whose group key names the devices' swarm key now (it moves
   * at a revocation); null until the registry has arrived.
   */
  swarmEpoch: () => number | null
  /** The registry's state (the replica's own record among its replicas, in private mode its swarm key box). */
  state: () => AccountState
  /** Entries held: registry and current data log. */
  counts: () => Promise<{ registry: number, data: number }>
  /** Calls `listener` when a peer has exchanged heads with the replica. */
  onSync: (listener: (peerId: string) => void) => () => void
  close: () => Promise<void>
}

export const openReplicaCore = async (options: { orbitdb: OrbitDB, address: string, signal?: AbortSignal, onMoved?: () => void }): Promise<Replica> => {
  const { orbitdb, address } = options
  const registry = await openRegistry(orbitdb, address, options.signal)
  let current: { record: EpochRecord, db: ManagedDatabase } | undefined
  let queue: Promise<void> = Promise.resolve()
  let closed = false
  const listeners = new Set<(peerId: string) => void>()
  const tell = (peerId: unknown): void => { for (const l of listeners) l(String(peerId)) }
  registry.events.on('join', tell)

  const follow = async (): Promise<void> => {
    const target = registry.state().epoch
    if (closed || target === null || current?.record.dataLog === target.dataLog) return
    const db = await orbitdb.open(target.dataLog, { Database: ManagedDatabase }) as ManagedDatabase
    db.events.on('join', tell)
    const retired = current
    current = { record: target, db }
    if (retired !== undefined) {
      retired.db.events.off('join', tell)
      // The retired epoch is no longer written: its log closes. Its stores stay while it is
      // the epoch before the current one (a device that has not moved may still fetch it), then
      // go, blocks and all (src/account/retired-logs.ts).
      await retired.db.close().catch(() => {})
    }
    options.onMoved?.()
  }
  const schedule = (): void => { queue = queue.then(follow).catch(() => {}) }
  const stop = registry.onState(schedule)
  schedule()
  await queue

  return {
    address: registry.address,
    epoch: () => current?.record.epoch ?? null,
    dataLog: () => current?.record.dataLog ?? null,
    swarmEpoch: () => swarmEpochOf(registry.state())?.epoch ?? null,
    state: () => registry.state(),
    counts: async () => ({ registry: (await registry.log.values()).length, data: current === undefined ? 0 : (await current.db.log.values()).length }),
    onSync: (listener) => {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    },
    close: async () => {
      closed = true
      stop()
      await queue
      await current?.db.close()
      await registry.close()
      unbindAccessContext(orbitdb.identity)
    }
  }
}
