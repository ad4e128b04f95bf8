/**
 * Where an account keeps what it derives from its logs, so an open (and a command with
 * no daemon) reads it instead of replaying them: each data log's checkpoint
 * (src/store/checkpoint.ts) and the registry's state. The store seals what it keeps
 * under a key only this device's keystore gives (`stateKey`): the checkpoints hold the
 * decrypted data. Node keeps files (src/node/state-files.ts). Browser-ready.
 */
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { utf8Encode } from '../crypto/bytes.ts'
import type { ByteSource } from './byte-source.ts'
import { CorruptStateError } from '../errors.ts'
import { decodeCheckpoint, encodeCheckpoint, type KvCheckpoint } from './checkpoint.ts'

/** Sealed named blobs: a write replaces the whole blob at once (a reader sees the old or the new one). */
export interface StateStore {
  /** The blob saved under `name`, opened; undefined when there is none. Throws CorruptStateError when it does not open. */
  read: (name: string) => Promise<Uint8Array | undefined>
  write: (name: string, bytes: Uint8Array) => Promise<void>
  /**
   * A blob in two parts: `head`, read and opened whole by `readSplit`, and `tail`, read
   * and authenticated on demand, a range at a time (what an open need not read).
   */
  writeSplit: (name: string, parts: SplitBlob) => Promise<void>
  /** The parts `writeSplit` saved; the tail holds what it reads until closed. */
  readSplit: (name: string) => Promise<{ head: Uint8Array, tail: ByteSource } | undefined>
  remove: (name: string) => Promise<void>
}

export interface SplitBlob { head: Uint8Array, tail: Uint8Array }

const STATE_KEY_INFO = 'orbit-account/state/v1'

/** The key that seals this device's persisted state of `account`: from its box secret key, which only its keystore holds. */
export const stateKey = (boxSecretKey: Uint8Array, account: string): Uint8Array =>
  hkdf(sha256, boxSecretKey, utf8Encode(account), utf8Encode(STATE_KEY_INFO), 32)

/** The name a data log's checkpoint is kept under. */
export const checkpointName = (logAddress: string): string => `log-${logAddress.split('/').pop() ?? logAddress}`
/** The name the registry's state is kept under. */
export const REGISTRY_STATE = 'registry'

/**
 * A checkpoint is taken once the log has been quiet this long: a stream of writes is not
 * interrupted by checkpoints (each costs memory and time in proportion to the state).
 */
const QUIET_MS = 2000
/** ...but at the latest this long after the first change it covers: a crash replays at most that much of the log. */
const MAX_WAIT_MS = 30_000
/**
 * A checkpoint takes time in proportion to the state (~0.5 s at 100,000 keys): the next
 * one waits at least this many times as long, so checkpoints cost a tenth of the time at most.
 */
const COST_FACTOR = 10

export interface Checkpoints {
  /**
   * The checkpoint of this log for `epoch`; undefined when there is none or its head does
   * not read (the log is replayed). Its tail is read later, as needed: `onDamage` is told
   * when a part of it does not authenticate (that read throws CorruptStateError).
   */
  load: (epoch: number, onDamage?: () => void) => Promise<KvCheckpoint | undefined>
  /** Says the state changed: a checkpoint follows (soon, not at once). */
  changed: () => void
  /**
   * From now on checkpoints are taken with `take`, which gives the checkpoint's bytes:
   * the state dumped in one synchronous run (a consistent state), then encoded in steps
   * with pauses (`encodeCheckpointPaused`), from the dump's own lists, which the applies
   * that come meanwhile do not change.
   */
  start: (take: () => Promise<SplitBlob>) => void
  /** No more timed checkpoints; waits for the one under way. */
  stop: () => Promise<void>
  /** A close's checkpoint (clean): written unless the one on disk is clean and nothing changed since. */
  close: (take: () => KvCheckpoint) => Promise<void>
  remove: () => Promise<void>
  /**
   * Resolves true once a checkpoint whose state was taken after the call is on disk;
   * false if none will be (stopped, or removed, first). Asks for one (as `changed`).
   */
  saved: () => Promise<boolean>
}

export const Checkpoints = (store: StateStore, logAddress: string): Checkpoints => {
  const name = checkpointName(logAddress)
  let take: (() => Promise<SplitBlob>) | undefined
  let dirty = false
  /** Changed since the checkpoint on disk was taken; is that one a close's? */
  let unsaved = false
  let cleanOnDisk = false
  let stopped = false
  let timer: ReturnType<typeof setTimeout> | undefined
  let last = 0
  /** When the first change not yet in a checkpoint came, and when the last one did. */
  let firstChange = 0
  let lastChange = 0
  let saving: Promise<void> = Promise.resolve()
  /** Told of the next checkpoint written (true), or that none will be (false). */
  let waiting: Array<(written: boolean) => void> = []
  const tell = (list: Array<(written: boolean) => void>, written: boolean): void => { for (const f of list) f(written) }
  /** Writes the checkpoint `encode` gives; `last` is what both took. */
  const write = async (encode: () => SplitBlob | Promise<SplitBlob>): Promise<void> => {
    const started = Date.now()
    // Those waiting now: the state this write takes is taken after they asked.
    const told = waiting
    waiting = []
    try {
      await store.writeSplit(name, await encode())
    } catch (err) {
      waiting.push(...told)
      throw err
    }
    last = Date.now() - started
    tell(told, true)
  }
  // A checkpoint that fails costs only a longer replay at the next open.
  const queue = async (work: () => Promise<void>): Promise<void> => {
    saving = saving.then(work).catch(() => {})
    await saving
  }
  /** When the next checkpoint is due: after QUIET_MS of quiet, at most MAX_WAIT_MS after the first change, never sooner than its cost allows. */
  const due = (): number => Math.max(Math.min(lastChange + QUIET_MS, firstChange + MAX_WAIT_MS), firstChange + COST_FACTOR * last)
  const arm = (): void => {
    timer = setTimeout(run, Math.max(0, due() - Date.now()))
    timer.unref?.()
  }
  const run = (): void => {
    timer = undefined
    if (stopped || !dirty || take === undefined) return
    // Changed again meanwhile: wait for the quiet (or the latest time).
    if (Date.now() < due()) {
      arm()
      return
    }
    dirty = false
    const t = take
    void queue(async () => {
      await write(async () => {
        const blob = await t()
        unsaved = dirty
        return blob
      })
      cleanOnDisk = false
    })
  }
  const changed = (): void => {
    const now = Date.now()
    if (!dirty) firstChange = now
    lastChange = now
    dirty = true
    unsaved = true
    if (timer !== undefined || stopped || take === undefined) return
    arm()
  }
  return {
    load: async (epoch, onDamage) => {
      try {
        const parts = await store.readSplit(name)
        if (parts === undefined) return undefined
        const tail: ByteSource = {
          length: parts.tail.length,
          bytes: (start, end) => {
            try {
              return parts.tail.bytes(start, end)
            } catch (err) {
              if (err instanceof CorruptStateError) onDamage?.()
              throw err
            }
          },
          close: () => { parts.tail.close() }
        }
        let c: KvCheckpoint
        try {
          c = decodeCheckpoint({ head: parts.head, tail })
        } catch (err) {
          parts.tail.close()
          throw err
        }
        if (c.epoch !== epoch) {
          c.release?.()
          return undefined
        }
        cleanOnDisk = c.clean
        return c
      } catch {
        return undefined
      }
    },
    changed,
    start: (t) => {
      take = t
      if (dirty) changed()
    },
    stop: async () => {
      stopped = true
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      await saving
    },
    saved: async () => await new Promise<boolean>((resolve) => {
      waiting.push(resolve)
      changed()
    }),
    close: async (t) => {
      await queue(async () => {
        if (cleanOnDisk && !unsaved) return
        await write(() => encodeCheckpoint(t()))
        cleanOnDisk = true
        unsaved = false
      })
    },
    remove: async () => {
      await queue(async () => { await store.remove(name) })
      tell(waiting.splice(0), false)
    }
  }
}
