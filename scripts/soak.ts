/**
 * `npm run soak -- [--minutes N] [--seed S]`: three devices (real nodes on loopback, one
 * process) write, overwrite and delete at random for N minutes, with random restarts;
 * at the end they must converge with every device's own last writes intact. For use
 * outside CI; prints what it checked.
 */
import assert from 'node:assert/strict'
import { parseArgs } from 'node:util'
import { Devices } from '../test/join/helpers.ts'
import { waitFor } from '../test/helpers/device.ts'

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '2' }, seed: { type: 'string', default: '1' } } })
const minutes = Number(values.minutes)
let seed = Number(values.seed) >>> 0
const rnd = (): number => { seed = (seed * 1664525 + 1013904223) >>> 0; return seed / 2 ** 32 }

const d = new Devices()
const names = ['laptop', 'phone', 'tablet']
const expected = new Map<string, unknown>()
const stats = { puts: 0, dels: 0, restarts: 0 }
try {
  await d.create('laptop')
  await d.join('phone', 'laptop')
  await d.join('tablet', 'laptop')
  const until = Date.now() + minutes * 60_000
  while (Date.now() < until) {
    const j = Math.floor(rnd() * 3)
    const name = names[j] as string
    if (rnd() < 0.01) {
      await d.stop(name)
      await d.start(name)
      for (const other of names) if (other !== name) await d.connect(name, other).catch(() => {})
      stats.restarts++
      continue
    }
    const key = `own/${j}/${Math.floor(rnd() * 100)}`
    if (rnd() < 0.15) {
      await d.get(name).del(key)
      expected.set(key, undefined)
      stats.dels++
    } else {
      const value = { n: stats.puts }
      await d.get(name).put(key, value)
      expected.set(key, value)
      stats.puts++
    }
  }
  for (const a of names) for (const b of names) if (a < b) await d.connect(a, b).catch(() => {})
  await waitFor(() => {
    const views = names.map((n) => JSON.stringify(d.get(n).all()))
    return views.every((v) => v === views[0])
  }, 300_000, 'convergence')
  const all = d.get('laptop').all()
  for (const [key, value] of expected) assert.deepEqual(all[key], value, key)
  console.log(`soak passed: ${minutes} min, ${stats.puts} puts, ${stats.dels} deletes, ${stats.restarts} restarts; ${expected.size} keys checked on 3 devices, all converged`)
} finally {
  await d.cleanup()
}
