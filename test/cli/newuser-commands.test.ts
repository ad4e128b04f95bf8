/**
 * What a new user tripped over with the everyday commands (issue 15, items 4, 5, 8, 9,
 * 10, 11, 12, 14, 19): values that look like options, help and --version, error codes
 * and exit codes, nothing that hangs, parallel commands, `watch` outliving its daemon,
 * `del` of a key that was not set, short output, `get` telling null from absent.
 */
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { REPO, Sandbox, type JsonObject } from './helpers.ts'

describe('new user: one device, no daemon', function () {
  this.timeout(120_000)
  let cli: Sandbox
  beforeEach(async () => { cli = await Sandbox.create() })
  afterEach(async () => { await cli.cleanup() })

  it('bad command lines are INVALID_ARGUMENT (exit 2) saying what is wrong, before anything starts; --version and per-command help', async () => {
    const usage = async (args: string[], pattern: RegExp): Promise<void> => {
      const err = await cli.fail(args, { timeoutMs: 15_000, noDir: args.includes('--dir') })
      assert.deepEqual([err.exit, err.code], [2, 'INVALID_ARGUMENT'], `${args.join(' ')}: ${err.message}`)
      assert.match(err.message, pattern)
    }
    await usage(['put', 'k'], /put: missing <json\|->/)
    await usage(['get'], /get: missing <key>/)
    await usage(['daemon', '--listen', 'notamultiaddr'], /--listen notamultiaddr is not a multiaddr/)
    await usage(['daemon', '--peer', '/ip4/1.2.3.4/tcp/nope'], /--peer .* is not a multiaddr/)
    await usage(['invite', '--ttl', '-5m'], /invalid --ttl .-5m./)
    const file = join(cli.root, 'file')
    await writeFile(file, 'x')
    await usage(['status', '--dir', file], /is a file, not a directory/)
    await usage(['create', '--name', 'f', '--dir', join(file, 'sub')], /is a file, not a directory/)

    // Item 9: a directory that cannot be made fails at once (a recursive mkdir under /proc spun forever).
    const proc = await cli.run(['create', '--name', 'f', '--dir', '/proc/nope/deeper'], { noDir: true, timeoutMs: 15_000 })
    assert.notEqual(proc.code, 0)
    assert.match(proc.stderr, /"code":"(INVALID_ARGUMENT|PERMISSION_DENIED)".*\/proc\/nope/)

    // Item 12.
    const version = await cli.run(['--version'], { human: true, noDir: true })
    const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string }
    assert.equal(version.stdout, `orbit-account ${pkg.version}\n`)
    for (const args of [['put', '--help'], ['help', 'put']]) {
      const help = await cli.run(args, { human: true, noDir: true })
      assert.equal(help.code, 0)
      assert.match(help.stdout, /^usage: orbit-account put <key> <json\|->[^\n]*\n\nSets a key to a JSON value[^\n]*\.\n\nexample:\n {2}orbit-account put \S+ \S+\n$/)
    }
  })

  it('negative numbers are values; keys are argument errors; get tells null from absent; del of an unset key; short output; parallel commands wait for the store', async () => {
    await cli.json(['create', '--name', 'laptop'])
    // Item 11.
    assert.deepEqual(await cli.json(['put', 'n', '-5']), { key: 'n', value: -5 })
    assert.deepEqual(await cli.json(['put', '--json', 'x', '-0.25']), { key: 'x', value: -0.25 })
    // Item 8: a key too long is a command-line error like an empty one.
    for (const key of ['', 'k'.repeat(1025)]) {
      const err = await cli.fail(['put', key, '1'])
      assert.deepEqual([err.exit, err.code], [2, 'INVALID_ARGUMENT'], err.message)
    }
    // Item 19: `found`.
    await cli.json(['put', 'nothing', 'null'])
    assert.deepEqual(await cli.json(['get', 'nothing']), { key: 'nothing', value: null, found: true })
    assert.deepEqual(await cli.json(['get', 'absent']), { key: 'absent', value: null, found: false })
    assert.deepEqual(await cli.json(['del', 'absent']), { key: 'absent', deleted: false })
    // Item 14: a person is not flooded with a large value.
    const big = JSON.stringify({ text: 'y'.repeat(100_000) })
    const put = await cli.run(['put', 'big', '-'], { input: big, human: true })
    assert.equal(put.code, 0, put.stderr)
    assert.ok(put.stdout.length < 200 && put.stdout.startsWith('big = '), put.stdout)
    assert.match(put.stdout, /100,\d{3} characters of JSON/)

    // Item 4: commands run together with no daemon wait for the store instead of failing.
    const results = await Promise.all(['a', 'b', 'c'].map(async (k) => await cli.run(['put', `p/${k}`, `"${k}"`])))
    for (const r of results) assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(await cli.json(['list', '--prefix', 'p/']), { entries: { 'p/a': 'a', 'p/b': 'b', 'p/c': 'c' } })
  })
})

describe('new user: the passphrase', function () {
  this.timeout(60_000)
  let cli: Sandbox
  beforeEach(async () => { cli = await Sandbox.create() })
  afterEach(async () => { await cli.cleanup() })

  it('item 13: one rule for the file and the environment: a line ending at the end is not part of it', async () => {
    await cli.json(['create', '--name', 'laptop'], { env: { ORBIT_ACCOUNT_PASSPHRASE: 'correct horse\n' } })
    const file = join(cli.root, 'passphrase.txt')
    await writeFile(file, 'correct horse\r\n', { mode: 0o600 })
    await cli.json(['put', 'k', '1', '--passphrase-file', file])
    assert.deepEqual(await cli.json(['get', 'k'], { env: { ORBIT_ACCOUNT_PASSPHRASE: 'correct horse' } }), { key: 'k', value: 1, found: true })
    assert.equal((await cli.fail(['get', 'k'], { env: { ORBIT_ACCOUNT_PASSPHRASE: 'correct horse ' } })).code, 'WRONG_PASSPHRASE')
  })
})

describe('new user: with a daemon', function () {
  this.timeout(120_000)
  let cli: Sandbox
  beforeEach(async () => { cli = await Sandbox.create() })
  afterEach(async () => { await cli.cleanup() })

  it('a 10 MB value is VALUE_TOO_LARGE; a bad --listen is INVALID_ARGUMENT; del of an unset key tells watch nothing; watch outlives the daemon', async () => {
    await cli.json(['create', '--name', 'laptop'])
    const { daemon } = await cli.startDaemon()
    const huge = await cli.fail(['put', 'k', '-'], { input: JSON.stringify('z'.repeat(10 * 1024 * 1024)) })
    assert.equal(huge.code, 'VALUE_TOO_LARGE', huge.message)
    const listen = await cli.fail(['daemon', '--listen', 'notamultiaddr'])
    assert.deepEqual([listen.exit, listen.code], [2, 'INVALID_ARGUMENT'], listen.message)

    const watch = cli.spawn(['watch'])
    await watch.waitForLine('stderr', (l) => l.startsWith('watching '), 20_000)
    await cli.json(['put', 'a', '1'])
    assert.deepEqual(await cli.json(['del', 'never-set']), { key: 'never-set', deleted: false })
    await cli.json(['del', 'a'])
    const seen = (await watch.waitForLines('stdout', 2, 20_000)).map((l) => JSON.parse(l) as JsonObject)
    assert.deepEqual(seen, [{ key: 'a', value: 1, op: 'put' }, { key: 'a', value: null, op: 'del' }])

    // Item 5: the daemon stops; watch says so and goes on with the store opened itself.
    daemon.proc.kill('SIGTERM')
    assert.deepEqual(await daemon.waitForExit(15_000), { code: 0, signal: null })
    await watch.waitForLine('stderr', (l) => /the daemon stopped/.test(l), 15_000)
    await watch.waitForLine('stderr', (l) => l.startsWith('watching ') && watch.lines.stderr.filter((x) => x.startsWith('watching ')).length === 2, 30_000)
    assert.equal(watch.running, true, watch.describe())
    assert.ok(!watch.lines.stderr.some((l) => /PROTOCOL_ERROR|"error"/.test(l)), watch.describe())
    await cli.json(['put', 'after', '"the daemon"'])
    const line = await watch.waitForLine('stdout', (l) => l.includes('"after"'), 20_000)
    assert.deepEqual(JSON.parse(line), { key: 'after', value: 'the daemon', op: 'put' })
    assert.deepEqual(await watch.stop(), { code: 0, signal: null })
  })
})

describe('README: the error codes', function () {
  it('lists every code the sources can emit', async () => {
    const errors = await readFile(join(REPO, 'src/errors.ts'), 'utf8')
    const union = /export type ErrorCode =([^]*?)\n\n/.exec(errors)?.[1] ?? ''
    const codes = [...union.matchAll(/'([A-Z_]+)'/g)].map((m) => m[1] as string)
    assert.ok(codes.length > 20 && codes.includes('DEVICE_REVOKED'), `codes: ${codes.join(', ')}`)
    const readme = await readFile(join(REPO, 'README.md'), 'utf8')
    const list = /\*\*Error codes\*\*([^]*?)\n\n/.exec(readme)?.[1] ?? ''
    const missing = codes.filter((c) => !list.includes(`\`${c}\``))
    assert.deepEqual(missing, [], 'codes missing from the README error-code list')
  })
})
