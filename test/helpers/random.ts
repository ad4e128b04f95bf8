/** Seeded randomness for tests, so a failing run can be replayed from its seed. */

/** mulberry32: a small, fast, seeded PRNG (uniform in [0, 1)). */
export const prng = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A whole number in [min, max) drawn from `rand`. */
export const between = (rand: () => number, min: number, max: number): number => Math.floor(min + rand() * (max - min))
