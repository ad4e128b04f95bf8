/**
 * Seeded random partitions: four devices (then fewer, then one more) go through rounds
 * of random splits. While apart, every device writes (its own keys, keys shared by all,
 * deletes), and some rounds an admin revokes a device on the other side or admits a
 * new one on its own. At each heal every device still in the account converges to the
 * same registry, epoch and values, and every device's own live writes are there.
 * ORBIT_PARTITION_SEED replays or varies a run.
 */
import assert from 'node:assert/strict'
import type { Connection } from '@libp2p/interface'
import { accountView, Devices } from '../join/helpers.ts'
import { waitFor } from '../helpers/device.ts'
import { between, prng } from '../helpers/random.ts'

const SEED = Number(process.env.ORBIT_PARTITION_SEED ?? 20261130) >>> 0
/** Runs, each from its own seed (SEED, SEED + 1, ...). */
const RUNS = 2
/** What happens while apart, round by round. */
const EVENTS = ['none', 'revoke', 'admit', 'revoke', 'none', 'admit'] as const
const OPS_PER_DEVICE = 4


describe('reliability: seeded random partitions', function () {
  this.timeout(300_000)
  let d: Devices
  beforeEach(() => { d = new Devices() })
  afterEach(async () => { await d.cleanup() })

  for (let run = 0; run < RUNS; run++) {
    const seed = (SEED + run) >>> 0
    it(`${EVENTS.length} rounds of random splits with writes, revocations and admissions on either side converge, with nothing live lost (seed ${seed})`, async () => {
      const rand = prng(seed)
      const pick = <T>(xs: T[]): T => xs[between(rand, 0, xs.length)] as T
      await d.create('laptop')
      await d.join('phone', 'laptop', 'admin')
      await d.join('tablet', 'laptop')
      await d.join('watch', 'phone')
      const admins = new Set(['laptop', 'phone'])
      const live = new Set(['laptop', 'phone', 'tablet', 'watch'])
      /** Own keys of each device: the value it last wrote, or null once it deleted it. */
      const own = new Map<string, Map<string, string | null>>()
      let admitted = 0
      const tally = { splits: [] as string[], ops: 0, walled: 0, revoked: [] as string[], admitted: [] as string[] }

      /**
       * A split is a wall, not only closed connections: a node may dial a peer again on its
       * own (bitswap sends a queued message with dialProtocol, which redials), and on a real
       * split that dial fails. Here a connection across the wall is aborted as it opens.
       */
      const walls: Array<() => void> = []
      const wall = (a: string, b: string): void => {
        for (const [from, to] of [[a, b], [b, a]] as const) {
          const libp2p = d.get(from).node.libp2p
          const peer = d.get(to).peerId()
          const onOpen = (event: CustomEvent<Connection>): void => {
            if (event.detail.remotePeer.toString() !== peer) return
            tally.walled++
            event.detail.abort(new Error('the test has split these devices'))
          }
          libp2p.addEventListener('connection:open', onOpen)
          walls.push(() => { libp2p.removeEventListener('connection:open', onOpen) })
        }
      }
      const cut = async (a: string, b: string): Promise<void> => {
        wall(a, b)
        for (const [from, to] of [[a, b], [b, a]] as const) {
          const peer = d.get(to).peerId()
          // A close that races the other side's close rejects with its close event: the connection is gone either way.
          await Promise.all(d.get(from).node.libp2p.getConnections().filter((c) => c.remotePeer.toString() === peer).map(async (c) => { await c.close().catch(() => {}) }))
        }
        await waitFor(() => !d.get(a).peers().includes(d.get(b).peerId()) && !d.get(b).peers().includes(d.get(a).peerId()), 10_000, `${a} and ${b} to part`)
      }
      const meshOf = async (names: string[]): Promise<void> => {
        for (let i = 0; i < names.length; i++) {
          for (let j = i + 1; j < names.length; j++) await d.connect(names[i] as string, names[j] as string, 'registry')
        }
      }

      for (let round = 0; round < EVENTS.length; round++) {
        // Split the devices still in the account in two non-empty groups.
        const names = [...live].sort(() => rand() - 0.5)
        const at = between(rand, 1, names.length)
        const sides = [names.slice(0, at), names.slice(at)]
        tally.splits.push(sides.map((s) => s.join('+')).join(' | '))
        for (const a of sides[0] as string[]) for (const b of sides[1] as string[]) await cut(a, b)
        for (const side of sides) await meshOf(side)

        // Apart: each device writes.
        const marker = sides.map((_, s) => `split/${round}/${s}`)
        for (const [s, side] of sides.entries()) {
          await d.get(side[0] as string).put(marker[s] as string, round)
          for (const name of side) {
            const mine = own.get(name) ?? new Map<string, string | null>()
            own.set(name, mine)
            for (let i = 0; i < OPS_PER_DEVICE; i++) {
              const r = rand()
              const key = `own/${name}/${between(rand, 0, 4)}`
              if (r < 0.2 && mine.get(key) !== undefined && mine.get(key) !== null) {
                await d.get(name).del(key)
                mine.set(key, null)
              } else if (r < 0.5) {
                await d.get(name).put(`shared/${between(rand, 0, 3)}`, `${name} ${round}.${i}`)
              } else {
                await d.get(name).put(key, `${round}.${i}`)
                mine.set(key, `${round}.${i}`)
              }
              tally.ops++
            }
          }
        }
        // The split holds: each side sees its own marker and not the other's.
        for (const [s, side] of sides.entries()) {
          for (const name of side) await waitFor(() => d.get(name).get(marker[s] as string) === round, 20_000, `${name} to see its side's marker`)
        }
        for (const [s, side] of sides.entries()) {
          for (const name of side) assert.equal(d.get(name).get(marker[1 - s] as string), undefined, `round ${round}: ${name} saw the other side while apart`)
        }

        // Apart: an admin revokes a device on the other side, or admits a new one on its own.
        const event = EVENTS[round]
        const withAdmin = sides.filter((side) => side.some((n) => admins.has(n)))
        if (event === 'revoke' && withAdmin.length > 0) {
          const side = pick(withAdmin)
          const other = sides.find((s) => s !== side) as string[]
          const victims = other.filter((n) => !admins.has(n))
          if (victims.length > 0) {
            const victim = pick(victims)
            await d.get(side.find((n) => admins.has(n)) as string).revoke(victim)
            live.delete(victim)
            own.delete(victim)
            tally.revoked.push(`${victim} (round ${round})`)
            // A lost device: it does not come back.
            await d.stop(victim)
          }
        } else if (event === 'admit' && withAdmin.length > 0) {
          const side = pick(withAdmin)
          const name = `new${++admitted}`
          await d.join(name, side.find((n) => admins.has(n)) as string)
          for (const b of sides.find((s) => s !== side) as string[]) wall(name, b)
          side.push(name)
          live.add(name)
          await meshOf(side)
          await d.get(name).put(`own/${name}/0`, `${round}.joined`)
          own.set(name, new Map([[`own/${name}/0`, `${round}.joined`]]))
          tally.admitted.push(`${name} (round ${round})`)
        }

        // Heal, and converge.
        for (const open of walls.splice(0)) open()
        const all = [...live]
        await meshOf(all)
        await waitFor(() => {
          const views = all.map((n) => JSON.stringify(accountView(d.get(n))))
          return views.every((v) => v === views[0]) && all.every((n) => d.get(n).state().needsRotation === false)
        }, 90_000, `round ${round}: convergence of ${all.join(', ')}`)
        const values = d.get(all[0] as string).all()
        for (const [name, keys] of own) {
          for (const [key, value] of keys) {
            if (value === null) assert.equal(values[key], undefined, `round ${round}: ${name}'s delete of ${key} was lost`)
            else assert.equal(values[key], value, `round ${round}: ${name}'s write of ${key} was lost`)
          }
        }
        const revoked = d.get(all[0] as string).devices().filter((x) => x.status === 'revoked').map((x) => x.name)
        assert.deepEqual(revoked.sort(), tally.revoked.map((r) => r.split(' ')[0]).sort())
      }
      assert.ok(tally.revoked.length >= 1 && tally.admitted.length >= 1, `every kind of event happened: ${JSON.stringify(tally)}`)
      console.log(`    splits: ${tally.splits.join('; ')}\n    ${tally.ops} writes apart; revoked ${tally.revoked.join(', ')}; admitted ${tally.admitted.join(', ')}; nothing live lost; ${tally.walled} redial(s) across a split stopped`)
    })
  }
})
