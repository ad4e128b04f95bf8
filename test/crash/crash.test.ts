/**
 * Crash safety (DESIGN.md security property 9, README "Durability"): real CLI processes
 * and in-process writers SIGKILLed at moments drawn from a seeded PRNG (ORBIT_CRASH_SEED
 * replays a run). Every daemon listens on 127.0.0.1 only.
 *
 * - writes: a daemon killed while CLI `put`s go through it, an in-process writer killed
 *   mid-loop, a one-shot `put` killed mid-run: the store reopens (the stale lock and
 *   socket do not block it) and every acknowledged write is there with its value;
 * - a join: the inviting daemon killed while a phone joins: the registry stays
 *   consistent, the phone joined or got a clean error, a new invite works;
 * - a rotation: the daemon killed while it revokes a phone over a few thousand keys:
 *   after a restart the account is in a new epoch without the phone, or the revocation
 *   never happened; never a revocation without its rotation; every value intact.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { callDaemon } from '../../src/daemon/client.ts'
import type { Frame } from '../../src/daemon/protocol.ts'
import { ProtocolError } from '../../src/errors.ts'
import { Sandbox, type Exit, type Json, type JsonObject, type Running } from '../cli/helpers.ts'
import { errorOf, eventually, jsonLines, Persona, type DeviceRow } from '../cli/join-helpers.ts'
import {
  assertHolds, between, exists, inspect, isAlive, killSummary, lockPid, printedKeys, prng, recordKill, SEED, sigkill, sleep, valueFor, writeScripts
} from './helpers.ts'

const rand = prng(SEED)
/** A delay in [0, 800) ms, denser early (800 u^2): a rotation over a few thousand keys takes a few hundred ms. */
const earlyIn800 = (): number => Math.floor(800 * rand() ** 2)

/** Rounds (kills) per scenario. */
const DAEMON_PUT_KILLS = 5
const WRITER_KILLS = 4
const ONE_SHOT_PUT_KILLS = 3
const JOIN_KILLS = 3
const ROTATION_KILLS = 5

/** CLI writers going through the daemon at once. */
const WRITERS = 3
/** Keys and value padding for the rotation (a snapshot of several parts). */
const ROTATION_KEYS = 2500
const ROTATION_PAD = 800
/** How long a joining phone gets, once the inviter is back, before it is interrupted (more than the 30 s it waits for a vanished inviter). */
const JOIN_WAIT_MS = 45_000

/** Error codes a command may answer with when the process it talks to is killed. */
const CRASH_CODES = new Set(['PROTOCOL_ERROR', 'STORE_LOCKED', 'JOIN_FAILED', 'INVITE_USED', 'INVITE_REJECTED', 'INVITE_EXPIRED'])

const DEVICE_ID = /^d[a-z2-7]{24}$/

/** The `{"error":{code}}` a failed command printed on stderr, or undefined when there is none. */
const errorCodeIn = (stderr: string): string | undefined => {
  for (const line of stderr.split('\n').reverse()) {
    const start = line.indexOf('{"error"')
    if (start < 0) continue
    try {
      const parsed = JSON.parse(line.slice(start)) as { error?: { code?: unknown } }
      if (typeof parsed.error?.code === 'string') return parsed.error.code
    } catch {
      // not JSON
    }
  }
  return undefined
}

const tally = (codes: Map<string, number>, code: string): void => { codes.set(code, (codes.get(code) ?? 0) + 1) }

describe(`crash: SIGKILL at random moments (seed ${SEED})`, function () {
  this.timeout(240_000)
  const boxes: Sandbox[] = []
  const personas: Persona[] = []

  afterEach(async () => {
    await Promise.all([...boxes.splice(0), ...personas.splice(0)].map(async (b) => await b.cleanup()))
  })
  after(() => { console.log(killSummary()) })

  it('a daemon SIGKILLed during CLI puts restarts (stale lock and socket) with every acknowledged put', async () => {
    const box = await Sandbox.create()
    boxes.push(box)
    await box.json(['create', '--name', 'laptop'])
    const acked = new Map<string, Json>()
    const attempted = new Map<string, Json>()
    const failures = new Map<string, number>()
    let { daemon } = await box.startDaemon()
    for (let round = 0; round < DAEMON_PUT_KILLS; round++) {
      let stop = false
      let ackedThisRound = 0
      const loop = async (w: number): Promise<void> => {
        for (let n = 0; !stop; n++) {
          const key = `d${round}/${w}/${n}`
          const value: JsonObject = { k: key, round, w, n }
          attempted.set(key, value)
          const r = await box.run(['put', key, JSON.stringify(value)])
          if (r.code === 0) {
            assert.deepEqual(JSON.parse(r.stdout) as Json, { key, value }, `put ${key}`)
            acked.set(key, value)
            ackedThisRound++
          } else {
            const code = errorCodeIn(r.stderr)
            assert.ok(code !== undefined && CRASH_CODES.has(code), `put ${key} failed without a typed error (exit ${String(r.code)}): ${r.stderr}`)
            tally(failures, code)
          }
        }
      }
      const loops = Array.from({ length: WRITERS }, async (_, w) => await loop(w))
      const pid = daemon.proc.pid
      let delay: number
      let killedAfter: number
      try {
        // The kill moment counts from the round's first acknowledged put.
        await eventually('a first put through the daemon', async () => await Promise.resolve(ackedThisRound), (n) => n > 0, 30_000, 20)
        delay = between(rand, 0, 2000)
        await sleep(delay)
        killedAfter = ackedThisRound
        assert.deepEqual(await sigkill(daemon), { code: null, signal: 'SIGKILL' }, daemon.describe())
      } finally {
        stop = true
        await Promise.allSettled(loops)
      }
      await Promise.all(loops)
      recordKill('daemon during CLI puts', delay, `${killedAfter} acked by then, ${ackedThisRound - killedAfter} more after the kill`)
      // The daemon's socket and (unless a one-shot put took it over since) its lock are left behind.
      assert.ok(await exists(join(box.dir, 'daemon.sock')), 'the killed daemon left its socket')
      const holder = await lockPid(box.dir)
      if (holder !== undefined) {
        assert.equal(holder, pid)
        assert.equal(isAlive(holder), false)
      }
      daemon = (await box.startDaemon()).daemon
    }
    assert.ok(acked.size > DAEMON_PUT_KILLS * 3, `only ${acked.size} puts were acknowledged`)
    const through = (await box.json(['list'])).entries as JsonObject
    assertHolds(through, acked, 'through the restarted daemon')
    for (const [key, value] of Object.entries(through)) assert.deepEqual(value, attempted.get(key), `${key} holds a value nobody wrote`)
    daemon.proc.kill('SIGTERM')
    assert.deepEqual(await daemon.waitForExit(15_000), { code: 0, signal: null }, daemon.describe())
    const alone = (await box.json(['list'])).entries as JsonObject
    assert.deepEqual(alone, through)
    console.log(`    ${acked.size} puts acknowledged, ${attempted.size - acked.size} not (${[...failures].map(([c, n]) => `${c} x${n}`).join(', ')}); none lost`)
  })

  it('an in-process writer and a one-shot put SIGKILLed mid-run: the store reopens with every acknowledged write', async () => {
    const box = await Sandbox.create()
    boxes.push(box)
    const scripts = await writeScripts(box)
    await box.json(['create', '--name', 'laptop'])
    const acked = new Map<string, Json>()
    const PAD = 64
    let next = 0
    for (let round = 0; round < WRITER_KILLS; round++) {
      const writer = box.spawnScript(scripts.writer, [box.dir, 'w', String(next), '1000000', String(PAD)], { label: `writer round ${round}` })
      writer.proc.stdin?.end()
      // The first kill lands while the writer opens the store; the others while it writes.
      if (round > 0) await writer.waitForLine('stdout', (l) => l === 'open', 60_000)
      const delay = round === 0 ? between(rand, 100, 600) : between(rand, 0, 1000)
      await sleep(delay)
      const exit = await sigkill(writer)
      assert.deepEqual(exit, { code: null, signal: 'SIGKILL' }, `the writer stopped before it was killed\n${writer.describe()}`)
      const keys = printedKeys(writer, 'w')
      for (const key of keys) acked.set(key, valueFor(key, Number(key.slice(1)), PAD))
      const last = keys.at(-1)
      next = last === undefined ? next : Number(last.slice(1)) + 2
      const opened = writer.lines.stdout.includes('open')
      recordKill('in-process writer', delay, opened ? `${keys.length} acked` : 'while opening')
    }
    const afterWriters = (await box.json(['list'])).entries as JsonObject
    assertHolds(afterWriters, acked, 'after the writer was killed')
    for (let round = 0; round < ONE_SHOT_PUT_KILLS; round++) {
      const key = `p${round}`
      const value: JsonObject = { k: key, round }
      const put: Running = box.spawn(['put', key, JSON.stringify(value)])
      put.proc.stdin?.end()
      const delay = between(rand, 200, 1200)
      await sleep(delay)
      const exit: Exit = await sigkill(put)
      const answered = jsonLines(put).some((o) => o.key === key)
      if (answered) acked.set(key, value)
      recordKill('one-shot put', delay, exit.signal === 'SIGKILL' ? (answered ? 'after its answer' : 'before its answer') : `had exited ${String(exit.code)}`)
      // The store reopens (stale lock taken over) and holds every acknowledged write.
      const entries = (await box.json(['list'])).entries as JsonObject
      assertHolds(entries, acked, `after the one-shot put ${key} was killed at ${delay} ms`)
      if (key in entries) assert.deepEqual(entries[key], value)
    }
    console.log(`    ${acked.size} writes acknowledged before the kills; none lost`)
  })

  it('the inviting daemon SIGKILLed during a join: a consistent registry, a joined phone or a clean error, a new invite works', async () => {
    const outcomes: string[] = []
    for (let round = 0; round < JOIN_KILLS; round++) {
      const laptop = await Persona.make('laptop')
      const phone = await Persona.make('phone')
      const tablet = await Persona.make('tablet')
      personas.push(laptop, phone, tablet)
      await laptop.create()
      await laptop.put('before/join', 'written before the invite')
      await laptop.startDaemon()
      const shown = await laptop.openInvite(['--ttl', '1m'])
      const joining = phone.box.spawn(['join', shown.invite, '--name', 'phone'])
      joining.proc.stdin?.end()
      // The kill moment counts from the phone's first word (its start-up time varies with the machine's load).
      await joining.waitForLine('stderr', (l) => l.includes('to admit this device'), 30_000)
      const delay = between(rand, 0, 450)
      await sleep(delay)
      const daemon = laptop.daemon as Running
      laptop.daemon = undefined
      const phase = joining.running ? (joining.lines.stderr.filter((l) => l.length > 0).at(-1) ?? 'starting') : 'joined already'
      await sigkill(daemon)
      await shown.proc.waitForExit(15_000)
      // Restarted as a daemon is by default: on the ports it remembers, where the phone looks for it.
      await laptop.startDaemon([])

      let hung = false
      try {
        await joining.waitForExit(JOIN_WAIT_MS)
      } catch {
        hung = true
        joining.proc.kill('SIGINT')
        await joining.waitForExit(15_000)
      }
      const exit = await joining.exited
      const rows: DeviceRow[] = await laptop.devices()
      assert.ok(rows.length === 1 || rows.length === 2, `the laptop lists ${rows.length} devices: ${JSON.stringify(rows)}`)
      for (const r of rows) {
        assert.match(r.device, DEVICE_ID)
        assert.equal(r.status, 'active')
      }
      const founder = rows.find((r) => r.name === 'laptop')
      assert.ok(founder !== undefined && founder.role === 'admin' && founder.addedBy === null, JSON.stringify(rows))
      const listedPhone = rows.find((r) => r.name === 'phone')
      if (rows.length === 2) assert.ok(listedPhone !== undefined && listedPhone.role === 'member' && listedPhone.addedBy === founder.device, JSON.stringify(rows))

      let outcome: string
      if (exit.code === 0) {
        const joined = jsonLines(joining).find((o) => typeof o.device === 'string')
        assert.ok(joined !== undefined, joining.describe())
        assert.equal(listedPhone?.device, joined.device, 'the phone joined but the restarted laptop does not list it')
        phone.info = joined
        assert.equal(await phone.get('before/join'), 'written before the invite')
        outcome = 'joined'
      } else {
        assert.equal(exit.signal, null, joining.describe())
        const err = errorOf(joining)
        outcome = `${err.code}${hung ? ' (hung until interrupted)' : ''}${listedPhone !== undefined ? ', but the laptop lists it' : ''}`
        recordKill('inviting daemon during a join', delay, `${phase} -> ${outcome}`)
        assert.ok(CRASH_CODES.has(err.code), `killed at ${delay} ms (phone: ${phase}), the phone failed with ${err.code}: ${err.message}`)
        assert.equal(await phone.hasAccount(), false, 'a failed join left an account behind')
        assert.equal(await exists(join(phone.dir, 'keys.json')), false, 'a failed join left its keys behind')
      }
      if (exit.code === 0) recordKill('inviting daemon during a join', delay, `${phase} -> ${outcome}`)
      outcomes.push(outcome)

      // A new invite works: the phone tries again if it failed, else a tablet joins.
      const next = exit.code === 0 ? tablet : phone
      const again = await laptop.openInvite(['--ttl', '1m'])
      const joined = await next.join(again.invite)
      assert.deepEqual(await again.admitted(), { device: joined.device, name: next.name, role: 'member' })
      assert.equal(await next.get('before/join'), 'written before the invite')
      const after = await laptop.devices()
      assert.ok(after.some((r) => r.device === joined.device && r.status === 'active'))
      assert.equal(after.length, rows.length + 1)
      await Promise.all([laptop, phone, tablet].map(async (p) => await p.cleanup()))
    }
    console.log(`    join outcomes: ${outcomes.join('; ')}`)
  })

  it('a daemon SIGKILLed while it revokes a phone: after a restart, a new epoch without it or no revocation; values intact', async () => {
    const box = await Sandbox.create()
    boxes.push(box)
    const scripts = await writeScripts(box)
    await box.json(['create', '--name', 'laptop'])
    const setup = box.spawnScript(scripts.setup, [box.dir, 'phone', String(ROTATION_KILLS), 'r', String(ROTATION_KEYS), String(ROTATION_PAD)], { label: 'setup' })
    setup.proc.stdin?.end()
    assert.deepEqual(await setup.waitForExit(120_000), { code: 0, signal: null }, setup.describe())
    const expected = new Map<string, Json>()
    for (let i = 0; i < ROTATION_KEYS; i++) expected.set(`r${i}`, valueFor(`r${i}`, i, ROTATION_PAD))

    const status = async (): Promise<JsonObject> => await box.json(['status'])
    const devices = async (): Promise<DeviceRow[]> => (await box.json(['devices'])).devices as unknown as DeviceRow[]
    let epoch = 0
    let revokedCount = 0
    for (let round = 1; round <= ROTATION_KILLS; round++) {
      const name = `phone${round}`
      let { daemon } = await box.startDaemon()
      assert.equal((await status()).epoch, epoch)
      assert.equal((await devices()).find((d) => d.name === name)?.status, 'active')
      // Odd rounds: the `revoke` command (it runs by itself if the daemon is gone before it
      // connects). Even rounds: the request straight on the daemon's socket, so the kill
      // moment counts from the request.
      let acknowledged = false
      let notes: string[]
      let delay: number
      if (round % 2 === 1) {
        const revoke = box.spawn(['revoke', name])
        revoke.proc.stdin?.end()
        delay = earlyIn800()
        await sleep(delay)
        await sigkill(daemon)
        // A revoke that found no daemon runs by itself: let it finish before the restart.
        const revokeExit = await revoke.waitForExit(60_000)
        notes = revoke.lines.stderr.filter((l) => l.length > 0 && !l.startsWith('{'))
        acknowledged = revokeExit.code === 0 && jsonLines(revoke).some((o) => typeof o.revoked === 'string')
        if (!acknowledged) {
          const code = errorCodeIn(revoke.lines.stderr.join('\n'))
          assert.ok(revokeExit.signal === null && code !== undefined && CRASH_CODES.has(code), `revoke failed without a typed error\n${revoke.describe()}`)
        }
      } else {
        const frames: Frame[] = []
        const call = callDaemon(join(box.dir, 'daemon.sock'), { v: 1, cmd: 'revoke', device: name }, (f) => frames.push(f))
        const answered = call.then((r) => r, (err: unknown) => err)
        delay = earlyIn800()
        await sleep(delay)
        await sigkill(daemon)
        const result = await answered
        notes = frames.flatMap((f) => 'note' in f ? [f.note] : [])
        acknowledged = frames.some((f) => 'out' in f && typeof f.out.revoked === 'string')
        if (acknowledged) assert.deepEqual(result, { reached: true })
        else assert.ok(result instanceof ProtocolError, `the killed daemon's answer: ${JSON.stringify(result)} ${String(result)}`)
      }
      daemon = (await box.startDaemon()).daemon
      // Once the daemon has been up a while: rotated without the phone, or nothing happened.
      // Killed between the rotate op and its last snapshot part, the daemon rotates again
      // on its restart (src/rotation/rotate.ts): one epoch more, known for sure once it stopped.
      const settled = await eventually(`a revocation of ${name} with its rotation, or none`, async () => {
        const s = await status()
        const d = (await devices()).find((r) => r.name === name)
        return { epoch: Number(s.epoch), phone: d?.status }
      }, (v) => (v.phone === 'revoked' && v.epoch > epoch) || (v.phone === 'active' && v.epoch === epoch), 30_000)
      if (acknowledged) assert.equal(settled.phone, 'revoked', `revoke ${name} was acknowledged but is gone after the restart`)
      const revoked = settled.phone === 'revoked'
      const before = epoch
      if (revoked) revokedCount++
      const killNote = acknowledged ? 'acked' : notes.at(-1)?.replace(/^re-encrypting the live data into the new epoch: /, '') ?? 'before any progress'
      // The daemon serves the values (`get`: a `list` of this size through the daemon is
      // cut at 64 KiB by the CLI, see the report), then the whole store is checked.
      for (const i of [0, ROTATION_KEYS - 1, ...Array.from({ length: 5 }, () => between(rand, 0, ROTATION_KEYS))]) {
        assert.deepEqual((await box.json(['get', `r${i}`])).value, expected.get(`r${i}`))
      }
      daemon.proc.kill('SIGTERM')
      assert.deepEqual(await daemon.waitForExit(15_000), { code: 0, signal: null }, daemon.describe())
      const seen = await inspect(box, scripts)
      assert.equal(seen.needsRotation, false, 'the registry still asks for a rotation')
      if (revoked) {
        // One rotation, or two when it was killed between its op and its last part (never after an acknowledgement).
        assert.ok(seen.epoch === before + 1 || (!acknowledged && seen.epoch === before + 2), `epoch ${seen.epoch} after epoch ${before}`)
        epoch = seen.epoch
      }
      recordKill('daemon during a revocation', delay, `${killNote} -> ${revoked ? `epoch ${epoch}` : 'not revoked'}`)
      assert.equal(seen.epoch, epoch)
      assert.deepEqual(seen.epochs.at(-1), epoch)
      const active = seen.devices.filter((d) => d.status === 'active').map((d) => d.device).sort()
      if (epoch > 0) assert.deepEqual(seen.lockboxHolders, active, 'the current epoch is sealed to exactly the active devices')
      if (epoch > 0) assert.ok(seen.recoveryHoldsKey, 'the current epoch is sealed to the recovery key')
      assert.equal(seen.devices.filter((d) => d.status === 'revoked').length, revokedCount)
      assert.equal(Object.keys(seen.entries).length, ROTATION_KEYS)
      assertHolds(seen.entries, expected, `after the kill in round ${round}`)
    }
    console.log(`    ${revokedCount} of ${ROTATION_KILLS} revocations happened, each with its rotation (epoch ${epoch}); ${ROTATION_KEYS} values intact`)
  })
})
