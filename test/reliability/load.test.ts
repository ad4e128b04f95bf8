/**
 * Load: three devices, each a real daemon in its own process, write at the same time
 * (10,000 operations in all: puts, overwrites, deletes, some keys shared by all), then
 * converge to the same values with nothing lost. The writes go through each daemon's
 * local socket, as the CLI's do. `npm run soak` runs the same for longer, with
 * restarts, outside CI.
 */
import assert from 'node:assert/strict'
import { callDaemon } from '../../src/daemon/client.ts'
import type { Frame, Request } from '../../src/daemon/protocol.ts'
import { accountPaths } from '../../src/node/paths.ts'
import { Persona, sleep } from '../cli/join-helpers.ts'

const TOTAL_OPS = 10_000
/** Own keys per device: most are written several times. */
const OWN_KEYS = 1000
/**
 * Requests each device has under way at once. More is not faster on two cores: with 4
 * the writes took 77 s and the devices then needed 59 s to catch up with each other,
 * against 106 s and 4 s with 1 (measured).
 */
const IN_FLIGHT = 1

/** One request to a device's daemon; its result frame. */
const ask = async (p: Persona, request: Request): Promise<Record<string, unknown>> => {
  let out: Record<string, unknown> | undefined
  const result = await callDaemon(accountPaths(p.dir).socket, request, (frame: Frame) => { if ('out' in frame) out = frame.out })
  assert.ok(result.reached, `${p.name}'s daemon is not reachable`)
  assert.equal(result.error, undefined, `${p.name}: ${JSON.stringify(result.error)}\n${(p.daemon?.lines.stderr ?? []).filter((l) => l.includes('"internal"')).join('\n')}`)
  assert.ok(out !== undefined)
  return out
}

const entriesOf = async (p: Persona): Promise<Record<string, unknown>> => (await ask(p, { v: 1, cmd: 'list' })).entries as Record<string, unknown>

describe('reliability: three device processes writing at once', function () {
  this.timeout(600_000)
  let personas: Persona[] = []
  afterEach(async () => {
    await Promise.all(personas.map(async (p) => await p.cleanup()))
    personas = []
  })

  it(`${TOTAL_OPS.toLocaleString('en')} concurrent operations converge, and every device's own last write survives`, async () => {
    const laptop = await Persona.make('laptop')
    const phone = await Persona.make('phone')
    const tablet = await Persona.make('tablet')
    personas = [laptop, phone, tablet]
    await laptop.create()
    await laptop.startDaemon()
    for (const p of [phone, tablet]) {
      const shown = await laptop.openInvite()
      await p.join(shown.invite)
      await shown.admitted()
      // It remembers the laptop from the join: its daemon dials it.
      await p.startDaemon()
    }

    // Each device's operations, in order; a key is written again only 1,000 operations
    // later, long after its last write was acknowledged, so the last one in order wins.
    const expected = new Map<string, unknown>()
    const perDevice = Math.ceil(TOTAL_OPS / 3)
    const plans: Request[][] = [[], [], []]
    for (let n = 0; n < TOTAL_OPS; n++) {
      const j = Math.floor(n / perDevice)
      const i = n % perDevice
      const own = `own/${j}/${i % OWN_KEYS}`
      if (i % 25 === 0) {
        plans[j]?.push({ v: 1, cmd: 'put', key: `shared/${i % 100}`, value: { j, i } })
      } else if (i % 10 === 9) {
        plans[j]?.push({ v: 1, cmd: 'del', key: own })
        expected.set(own, undefined)
      } else {
        plans[j]?.push({ v: 1, cmd: 'put', key: own, value: { j, i } })
        expected.set(own, { j, i })
      }
    }
    const writing = Date.now()
    let ops = 0
    await Promise.all(personas.map(async (p, j) => {
      const plan = plans[j] as Request[]
      let next = 0
      await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
        while (next < plan.length) {
          const request = plan[next++] as Request
          await ask(p, request)
          ops++
        }
      }))
    }))
    assert.equal(ops, TOTAL_OPS)
    const wrote = Date.now() - writing

    // Converged: the three daemons list the same entries.
    const deadline = Date.now() + 300_000
    let lists: Array<Record<string, unknown>> = []
    for (;;) {
      lists = await Promise.all(personas.map(entriesOf))
      const [a, b, c] = lists.map((l) => JSON.stringify(l))
      if (a === b && b === c) break
      assert.ok(Date.now() < deadline, `no convergence after 300 s: ${lists.map((l) => Object.keys(l).length).join(', ')} keys`)
      await sleep(2000)
    }
    console.log(`    ${TOTAL_OPS} operations written in ${(wrote / 1000).toFixed(1)} s; the three devices agreed ${((Date.now() - writing - wrote) / 1000).toFixed(1)} s later`)
    const all = lists[0] as Record<string, unknown>
    for (const [key, value] of expected) assert.deepEqual(all[key], value, key)
    const shared = Object.keys(all).filter((k) => k.startsWith('shared/'))
    assert.deepEqual(shared.sort(), ['shared/0', 'shared/25', 'shared/50', 'shared/75'])
    assert.equal(Object.keys(all).length, [...expected.values()].filter((v) => v !== undefined).length + shared.length)
    for (const p of personas) await p.stopDaemon()
  })
})
