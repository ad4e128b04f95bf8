/**
 * Which entries of an old log a rotation's cut had not seen: the walk (newest first,
 * stopping once only covered entries are left) against the plain definition, on random
 * logs (several writers, next and refs links, Lamport clocks), random cuts, and entries
 * this device does not hold.
 */
import assert from 'node:assert/strict'
import { uncoveredEntries, type LocalLog } from '../../src/account/uncovered.ts'
import type { LogEntry } from '../../src/orbit/orbitdb.ts'
import { between, prng } from '../helpers/random.ts'

const HISTORIES = 400

const entry = (hash: string, time: number, next: string[], refs: string[]): LogEntry =>
  ({ hash, id: 'log', payload: null, next, refs, clock: { id: 'w', time }, v: 2, key: 'k', identity: 'i', sig: 's' })

/** Hashes reachable from `from` through held entries (themselves included). */
const closure = (held: Map<string, LogEntry>, from: string[]): Set<string> => {
  const seen = new Set<string>()
  const stack = [...from]
  while (stack.length > 0) {
    const h = stack.pop() as string
    const e = held.get(h)
    if (e === undefined || seen.has(h)) continue
    seen.add(h)
    stack.push(...e.next, ...e.refs)
  }
  return seen
}

describe('account: the writes a rotation cut had not seen', () => {
  it(`match the definition on ${HISTORIES} random logs, walking only near the heads`, async () => {
    const rand = prng(7)
    let walkedLess = 0
    for (let n = 0; n < HISTORIES; n++) {
      const all: LogEntry[] = []
      const size = between(rand, 1, 60)
      for (let i = 0; i < size; i++) {
        const parents = i === 0 ? [] : [...new Set(Array.from({ length: between(rand, 1, 3) }, () => (all[between(rand, Math.max(0, i - 6), i)] as LogEntry).hash))]
        const refs = i < 3 ? [] : [...new Set(Array.from({ length: between(rand, 0, 3) }, () => (all[between(rand, 0, i)] as LogEntry).hash))]
        const time = 1 + Math.max(0, ...parents.map((p) => (all.find((e) => e.hash === p) as LogEntry).clock.time), ...refs.map((p) => (all.find((e) => e.hash === p) as LogEntry).clock.time))
        all.push(entry(`e${n}.${i}`, time, parents, refs.filter((r) => !parents.includes(r))))
      }
      // Some entries are not held here (a device that was away), never the heads.
      const children = new Set(all.flatMap((e) => [...e.next, ...e.refs]))
      const heads = all.filter((e) => !children.has(e.hash))
      const held = new Map(all.filter((e) => heads.includes(e) || rand() > 0.1).map((e) => [e.hash, e]))
      const cut = all.filter(() => rand() < 0.15).map((e) => e.hash)
      if (rand() < 0.2) cut.push(...heads.map((e) => e.hash))
      let gets = 0
      const log: LocalLog = {
        heads: async () => heads,
        has: async (hash) => held.has(hash),
        get: async (hash) => { gets++; return held.get(hash) }
      }
      const got = (await uncoveredEntries(log, cut)).map((e) => e.hash).sort()
      const covered = closure(held, cut)
      const expected = [...closure(held, heads.map((e) => e.hash))].filter((h) => !covered.has(h)).sort()
      assert.deepEqual(got, expected, `history ${n}`)
      if (gets < held.size) walkedLess++
    }
    // Cuts near the heads stop the walk early.
    assert.ok(walkedLess > HISTORIES / 4, `the walk read every held entry in ${HISTORIES - walkedLess} of ${HISTORIES} histories`)
  })

  it('a device that wrote nothing since the cut reads nothing', async () => {
    const a = entry('a', 1, [], [])
    const b = entry('b', 2, ['a'], [])
    let gets = 0
    const log: LocalLog = { heads: async () => [b], has: async () => true, get: async (h) => { gets++; return h === 'a' ? a : b } }
    assert.deepEqual(await uncoveredEntries(log, ['b']), [])
    assert.ok(gets <= 1, `read ${gets} entries`)
  })
})
