/**
 * The data side of an open account: which epoch's data log this device reads and
 * writes, and the move to a new epoch when the registry starts one. A move waits until
 * the new log holds its whole starting snapshot, then carries forward every write of
 * the old log that the rotation's cut had not seen (by a device still in the account),
 * with its original stamp, and retires the old log.
 *
 * A device whose old log holds exactly the rotation's cut (its heads are the cut, all
 * applied) holds the snapshot's state already: it moves at once, on its own state (the
 * old log hands its index to the new one), and the snapshot's parts, when they come,
 * change nothing. The old log is retired once the new log's checkpoint holds that state
 * (or, with no checkpoints, once the snapshot is whole): a crash before then reopens the
 * old log, as if no move had been made.
 */
import { entryWriter } from '../../acl/access.ts'
import { revokedHoldsCurrentKey } from '../../acl/reducer.ts'
import type { AccountParams, AccountState, EpochRecord } from '../../acl/types.ts'
import type { DeviceSecrets } from '../../identity/keystore.ts'
import { base64urlDecode, base64urlEncode } from '../crypto/bytes.ts'
import { lockboxAad, openBox, openBoxFast, sealTo } from '../crypto/lockbox.ts'
import { encryptedCodec, plainCodec, toWire, type PayloadCodec } from '../store/codec.ts'
import { KeyValueDatabase, KV_TYPE, type KvDatabase } from '../store/kv-database.ts'
import { recordParts } from '../rotation/parts.ts'
import { quotasOf, type Quotas } from '../store/quota.ts'
import { changesBetween, type Change, type SlotRecord } from '../store/kv-index.ts'
import type { OrbitDB } from '../orbit/orbitdb.ts'
import type { Mode } from '../types.ts'
import type { StateStore } from '../store/state-store.ts'
import type { RegistryDatabase } from './registry.ts'
import { uncoveredEntries } from './uncovered.ts'
import { batchToCarry } from './carry-batch.ts'

/** A lockbox value that marks membership of an epoch in public mode (there is no key to seal). */
export const PUBLIC_LOCKBOX = 'cHVibGlj'
/** Records per carry-over or snapshot operation. */
export const RECORDS_PER_OP = 2000

/** A lockbox of `epoch`'s key for `holder` (a device or the recovery key); in public mode (no key), the membership marker. */
export const sealEpochKey = (address: string, epoch: number, key: Uint8Array | undefined, holder: { device: string, boxKey: string }): string =>
  key === undefined ? PUBLIC_LOCKBOX : base64urlEncode(sealTo(base64urlDecode(holder.boxKey, 'boxKey'), key, lockboxAad(address, epoch, holder.device)))

export const lockboxOf = (state: AccountState, epoch: EpochRecord, device: string): string | undefined =>
  epoch.lockboxes[device] ?? state.addedLockboxes[String(epoch.epoch)]?.[device]

/** The account's per-device quotas, from the parameters its registry's address commits to. */
export const quotasFrom = (registry: RegistryDatabase): Quotas => quotasOf((registry.access as { params?: AccountParams }).params ?? {})

/** The signing key of the device (or recovery key) whose rotation started `record`: only its snapshot counts. */
export const starterKey = (state: AccountState, record: EpochRecord): string | undefined =>
  state.devices[record.startedBy]?.signingKey ?? [state.recovery, ...state.retiredRecovery].find((r) => r?.device === record.startedBy)?.signingKey

export interface EpochsInit {
  orbitdb: OrbitDB
  secrets: DeviceSecrets
  registry: RegistryDatabase
  address: string
  mode: Mode
  /** The data log this device used last (it may hold writes that were never carried). */
  previous?: string
  /** The key of the current epoch, when the caller has it already (the founder at creation). */
  knownKey?: Uint8Array
  onChange: (change: Change) => void
  /** Whether anyone listens to `onChange` now: a move tells what changed only then (the diff of a 100,000-key move costs ~0.3 s). */
  watched?: () => boolean
  onEpoch?: (epoch: EpochRecord) => void
  /** Told when reads and writes go to another log (a move; the log is `current()`). */
  onCurrent?: () => void
  /** Where each data log's checkpoint is kept (none: replayed at each open). */
  store?: StateStore
}

export interface Epochs {
  current: () => KvDatabase
  /** The key of the epoch this device is in (undefined in public mode). */
  key: () => Uint8Array | undefined
  /** This device's key of an epoch of the registry: undefined in public mode, null when it holds none. */
  keyOf: (record: EpochRecord) => Uint8Array | undefined | null
  /**
   * Runs a write to the current log. While a move carries the old log's writes forward,
   * writes wait (and the move waits for writes already under way), so none lands in a
   * log that was already read for the carry.
   */
  write: <T>(fn: () => Promise<T>) => Promise<T>
  /** Follows the registry: opens a newer epoch, moves to it when its snapshot is here. */
  follow: () => Promise<void>
  close: () => Promise<void>
}

interface Open { record: EpochRecord, db: KvDatabase, key: Uint8Array | undefined, stop: () => void }

const sameSet = (a: string[], b: string[]): boolean => {
  if (a.length !== b.length) return false
  const set = new Set(a)
  return b.every((x) => set.has(x))
}

export const openEpochs = async (init: EpochsInit): Promise<Epochs> => {
  const { orbitdb, secrets, registry, address, mode } = init

  /** The key of `record`'s epoch from this device's lockbox: undefined in a public account, null with no lockbox. */
  const keyFor = <T>(state: AccountState, record: EpochRecord, open: (secretKey: Uint8Array, box: Uint8Array, aad: Uint8Array) => T): T | undefined | null => {
    if (mode === 'public') return undefined
    const box = lockboxOf(state, record, secrets.device)
    if (box === undefined || box === PUBLIC_LOCKBOX) return null
    return open(secrets.box.secretKey, base64urlDecode(box, 'lockbox'), lockboxAad(address, record.epoch, secrets.device))
  }
  const codecFor = (record: EpochRecord, key: Uint8Array | undefined): PayloadCodec =>
    key === undefined ? plainCodec : encryptedCodec(key, address, record.epoch)

  const openLog = async (record: EpochRecord, key: Uint8Array | undefined): Promise<Open> => {
    const starter = starterKey(registry.state(), record)
    const db = await orbitdb.open(record.dataLog, { type: KV_TYPE, Database: KeyValueDatabase({ codec: codecFor(record, key), epoch: record.epoch, quotas: quotasFrom(registry), starter, ...(init.store !== undefined ? { store: init.store } : {}) }) }) as KvDatabase
    return { record, db, key, stop: () => {} }
  }
  const watchCurrent = (open: Open): void => { open.stop = open.db.onChange((change) => init.onChange(change)) }

  const state0 = registry.state()
  const first = state0.epoch as EpochRecord
  const records = [...state0.epochs, ...(state0.supersededEpochs ?? [])]
  // Start where this device was (it may have writes there that no one carried yet), else at the current epoch.
  const start = records.find((r) => r.dataLog === init.previous) ?? first
  // The first lockbox of the process: natively, where the platform can (see openBoxFast).
  const startKey = start === first && init.knownKey !== undefined ? init.knownKey : await keyFor(state0, start, openBoxFast)
  if (startKey === null) throw new Error(`this device holds no key for epoch ${start.epoch}`)
  let cur = await openLog(start, startKey)
  watchCurrent(cur)
  let next: Open | undefined
  let queue: Promise<void> = Promise.resolve()
  let closed = false
  /** Set while a move carries writes forward. */
  let moving: Promise<void> | undefined
  const writing = new Set<Promise<unknown>>()
  /** Old logs left by a move on this device's own state, until the new log's state is safe on disk (see settle). */
  const leaving = new Set<KvDatabase>()

  /** Writes the old log's uncovered writes, by devices still active, into the new log. */
  const carry = async (from: Open, to: Open, cut: string[]): Promise<void> => {
    const state = registry.state()
    const records: SlotRecord[] = []
    const batches = new Set<string>()
    for (const entry of await uncoveredEntries(from.db.log, cut)) {
      const writer = await entryWriter(orbitdb.identities, entry)
      if (writer === undefined || state.devices[writer.device]?.status !== 'active') continue
      let op
      try {
        op = from.db.codec.decode(entry.payload)
      } catch {
        continue
      }
      const stamp = { epoch: from.record.epoch, time: entry.clock.time, id: entry.clock.id, hash: entry.hash }
      if (op.op === 'put') records.push({ key: op.key, value: op.value, stamp })
      else if (op.op === 'del') records.push({ key: op.key, value: undefined, stamp })
      else if (op.op === 'batch') records.push(...await batchToCarry(from.db, from.record.epoch, entry.hash, batches))
      else for (const w of op.records) records.push({ key: w.k, value: w.v, stamp: { epoch: w.s[0], time: w.s[1], id: w.s[2], hash: w.s[3] } })
    }
    const fresh = records.filter((r) => to.db.wins(r))
    // Parts by records and by bytes: each fits a data entry's cap (src/rotation/parts.ts).
    if (fresh.length > 0) for (const part of recordParts(fresh, RECORDS_PER_OP)) await to.db.append({ op: 'carry', records: part.map(toWire) })
  }

  /**
   * Carries the old log's uncovered writes into `to`, then moves reads and writes there,
   * tells watchers what changed and retires the old log. Reads stay on the old log until
   * the carry is done, so nobody sees a write of theirs go back meanwhile.
   */
  const move = async (to: Open): Promise<void> => {
    const from = cur
    let release = (): void => {}
    moving = new Promise((resolve) => { release = resolve })
    try {
      await Promise.allSettled([...writing])
      await carry(from, to, cutFrom(from, to) ?? [])
      from.stop()
      cur = to
      watchCurrent(to)
      init.onCurrent?.()
    } finally {
      moving = undefined
      release()
    }
    // Told by stamps: a key whose write is the same (a snapshot or carry keeps its stamp)
    // did not change, and no value is read (a 100,000-key move parsed every value twice).
    if (init.watched?.() !== false) {
      for (const change of changesBetween(from.db.liveStamps(), to.db.liveStamps(), (key) => to.db.get(key))) init.onChange(change)
    }
    await from.db.retire()
    init.onEpoch?.(to.record)
  }

  /**
   * The cut of `to`'s rotation when it starts the epoch right after `from`'s, both counted
   * (else undefined, as for an empty cut: no move on own state, and a move carries every
   * write of the old log that the cut does not cover, i.e. all of them).
   */
  const cutFrom = (from: Open, to: Open): string[] | undefined => {
    const state = registry.state()
    const winner = state.epochs.find((e) => e.dataLog === to.record.dataLog)
    if (winner === undefined || winner.epoch !== from.record.epoch + 1 || !state.epochs.some((e) => e.dataLog === from.record.dataLog)) return undefined
    return winner.cut.length > 0 ? winner.cut : undefined
  }

  /**
   * Moves to `to` before its snapshot is here, when the old log holds exactly the cut:
   * its index (the state at the cut) is handed to the new log. Writes wait meanwhile, as
   * in `move`. False (nothing done) when the old log holds more or less than the cut.
   */
  const moveOnOwnState = async (to: Open): Promise<boolean> => {
    const from = cur
    const cut = cutFrom(from, to)
    if (cut === undefined) return false
    let release = (): void => {}
    moving = new Promise((resolve) => { release = resolve })
    try {
      await Promise.allSettled([...writing])
      const applied = from.db.stats()
      const heads = (await from.db.log.heads()).map((e) => e.hash)
      const now = from.db.stats()
      // Nothing applied while the heads were read, all of the cut applied and settled, nothing else.
      if (now.applied !== applied.applied || now.skipped !== applied.skipped || !sameSet(heads, cut) || !from.db.hasApplied(cut)) return false
      const handed = from.db.handOver()
      if (handed === undefined) return false
      to.db.adopt(handed)
      from.stop()
      cur = to
      watchCurrent(to)
      init.onCurrent?.()
      // Stored while the move ran, after the heads were read: carried as in any move.
      await carry(from, to, cut)
    } finally {
      moving = undefined
      release()
    }
    leaving.add(from.db)
    // A retire that fails leaves the old log's files, as a crash would: nothing is lost.
    void settle(from, to).catch(() => {})
    return true
  }

  /** Retires the old log of a move on own state once its state is safe in the new log (checkpointed, or the snapshot whole). */
  const settle = async (from: Open, to: Open): Promise<void> => {
    const whole = new Promise<boolean>((resolve) => {
      const check = (): void => {
        if (!to.db.snapshotComplete()) return
        to.db.events.off('update', check)
        resolve(true)
      }
      to.db.events.on('update', check)
      check()
    })
    // With no checkpoint store, only the snapshot whole makes it safe.
    const saved = to.db.checkpointed().then(async (ok) => ok || (init.store === undefined && await whole))
    const safe = await Promise.race([whole, saved])
    // Closed first (not safe), or settled by the close meanwhile.
    if ((!safe && !to.db.snapshotComplete()) || !leaving.has(from.db)) return
    leaving.delete(from.db)
    // Retired before the config moves on: a log the config no longer names may be emptied (src/account/retired-logs.ts).
    await from.db.retire()
    init.onEpoch?.(to.record)
  }

  const step = async (): Promise<void> => {
    if (closed) return
    const state = registry.state()
    const target = state.epoch
    if (target === null || target.dataLog === cur.record.dataLog) return
    // A revoked device holds the key of the current epoch (a rotation was voided with its
    // author, or none followed the revocation yet): carrying this device's writes there
    // would hand them to it. Stay until the rotation the revocation calls for arrives.
    if (revokedHoldsCurrentKey(state)) return
    if (next === undefined || next.record.dataLog !== target.dataLog) {
      const key = keyFor(state, target, openBox)
      if (key === null) return // not (or no longer) a member of the new epoch: stay where we are
      // A candidate for an epoch the registry has since moved past: its listeners (on the old log too) go with it.
      next?.stop()
      if (next !== undefined && next.db !== cur.db) await next.db.close()
      next = undefined
      // Its manifest may not be here yet (the peer that rotated went away): tried again later.
      next = await openLog(target, key)
      const candidate = next
      // On every entry, not only on visible changes: the snapshot of an empty store changes nothing.
      const onUpdate = (): void => { if (candidate.db.snapshotComplete()) tryFollow() }
      candidate.db.events.on('update', onUpdate)
      // The old log may reach the cut later (this device was syncing it): then it can move on its own state.
      const old = cur.db
      const cut = cutFrom(cur, candidate)
      const onOld = (): void => { if (cut !== undefined && cur.db === old && old.hasApplied(cut)) tryFollow() }
      if (cut !== undefined) old.events.on('update', onOld)
      candidate.stop = () => {
        candidate.db.events.off('update', onUpdate)
        old.events.off('update', onOld)
      }
    }
    if (next.db.snapshotComplete()) {
      const to = next
      next = undefined
      to.stop()
      await move(to)
      await step()
    } else if (cutFrom(cur, next) !== undefined) {
      const to = next
      // Its listeners as a candidate: a move on own state sets `to.stop` to end its watch as the current log.
      const unfollow = to.stop
      if (await moveOnOwnState(to)) {
        next = undefined
        unfollow()
        await step()
      }
    }
  }

  const follow = async (): Promise<void> => {
    queue = queue.then(step, step)
    await queue
  }
  /** How long before a move that failed (a new log not reachable yet) is tried again. */
  const RETRY_MS = 5000
  let retry: ReturnType<typeof setTimeout> | undefined
  /** Follows, and on a failure tries again in a while (a registry change also tries again). */
  const tryFollow = (): void => {
    void follow().catch(() => {
      if (closed || retry !== undefined) return
      retry = setTimeout(() => {
        retry = undefined
        if (!closed) tryFollow()
      }, RETRY_MS)
      retry.unref?.()
    })
  }

  // Opening does not wait on the network: a newer epoch whose log is not here yet is followed later.
  await follow().catch(() => { tryFollow() })
  return {
    current: () => cur.db,
    write: async (fn) => {
      while (moving !== undefined) await moving
      const running = fn()
      writing.add(running)
      try {
        return await running
      } finally {
        writing.delete(running)
      }
    },
    key: () => cur.key,
    keyOf: (record) => {
      if (record.dataLog === cur.record.dataLog) return cur.key
      try {
        return keyFor(registry.state(), record, openBox)
      } catch {
        return null
      }
    },
    follow,
    close: async () => {
      closed = true
      if (retry !== undefined) clearTimeout(retry)
      await queue.catch(() => {})
      cur.stop()
      next?.stop()
      if (next !== undefined) await next.db.close()
      await cur.db.close()
      // Old logs of a move on own state: the close's checkpoint of the new log holds their state now.
      for (const old of [...leaving]) {
        leaving.delete(old)
        if (init.store !== undefined || cur.db.snapshotComplete()) {
          await old.retire()
          init.onEpoch?.(cur.record)
        } else await old.close()
      }
    }
  }
}
