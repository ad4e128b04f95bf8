/**
 * The base of our OrbitDB databases: a typed port of @orbitdb/core's `Database` with
 * four fixes. An entry the log refuses (its writer not admitted yet) is not just
 * printed and forgotten: it is reported and kept (bounded in bytes) so it can be
 * retried when the registry learns of an admission. An entry from the network, and its
 * missing ancestry, are fetched and checked outside the write queue under short
 * timeouts and a budget, so a peer's entries never make this device's own writes wait.
 * Entries over the log's byte cap (src/orbit/caps.ts) are neither written nor stored,
 * and the log goes on without them (src/orbit/absent.ts): what names them still joins.
 * And sync errors go to a listener instead of an unhandled 'error' event, which would
 * crash the process.
 */
import { EventEmitter } from 'events'
import PQueue from 'p-queue'
// @ts-expect-error: @orbitdb/core ships no types; its Sync is typed where it is used.
import SyncModule from '@orbitdb/core/src/sync.js'
import { CID } from 'multiformats/cid'
import { base58btc } from 'multiformats/bases/base58'
import { ComposedStorage, encodedSize, Entry, IPFSBlockStorage, LevelStorage, Log, LRUStorage, OversizedEntryError, verifyEntry, withDecodeCache } from './orbitdb.ts'
import { ANCESTRY_LIMITS, fetchAncestry } from './prefetch.ts'
import { logDirectory, logStorePath } from './log-paths.ts'
import { entrySize, PendingEntries, type PendingLimits } from './pending.ts'
import { openAbsentEntries, type AbsentEntries, type AbsentStore } from './absent.ts'
import { joinVerified, type LogStores } from './join.ts'
import { ranked, type WriterRanks } from './ranks.ts'
import { MAX_ENTRY_BYTES } from './caps.ts'
import { EntryTooLargeError } from '../errors.ts'
import type { AccessController, BaseDatabase, DatabaseArgs, LogEntry, OrbitEvents, OrbitLog, StorageBackend } from './orbitdb.ts'

type SyncFactory = (args: { ipfs: unknown, log: OrbitLog, events: OrbitEvents, onSynced: (entry: LogEntry) => Promise<void>, start?: boolean }) => Promise<BaseDatabase['sync']>
const Sync = SyncModule as SyncFactory

/** Refused entries kept for a retry, per database: a few MiB whoever sends them (oldest dropped first). */
const PENDING_LIMITS: PendingLimits = { maxBytes: 4 * 1024 * 1024, maxCount: 1000 }
/** The largest entry kept for a retry, unless the access controller names its own limit. */
const MAX_PENDING_ENTRY_BYTES = 1024 * 1024
/**
 * How often the heads are announced again to the peers of the log. A pubsub message
 * can be lost (a peer not yet in the gossip mesh); the next announcement repairs it,
 * so devices converge even when nobody writes again.
 */
const REANNOUNCE_MS = 5000
/** How long the sync waits for an entry's check before going on with the next one. */
const PRECHECK_WAIT_MS = 1000
/** How long a close waits for the checks under way (those still fetching then give up). */
const CLOSE_GRACE_MS = ANCESTRY_LIMITS.blockTimeoutMs
/** How many holes each round of REANNOUNCE_MS looks for again. */
const HOLES_PER_ROUND = 4
const DEFAULT_REFERENCES = 16
const CACHE_SIZE = 1000

export interface ManagedDatabase extends BaseDatabase {
  /** Entries refused by the log, kept for a retry (oldest dropped first). */
  pendingCount: () => number
  /** Their approximate size in bytes (at most a few MiB). */
  pendingBytes: () => number
  /** Tries the refused entries again (after an admission became known). */
  retryPending: () => Promise<void>
}

/**
 * Work on an entry from the network that can start once the entry is checked, while the
 * rest of its ancestry is still on its way (the data log decodes the payload: a 100,000-key
 * snapshot's decryption and parsing then overlaps its fetch). `take` is told of each
 * checked entry of a walk; `drop` of them all once their join is over, joined or not.
 */
export interface EarlyWork {
  take: (entry: LogEntry) => void
  drop: (hashes: string[]) => void
}

/**
 * What a data log adds: the per-writer ranks that refuse entries which can never count
 * (src/orbit/ranks.ts), fed by its `onUpdate`; its early work on checked entries.
 */
export interface ManagedOptions { ranks?: WriterRanks, early?: EarlyWork }

export const ManagedDatabase = async (args: DatabaseArgs & ManagedOptions): Promise<ManagedDatabase> => {
  const { ipfs, identity, address, name, access, onUpdate, ranks, early } = args
  const cap = access.maxEntryBytes ?? MAX_ENTRY_BYTES
  const directory = logDirectory(args.directory ?? './orbitdb', address)
  const meta = args.meta ?? {}
  const referencesCount = Number(args.referencesCount) > -1 ? Number(args.referencesCount) : DEFAULT_REFERENCES
  // Not pinned (OrbitDB pins every entry): nothing here ever runs Helia's garbage
  // collector, so a pin only costs a lookup and a datastore write per entry (~8% of the
  // CPU of a 3-device write load, measured). A join finds its ancestry local (fetched beforehand, see `admit`): should a block still
  // be missing, the write queue waits seconds for it, not OrbitDB's 30.
  const rawIndex = (args.indexStorage as StorageBackend | undefined) ?? await ComposedStorage(await LRUStorage({ size: CACHE_SIZE }), await LevelStorage({ path: logStorePath(directory, '_index') }))
  // Hashes the log goes on without (kept on disk next to it): its storage and index answer for them at once.
  const absentStore = await LevelStorage({ path: logStorePath(directory, '_absent') }) as unknown as AbsentStore & { close: () => Promise<void>, clear: () => Promise<void> }
  const absent = await openAbsentEntries(absentStore, async (hash) => await rawIndex.get(hash) !== undefined)
  const isIndexed = async (hash: string): Promise<boolean> => await rawIndex.get(hash) !== undefined
  const entryStorage = withoutAbsent(absent, (args.entryStorage as StorageBackend | undefined) ?? withDecodeCache(await ComposedStorage(await LRUStorage({ size: CACHE_SIZE }), await IPFSBlockStorage({ ipfs, pin: false, timeout: ANCESTRY_LIMITS.blockTimeoutMs }))), undefined, isIndexed)
  const headsStorage = args.headsStorage ?? await ComposedStorage(await LRUStorage({ size: CACHE_SIZE }), await LevelStorage({ path: logStorePath(directory, '_heads') }))
  const indexStorage = withoutAbsent(absent, rawIndex, true)
  const log = await Log(identity, { logId: address, access: capped(access, cap), entryStorage, headsStorage, indexStorage })
  const stores = { entries: entryStorage, heads: headsStorage as StorageBackend, index: indexStorage as unknown as LogStores['index'] }
  const events = new EventEmitter() as unknown as OrbitEvents & { listenerCount: (e: string) => number }
  const queue = new PQueue({ concurrency: 1 })
  const pending = PendingEntries(PENDING_LIMITS)
  // Checks under way: a close lets them finish (what they fetched is joined), for a grace period.
  const checking = new Set<Promise<void>>()
  const stopChecks = new AbortController()
  let closing = false
  const maxPendingEntry = Math.min(cap, MAX_PENDING_ENTRY_BYTES)
  // Untrusted blocks (an entry's ancestry, its writer's identity) are fetched with this one.
  const fetchStorage = await IPFSBlockStorage({ ipfs, pin: false, timeout: ANCESTRY_LIMITS.blockTimeoutMs })
  // Per writer with a bounded allowance (a revoked device): its entries being checked,
  // and its checks that failed; both count against the allowance, so such a writer
  // cannot make this device fetch without end either.
  const spent = new Map<string, number>()
  const spend = (key: string, n: number): void => {
    const total = (spent.get(key) ?? 0) + n
    if (total > 0) spent.set(key, total)
    else spent.delete(key)
  }

  /** Refuses an entry for good (over the cap, or one that can never count): never fetched, kept or stored again (a block fetched meanwhile is deleted). */
  const refuseForGood = async (hash: string): Promise<boolean> => {
    const recorded = absent.refuse(hash)
    pending.delete(hash)
    try {
      await ipfs.blockstore.delete?.(CID.parse(hash, base58btc))
    } catch {}
    return recorded
  }

  // A sync failure (a peer gone mid-exchange, a timeout) is reported, never thrown; an
  // oversized head message was refused before it was decoded.
  events.on('error', (err: unknown) => {
    if (err instanceof OversizedEntryError) void refuseForGood(err.hash)
  })

  const addOperation = async (op: unknown, options?: { references?: number }): Promise<string> => {
    return await queue.add(async () => {
      const entry = await log.append(op, { referencesCount: options?.references ?? referencesCount })
      await sync.add(entry)
      if (onUpdate !== undefined) await onUpdate(log, entry)
      events.emit('update', entry)
      return entry.hash
    }) as string
  }

  /** Reports a refused entry, and keeps it for a retry if it may be accepted later and is not too large. */
  const refuse = async (entry: LogEntry, reason: string, retryable: boolean): Promise<void> => {
    pending.delete(entry.hash)
    const size = entrySize(entry)
    if (retryable && size <= maxPendingEntry && await mayRetry(entry)) pending.keep(entry, size)
    events.emit('rejected', entry, new Error(`entry ${String(entry.hash)} refused: ${reason}`))
  }
  const mayRetry = async (entry: LogEntry): Promise<boolean> => {
    try {
      return access.mayRetry === undefined || await access.mayRetry(entry)
    } catch {
      return false
    }
  }

  const NOT_ALLOWED = 'its writer may not append to this log'
  // Identities whose block is local (a log has few writers): checked once each.
  const localIdentities = new Set<string>()
  const fetchIdentity = async (hash: string): Promise<boolean> => {
    if (localIdentities.has(hash)) return true
    if (await fetchStorage.get(hash) === undefined) return false
    if (localIdentities.size >= CACHE_SIZE) localIdentities.clear()
    localIdentities.add(hash)
    return true
  }
  /** Why `entry` itself may not join the log (its ancestry aside), or undefined when it may. */
  const fault = async (entry: LogEntry): Promise<string | undefined> => {
    if (entry.id !== address) return 'it belongs to another log'
    try {
      // Its writer's identity, under the short timeout: OrbitDB's own lookup waits 30 s for one nobody holds.
      if (!(await fetchIdentity(entry.identity))) return 'its writer\'s identity is unknown'
      if (!(await verifyEntry(identity, entry))) return 'its signature is invalid'
      if (!(await access.canAppend(entry))) return NOT_ALLOWED
    } catch {
      return 'it is malformed or its writer\'s identity could not be fetched'
    }
    return undefined
  }

  /**
   * Checks an entry from the network, then fetches and checks its missing ancestry, all
   * outside the write queue; joins it in the queue only once everything is local.
   */
  const admit = async (entry: LogEntry): Promise<void> => {
    // A hole a peer sends after all is checked and joined as any entry (it stays a hole until it joins).
    const hole = absent.isHole(entry.hash)
    if (closing || (!hole && await log.has(entry.hash))) return
    const size = encodedSize(entry)
    if (size > cap) {
      await refuseForGood(entry.hash)
      return await refuse(entry, `it is ${size} bytes, over the log's cap of ${cap}`, false)
    }
    const why = await fault(entry)
    if (why !== undefined) return await refuse(entry, why, why === NOT_ALLOWED)
    // One that can never count is refused before its ancestry is fetched (the batch is judged again in `join`).
    if (ranks?.refused([ranked(entry)]).has(entry.hash) === true) {
      await refuseForGood(entry.hash)
      return await refuse(entry, 'its writer\'s writes quota is used: it can never count', false)
    }
    const tally = Tally(access)
    const counted = await tally.add(entry)
    const bounded = tally.bounded(entry.key)
    if (!counted || (bounded !== undefined && bounded - (spent.get(entry.key) ?? 0) < 1)) return await refuse(entry, 'its writer has no allowance left', false)
    if (bounded !== undefined) spend(entry.key, 1)
    early?.take(entry)
    let joined = false
    // The ancestors this join adds: what a join past an absent one needs of them.
    const batch: LogEntry[] = []
    try {
      const walk = await fetchAncestry(entry, {
        storage: fetchStorage,
        inLog: async (hash) => await log.has(hash),
        check: async (ancestor) => {
          if ((await fault(ancestor)) !== undefined || !(await tally.add(ancestor))) return false
          batch.push(ancestor)
          early?.take(ancestor)
          return true
        },
        limits: ANCESTRY_LIMITS,
        maxEntryBytes: cap,
        oversized: refuseForGood,
        // One the log holds meanwhile (its own join ran while the walk waited for it) is no hole.
        ...(access.holes === true ? { hole: async (hash: string) => await isIndexed(hash) || absent.hole(hash) } : {}),
        signal: stopChecks.signal
      })
      if (!walk.ok) return await refuse(entry, walk.reason, true)
      joined = await join(entry, tally, batch, hole)
    } finally {
      // A check that failed stays counted against a bounded writer.
      if (bounded !== undefined && joined) spend(entry.key, -1)
      early?.drop([entry.hash, ...batch.map((e) => e.hash)])
    }
  }

  const applyOperation = async (entry: LogEntry): Promise<void> => {
    if (entry === undefined || entry === null) return
    const work = admit(entry).catch((err: unknown) => { events.emit('error', err) })
    checking.add(work)
    void work.finally(() => { checking.delete(work) })
    // An honest entry is checked at once; a forged one, or one whose ancestry is slow to
    // come, can take seconds to give up on: the sync does not wait for it.
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([work, new Promise((resolve) => { timer = setTimeout(resolve, PRECHECK_WAIT_MS) })])
    clearTimeout(timer)
  }

  /**
   * Joins an entry whose ancestry is local and checked, in the queue. Those of the batch
   * that can never count under their writer's writes quota (src/orbit/ranks.ts) are
   * refused for good first, and the rest joins without them.
   */
  const join = async (entry: LogEntry, tally: Tally, batch: LogEntry[], hole: boolean): Promise<boolean> => {
    return await queue.add(async () => {
      const over = ranks === undefined ? new Set<string>() : ranks.refused([entry, ...batch].map(ranked))
      if (over.size === 0) return await joinChecked(entry, tally, batch, hole)
      for (const hash of over) await refuseForGood(hash)
      const kept = batch.filter((e) => !over.has(e.hash))
      if (!over.has(entry.hash)) return await joinChecked(entry, tally, kept, hole)
      await refuse(entry, 'its writer\'s writes quota is used: it can never count', false)
      // What is kept joins under its own heads (those no kept entry names).
      const named = new Set(kept.flatMap((e) => [...e.next, ...e.refs]))
      let rest = kept.filter((e) => named.has(e.hash))
      for (const top of kept.filter((e) => !named.has(e.hash))) {
        await joinChecked(top, tally, rest, false)
        rest = []
      }
      return false
    }) as boolean
  }

  /** Joins an entry and its batch, checked against the writers' allowances again (runs in the queue). */
  const joinChecked = async (entry: LogEntry, tally: Tally, batch: LogEntry[], hole: boolean): Promise<boolean> => {
    try {
      if (!(await tally.fits())) {
        await refuse(entry, 'its writers have no allowance left for it', false)
        return false
      }
      // A hole joins now: from here on the log reads it (it is back absent should the join fail).
      if (hole) absent.heal(entry.hash)
      // Ours does the join, not OrbitDB's `joinEntry`: that one checks the entry again, and
      // every parent it names, though all are checked (here, in `admit`) or in the log
      // already. Each new entry re-encoded and re-hashed up to 17 of them: with a rotation's
      // 256 KiB snapshot parts among the last 16, a put took ~15 ms more to show. Only the
      // access check runs again here, in the queue: the registry may have changed meanwhile.
      const updated = !(await log.has(entry.hash))
      if (updated) {
        const joining = [entry, ...batch]
        for (const e of joining) if (!(await access.canAppend(e))) throw new Error(NOT_ALLOWED)
        // The marks a join past an absent ancestor relies on are on disk first.
        if (joining.some((e) => [...e.next, ...e.refs].some((hash) => absent.has(hash)))) await absent.flush()
        await joinVerified(stores, entry, batch, !hole)
      }
      if (hole) absent.healed(entry.hash)
      pending.delete(entry.hash)
      if (updated) {
        if (onUpdate !== undefined) await onUpdate(log, entry, batch)
        events.emit('update', entry)
      }
      return true
    } catch (err) {
      if (hole) absent.hole(entry.hash)
      await refuse(entry, err instanceof Error ? err.message : String(err), true)
      return false
    }
  }

  const sync = await Sync({ ipfs, log, events, onSynced: applyOperation, start: args.syncAutomatically ?? true })

  let lastAnnounced = ''
  let announcing = false
  /** Looks for a few holes again, outside the write queue; one that comes is checked and joined as any entry. */
  const seekHoles = async (): Promise<void> => {
    for (const hash of absent.due(Date.now(), HOLES_PER_ROUND)) {
      let bytes: Uint8Array | undefined
      try {
        bytes = await fetchStorage.get(hash, stopChecks.signal)
      } catch {
        bytes = undefined
      }
      if (bytes === undefined || closing) continue
      if (bytes.byteLength > cap) {
        await refuseForGood(hash)
        continue
      }
      try {
        const entry = await Entry.decode(bytes)
        if (entry.hash !== hash) continue
        await applyOperation(entry)
      } catch {}
    }
  }
  let seeking = false

  const reannounce = setInterval(() => {
    if (!seeking && absent.holes() > 0) {
      seeking = true
      const work = seekHoles().catch(() => {}).finally(() => { seeking = false })
      checking.add(work)
      void work.finally(() => { checking.delete(work) })
    }
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
    closing = true
    clearInterval(reannounce)
    await sync.stop()
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([Promise.allSettled(checking), new Promise((resolve) => { timer = setTimeout(resolve, CLOSE_GRACE_MS) })])
    clearTimeout(timer)
    stopChecks.abort()
    await Promise.allSettled(checking)
    await queue.onIdle()
    await fetchStorage.close?.()
    await log.close()
    await absent.flush()
    await absentStore.close()
    if (access.close !== undefined) await access.close()
    events.emit('close')
  }
  const drop = async (): Promise<void> => {
    queue.clear()
    await log.clear()
    await absent.flush()
    await absentStore.clear()
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
    pendingCount: () => pending.count(),
    pendingBytes: () => pending.bytes(),
    retryPending: async () => {
      for (const entry of pending.takeAll()) await applyOperation(entry)
    }
  }
}

/**
 * A storage that answers for the absent hashes at once: the entries' as holding nothing
 * (OrbitDB's traversals skip it), the index's as holding the entry (`has`: so a join
 * does not look for it, nor a walk of untrusted ancestry). With `isIndexed`, an absent
 * hash the log holds after all is read as any other: a hole marked while its own join
 * ran can be a head, and every append reads the heads (it failed on one that read as
 * nothing until the hole healed).
 */
export const withoutAbsent = (absent: Pick<AbsentEntries, 'has'>, storage: StorageBackend, answer: true | undefined, isIndexed?: (hash: string) => Promise<boolean>): StorageBackend => ({
  ...storage,
  get: async (hash, signal) => absent.has(hash) && !(await isIndexed?.(hash) ?? false) ? answer as Uint8Array | undefined : await storage.get(hash, signal)
})

/**
 * The access controller as the log sees it: an entry over the cap is not appended
 * (this device's own writer gets the typed error) nor joined.
 */
const capped = (access: AccessController, cap: number): AccessController => ({
  ...access,
  canAppend: async (entry) => {
    const size = encodedSize(entry)
    if (size > cap) throw new EntryTooLargeError(`this entry would be ${size} bytes; the log takes at most ${cap}`)
    return await access.canAppend(entry)
  }
})

/**
 * Counts a join's batch (an entry and its missing ancestry) per writer whose allowance
 * is bounded (a revoked device), against that allowance.
 */
interface Tally {
  /** Counts one more entry; false when its writer goes past its allowance. */
  add: (entry: LogEntry) => Promise<boolean>
  /** The allowance of the writer with this key, if bounded. */
  bounded: (key: string) => number | undefined
  /** Does the batch still fit the allowances (asked again right before the join)? */
  fits: () => Promise<boolean>
}

const Tally = (access: DatabaseArgs['access']): Tally => {
  const counts = new Map<string, { sample: LogEntry, n: number, allowance: number }>()
  const unbounded = new Set<string>()
  return {
    add: async (entry) => {
      if (access.allowance === undefined || unbounded.has(entry.key)) return true
      let item = counts.get(entry.key)
      if (item === undefined) {
        const allowance = await access.allowance(entry)
        if (allowance === Number.POSITIVE_INFINITY) {
          unbounded.add(entry.key)
          return true
        }
        item = { sample: entry, n: 0, allowance }
        counts.set(entry.key, item)
      }
      item.n++
      return item.n <= item.allowance
    },
    bounded: (key) => counts.get(key)?.allowance,
    fits: async () => {
      if (access.allowance === undefined) return true
      for (const { sample, n } of counts.values()) {
        if (n > await access.allowance(sample)) return false
      }
      return true
    }
  }
}
