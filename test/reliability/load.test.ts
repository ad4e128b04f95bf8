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

/** One request to a device's daemon; its result frame. */
const ask = async (p: Persona, request: Request): Promise<Record<string, unknown>> => {
  let out: Record<string, unknown> | undefined
  const result = await callDaemon(accountPaths(p.dir).socket, request, (frame: Frame) => { if ('out' in frame) out = frame.out })
  assert.ok(result.reached, `${p.name}'s daemon is not reachable`)
  assert.equal(result.error, undefined, `${p.name}: ${JSON.stringify(result.error)}`)
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

    const expected = new Map<string, unknown>()
    let ops = 0
    const perDevice = Math.ceil(TOTAL_OPS / 3)
    await Promise.all(personas.map(async (p, j) => {
      for (let i = 0; i < perDevice && ops < TOTAL_OPS; i++) {
        ops++
        if (i % 25 === 0) {
          await ask(p, { v: 1, cmd: 'put', key: `shared/${i % 100}`, value: { j, i } })
          continue
        }
        const own = `own/${j}/${i % OWN_KEYS}`
        if (i % 10 === 9) {
          await ask(p, { v: 1, cmd: 'del', key: own })
          expected.set(own, undefined)
        } else {
          await ask(p, { v: 1, cmd: 'put', key: own, value: { j, i } })
          expected.set(own, { j, i })
        }
      }
    }))
    assert.equal(ops, TOTAL_OPS)

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
    const all = lists[0] as Record<string, unknown>
    for (const [key, value] of expected) assert.deepEqual(all[key], value, key)
    const shared = Object.keys(all).filter((k) => k.startsWith('shared/'))
    assert.deepEqual(shared.sort(), ['shared/0', 'shared/25', 'shared/50', 'shared/75'])
    assert.equal(Object.keys(all).length, [...expected.values()].filter((v) => v !== undefined).length + shared.length)
    for (const p of personas) await p.stopDaemon()
  })
})
