/**
 * The base of our OrbitDB databases: a typed port of @orbitdb/core's `Database` with
 * two fixes. An entry the log refuses (its writer not admitted yet, a bad signature)
 * is not just printed and forgotten: it is reported and kept (bounded) so it can be
 * retried when the registry learns of an admission. And sync errors go to a listener
 * instead of an unhandled 'error' event, which would crash the process.
 */
import { EventEmitter } from 'events'
import PQueue from 'p-queue'
// @ts-expect-error: @orbitdb/core ships no types; its Sync is typed where it is used.
import SyncModule from '@orbitdb/core/src/sync.js'
// @ts-expect-error: as above.
import pathJoinModule from '@orbitdb/core/src/utils/path-join.js'
import { ComposedStorage, IPFSBlockStorage, LevelStorage, Log, LRUStorage, withDecodeCache } from './orbitdb.ts'
import type { BaseDatabase, DatabaseArgs, LogEntry, OrbitEvents, OrbitLog } from './orbitdb.ts'

type SyncFactory = (args: { ipfs: unknown, log: OrbitLog, events: OrbitEvents, onSynced: (entry: LogEntry) => Promise<void>, start?: boolean }) => Promise<BaseDatabase['sync']>
const Sync = SyncModule as SyncFactory
const pathJoin = pathJoinModule as (...parts: string[]) => string

/** How many refused entries are kept for a retry. */
const MAX_PENDING = 1000
/**
 * How often the heads are announced again to the peers of the log. A pubsub message
 * can be lost (a peer not yet in the gossip mesh); the next announcement repairs it,
 * so devices converge even when nobody writes again.
 */
const REANNOUNCE_MS = 5000
/** How long the sync waits for an entry's check before going on with the next one. */
const PRECHECK_WAIT_MS = 1000
const DEFAULT_REFERENCES = 16
const CACHE_SIZE = 1000

export interface ManagedDatabase extends BaseDatabase {
  /** Entries refused by the log, kept for a retry (oldest dropped first). */
  pendingCount: () => number
  /** Tries the refused entries again (after an admission became known). */
  retryPending: () => Promise<void>
}

export const ManagedDatabase = async (args: DatabaseArgs): Promise<ManagedDatabase> => {
  const { ipfs, identity, address, name, access, onUpdate } = args
  const directory = pathJoin(args.directory ?? './orbitdb', `./${address}/`)
  const meta = args.meta ?? {}
  const referencesCount = Number(args.referencesCount) > -1 ? Number(args.referencesCount) : DEFAULT_REFERENCES
  // Not pinned (OrbitDB pins every entry): nothing here ever runs Helia's garbage
  // collector, so a pin only costs a lookup and a datastore write per entry (~8% of the
  // CPU of a 3-device write load, measured).
  const entryStorage = args.entryStorage ?? withDecodeCache(await ComposedStorage(await LRUStorage({ size: CACHE_SIZE }), await IPFSBlockStorage({ ipfs, pin: false })))
  const headsStorage = args.headsStorage ?? await ComposedStorage(await LRUStorage({ size: CACHE_SIZE }), await LevelStorage({ path: pathJoin(directory, '/log/_heads/') }))
  const indexStorage = args.indexStorage ?? await ComposedStorage(await LRUStorage({ size: CACHE_SIZE }), await LevelStorage({ path: pathJoin(directory, '/log/_index/') }))
  const log = await Log(identity, { logId: address, access, entryStorage, headsStorage, indexStorage })
  const events = new EventEmitter() as unknown as OrbitEvents & { listenerCount: (e: string) => number }
  const queue = new PQueue({ concurrency: 1 })
  const pending = new Map<string, LogEntry>()

  // A sync failure (a peer gone mid-exchange, a timeout) is reported, never thrown.
  events.on('error', () => {})

  const addOperation = async (op: unknown): Promise<string> => {
    return await queue.add(async () => {
      const entry = await log.append(op, { referencesCount })
      await sync.add(entry)
      if (onUpdate !== undefined) await onUpdate(log, entry)
      events.emit('update', entry)
      return entry.hash
    }) as string
  }

  const refuse = (entry: LogEntry, err: unknown): void => {
    pending.delete(entry.hash)
    pending.set(entry.hash, entry)
    if (pending.size > MAX_PENDING) pending.delete(pending.keys().next().value as string)
    events.emit('rejected', entry, err)
  }

  /** Checks an entry from the network outside the write queue, then joins it in the queue. */
  const applyOperation = async (entry: LogEntry): Promise<void> => {
    if (entry === undefined || entry === null) return
    const work = (async (): Promise<void> => {
      let allowed: boolean
      try {
        allowed = await access.canAppend(entry)
      } catch {
        allowed = false
      }
      if (!allowed) {
        refuse(entry, new Error(`the writer of ${String(entry.hash)} may not append to this log`))
        return
      }
      await join(entry)
    })()
    // An honest entry is checked at once; a forged one (an identity nobody holds) can
    // take seconds to give up on: the sync does not wait for it.
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([work, new Promise((resolve) => { timer = setTimeout(resolve, PRECHECK_WAIT_MS) })])
    clearTimeout(timer)
  }

  const join = async (entry: LogEntry): Promise<void> => {
    await queue.add(async () => {
      try {
        const updated = await log.joinEntry(entry)
        pending.delete(entry.hash)
        if (updated) {
          if (onUpdate !== undefined) await onUpdate(log, entry)
          events.emit('update', entry)
        }
      } catch (err) {
        refuse(entry, err)
      }
    })
  }

  const sync = await Sync({ ipfs, log, events, onSynced: applyOperation, start: args.syncAutomatically ?? true })

  let lastAnnounced = ''
  let announcing = false
  const reannounce = setInterval(() => {
    if (announcing || (sync as unknown as { peers: Set<string> }).peers.size === 0) return
    announcing = true
    void queue.add(async () => {
      const heads = await log.heads()
      const key = heads.map((h) => h.hash).join(',')
      // Announce again while peers may lack them: always when they changed, else every other round.
      if (key === lastAnnounced && Math.random() < 0.5) return
      lastAnnounced = key
      for (const head of heads) await sync.add(head)
    }).catch(() => {}).finally(() => { announcing = false })
  }, REANNOUNCE_MS)
  reannounce.unref?.()

  const close = async (): Promise<void> => {
    clearInterval(reannounce)
    await sync.stop()
    await queue.onIdle()
    await log.close()
    if (access.close !== undefined) await access.close()
    events.emit('close')
  }
  const drop = async (): Promise<void> => {
    queue.clear()
    await log.clear()
    events.emit('drop')
  }

  return {
    address,
    name,
    identity,
    meta,
    close,
    drop,
    addOperation,
    log,
    sync,
    peers: (sync as unknown as { peers: Set<string> }).peers,
    events,
    access,
    pendingCount: () => pending.size,
    retryPending: async () => {
      const entries = [...pending.values()]
      pending.clear()
      for (const entry of entries) await applyOperation(entry)
    }
  }
}
