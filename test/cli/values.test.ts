/**
 * A value is checked the same with a daemon as without one (issue 18, item 8): JSON text
 * that parses to something JSON cannot hold (1e999 is Infinity) or serialize back (a
 * value nested 200,000 deep overflows JSON.stringify) gets a typed error, exit 1, one
 * error line and no stack trace, and nothing is stored. Through the daemon also for a
 * client that writes such a request on the socket itself. Loopback only.
 */
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { join } from 'node:path'
import { parseFailure, Sandbox, type CliError, type JsonObject } from './helpers.ts'

const DEEP = 200_000
const deepArray = '['.repeat(DEEP) + ']'.repeat(DEEP)
const deepObject = '{"a":'.repeat(DEEP) + '1' + '}'.repeat(DEEP)

/** Values whose JSON text parses but which JSON cannot carry: each must be refused with one of `codes`. */
const BAD: Array<{ what: string, text: string, codes: string[], says: RegExp }> = [
  { what: '1e999 (Infinity)', text: '1e999', codes: ['INVALID_JSON'], says: /Infinity is not a number JSON can hold/ },
  { what: '-1e999', text: '-1e999', codes: ['INVALID_JSON'], says: /-Infinity is not a number JSON can hold/ },
  { what: 'a number beyond JSON inside an object', text: '{"n":[1,2e400]}', codes: ['INVALID_JSON'], says: /not a number JSON can hold/ },
  { what: `arrays ${DEEP} deep`, text: deepArray, codes: ['INVALID_JSON', 'VALUE_TOO_LARGE'], says: /deeper than 100 levels|limit/ },
  { what: `objects ${DEEP} deep`, text: deepObject, codes: ['INVALID_JSON', 'VALUE_TOO_LARGE'], says: /deeper than 100 levels|limit/ }
]

/** Sends one raw request line on the daemon's socket; resolves with every frame it answered. */
const rawRequest = async (socket: string, line: string): Promise<JsonObject[]> => await new Promise((resolve, reject) => {
  const s = connect(socket)
  let got = ''
  const timer = setTimeout(() => { s.destroy(); reject(new Error(`no answer on ${socket}: ${got}`)) }, 15_000)
  s.setEncoding('utf8')
  s.on('connect', () => s.write(line + '\n'))
  s.on('data', (c: string) => { got += c })
  s.on('error', (err) => { clearTimeout(timer); reject(err) })
  s.on('close', () => {
    clearTimeout(timer)
    resolve(got.split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as JsonObject))
  })
})

describe('values: checked the same with a daemon as without', function () {
  this.timeout(180_000)
  let box: Sandbox
  beforeEach(async () => { box = await Sandbox.create() })
  afterEach(async () => { await box.cleanup() })

  /** Runs a command that must fail, fed `input` on stdin (which it may stop reading: past the limit it need not read on). */
  const failOnStdin = async (args: string[], input: string): Promise<CliError> => {
    const started = Date.now()
    const running = box.spawn(args)
    running.proc.stdin?.on('error', () => {})
    running.proc.stdin?.end(input)
    const exit = await running.waitForExit(30_000)
    const text = (lines: string[]): string => lines.length === 0 ? '' : lines.join('\n') + '\n'
    return parseFailure({ ...exit, stdout: text(running.lines.stdout), stderr: text(running.lines.stderr), ms: Date.now() - started }, args)
  }

  /** Every bad value through `put`, as an argument and on stdin: a typed error, nothing stored. */
  const refusesAll = async (how: string): Promise<void> => {
    for (const bad of BAD) {
      // Too long for a command line: the deep ones go on stdin.
      const err = bad.text.length > 1000 ? await failOnStdin(['put', 'k', '-'], bad.text) : await box.fail(['put', 'k', bad.text])
      assert.ok(bad.codes.includes(err.code), `${how}, ${bad.what}: ${err.code} ${err.message}`)
      assert.equal(err.exit, 1, `${how}, ${bad.what}`)
      assert.match(err.message, bad.says, `${how}, ${bad.what}`)
      assert.doesNotMatch(err.message, /\n\s+at /, `${how}, ${bad.what}: a stack trace`)
    }
    assert.deepEqual(await box.json(['get', 'k']), { key: 'k', value: null, found: false }, `${how}: something was stored`)
  }

  it('put refuses them with no daemon and through a daemon, and the daemon refuses them from a raw socket client', async () => {
    await box.json(['create', '--name', 'laptop', '--no-recovery'])
    await refusesAll('no daemon')

    const { daemon } = await box.startDaemon()
    await refusesAll('through the daemon')

    // A client that skips the CLI's checks: the daemon checks again.
    const socket = join(box.dir, 'daemon.sock')
    for (const bad of BAD) {
      const frames = await rawRequest(socket, `{"v":1,"cmd":"put","key":"k","value":${bad.text}}`)
      const error = frames.at(-1)?.error as { code?: string, message?: string } | undefined
      assert.ok(error?.code !== undefined && bad.codes.includes(error.code), `raw ${bad.what}: ${JSON.stringify(frames).slice(0, 300)}`)
      assert.match(error.message ?? '', bad.says, `raw ${bad.what}`)
    }
    assert.deepEqual(await rawRequest(socket, '{"v":1,"cmd":"get","key":"k"}'), [{ out: { key: 'k', value: null, found: false } }, { end: true }])
    assert.equal(daemon.running, true, daemon.describe())
    assert.equal(daemon.lines.stderr.some((l) => /\bat .+:\d+:\d+/.test(l)), false, daemon.describe())
  })
})
