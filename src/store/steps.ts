/**
 * Work cut into steps: a generator that yields between steps and returns its result.
 * Run at once (`runSteps`), or with a pause after each step (`runStepsPaused`), so
 * that a long encoding (a checkpoint of 100,000 keys: ~1 s) lets reads and writes
 * through meanwhile. Browser-ready.
 */
export type Steps<T> = Generator<void, T, void>

/** Items (an index's slots, a ledger's writes) a checkpoint's encoding handles between two pauses. */
export const ITEMS_PER_STEP = 2000

export const runSteps = <T>(steps: Steps<T>): T => {
  let r = steps.next()
  while (r.done !== true) r = steps.next()
  return r.value
}

/** A pause that lets timers, I/O and other tasks run (a macrotask, in Node and in browsers). */
const pause = async (): Promise<void> => { await new Promise<void>((resolve) => { setTimeout(resolve, 0) }) }

export const runStepsPaused = async <T>(steps: Steps<T>): Promise<T> => {
  let r = steps.next()
  while (r.done !== true) {
    await pause()
    r = steps.next()
  }
  return r.value
}
