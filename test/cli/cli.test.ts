/**
 * The `orbit-account` CLI without a daemon (DESIGN.md "CLI contract"): every command
 * opens the store itself and exits; --json output is one JSON object per line, errors
 * are {"error":{"code","message"}} on stderr with a non-zero exit.
 */
import assert from 'node:assert/strict'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Sandbox, type JsonObject } from './helpers.ts'

const DEVICE_ID = /^d[a-z2-7]{24}$/

describe('orbit-account CLI without a daemon', function () {
  this.timeout(150_000)
  let cli: Sandbox
  beforeEach(async () => { cli = await Sandbox.create() })
  afterEach(async () => { await cli.cleanup() })

  it('create prints the new account; status and devices describe it', async () => {
    const created = await cli.json(['create', '--name', 'laptop'])
    const { account, device, recovery } = created
    assert.ok(typeof account === 'string' && account.startsWith('/orbitdb/'), `account address: ${String(account)}`)
    assert.ok(typeof device === 'string' && DEVICE_ID.test(device), `device id: ${String(device)}`)
    assert.ok(typeof recovery === 'string' && /^([a-z]+ ){23}[a-z]+$/.test(recovery), `recovery words: ${String(recovery)}`)
    assert.deepEqual(created, { account, device, name: 'laptop', mode: 'encrypted', epoch: 0, recovery })

    assert.deepEqual(await cli.json(['status']), { account, device, name: 'laptop', status: 'active', mode: 'encrypted', epoch: 0, peers: [] })
    assert.deepEqual(await cli.json(['devices']), {
      device: created.device,
      devices: [{ device, name: 'laptop', role: 'admin', status: 'active', addedBy: null }]
    })
  })

  it('put, get, del and list read and write values that survive across processes', async () => {
    await cli.json(['create', '--name', 'laptop'])
    assert.deepEqual(await cli.json(['put', 'greeting', '{"hello":"world"}']), { key: 'greeting', value: { hello: 'world' } })
    assert.deepEqual(await cli.json(['get', 'greeting']), { key: 'greeting', value: { hello: 'world' }, found: true })
    assert.deepEqual(await cli.json(['get', 'missing']), { key: 'missing', value: null, found: false })

    assert.deepEqual(await cli.json(['put', 'apple', '1']), { key: 'apple', value: 1 })
    assert.deepEqual(await cli.json(['put', 'avocado', '["green",true,null]']), { key: 'avocado', value: ['green', true, null] })
    assert.deepEqual(await cli.json(['put', 'banana', '"yellow"']), { key: 'banana', value: 'yellow' })
    assert.deepEqual(await cli.json(['list']), {
      entries: { greeting: { hello: 'world' }, apple: 1, avocado: ['green', true, null], banana: 'yellow' }
    })
    assert.deepEqual(await cli.json(['list', '--prefix', 'a']), { entries: { apple: 1, avocado: ['green', true, null] } })

    assert.deepEqual(await cli.json(['del', 'greeting']), { key: 'greeting', deleted: true })
    assert.deepEqual(await cli.json(['get', 'greeting']), { key: 'greeting', value: null, found: false })
    assert.deepEqual(await cli.json(['list', '--prefix', 'g']), { entries: {} })
  })

  it('a checkpoint damaged on disk: a read with no daemon answers from the log all the same, and the next one from a whole checkpoint again', async () => {
    await cli.json(['create', '--name', 'laptop'])
    const value = { text: 'x'.repeat(200) }
    for (const key of ['a', 'b', 'c']) await cli.json(['put', key, JSON.stringify(value)])
    const state = join(cli.dir, 'state')
    const file = join(state, (await readdir(state)).find((f) => f.startsWith('log-')) as string)
    const bytes = await readFile(file)
    // A byte of the first value (the tail's start: src/node/state-files.ts): the head (the keys) still opens, the value's part does not.
    const headLength = bytes.readUInt32BE(4)
    const tailLength = bytes.readUInt32BE(8)
    const tailAt = 40 + headLength + 32 * Math.ceil(tailLength / 65536) + 32
    bytes.writeUInt8((bytes.at(tailAt + 3) as number) ^ 0xff, tailAt + 3)
    await writeFile(file, bytes)
    assert.deepEqual(await cli.json(['get', 'c']), { key: 'c', value, found: true })
    assert.notDeepEqual(await readFile(file), bytes, 'a new checkpoint was written')
    assert.deepEqual(await cli.json(['list']), { entries: { a: value, b: value, c: value } })
  })

  it('put <key> - reads the JSON value from stdin', async () => {
    await cli.json(['create', '--name', 'laptop'])
    const value = { text: 'line 1\nline 2 "quoted" ✓', n: [1, 2.5, -3] }
    assert.deepEqual(await cli.json(['put', 'note', '-'], { input: JSON.stringify(value, null, 2) + '\n' }), { key: 'note', value })
    assert.deepEqual(await cli.json(['get', 'note']), { key: 'note', value, found: true })
  })

  it('create --mode public makes a public account', async () => {
    const created = await cli.json(['create', '--name', 'server', '--mode', 'public'])
    assert.equal(created.mode, 'public')
    assert.equal(created.name, 'server')
    const status = await cli.json(['status'])
    assert.deepEqual(status, { account: created.account, device: created.device, name: 'server', status: 'active', mode: 'public', epoch: 0, peers: [] })
  })
})

describe('orbit-account CLI on bad input', function () {
  this.timeout(60_000)
  let cli: Sandbox
  beforeEach(async () => { cli = await Sandbox.create() })
  afterEach(async () => { await cli.cleanup() })

  /** Runs a command that must fail with `code`. */
  const failsWith = async (args: string[], code: string, options: { input?: string, noDir?: boolean } = {}): Promise<string> => {
    const err = await cli.fail(args, options)
    assert.equal(err.code, code, `orbit-account ${args.join(' ')}: ${err.message}`)
    return err.message
  }

  it('rejects bad command lines before touching the directory', async () => {
    await failsWith([], 'INVALID_ARGUMENT')
    assert.match(await failsWith(['frobnicate'], 'INVALID_ARGUMENT'), /unknown command 'frobnicate'/)
    await failsWith(['get'], 'INVALID_ARGUMENT')
    await failsWith(['put', 'k'], 'INVALID_ARGUMENT')
    await failsWith(['get', 'a', 'b'], 'INVALID_ARGUMENT')
    await failsWith(['list', '--bogus'], 'INVALID_ARGUMENT')
    await failsWith(['get', 'k', '--prefix', 'x'], 'INVALID_ARGUMENT')
    assert.match(await failsWith(['create'], 'INVALID_ARGUMENT'), /--name/)
    assert.match(await failsWith(['create', '--name', 'laptop', '--mode', 'bogus'], 'INVALID_ARGUMENT'), /bogus/)
    assert.match(await failsWith(['serve', '/orbitdb/zdpuAnything', '--swarm-key', 'abc'], 'INVALID_ARGUMENT'), /64 hex/)
    // None of these created anything.
    assert.deepEqual(await readdir(cli.root), [])
  })

  it('reports NO_ACCOUNT for a store command in a directory without an account', async () => {
    for (const args of [['get', 'k'], ['put', 'k', '1'], ['list'], ['status'], ['devices']]) {
      assert.match(await failsWith(args, 'NO_ACCOUNT'), /no account/)
    }
  })

  it('invite and revoke need an account, join a valid invite, serve an account address', async () => {
    await failsWith(['invite'], 'NO_ACCOUNT')
    await failsWith(['join', 'x', '--name', 'p'], 'INVALID_INVITE')
    await failsWith(['join', 'x'], 'INVALID_ARGUMENT')
    await failsWith(['revoke', 'x'], 'NO_ACCOUNT')
    await failsWith(['serve', 'x'], 'INVALID_ARGUMENT')
  })

  it('refuses bad keys and values, and a second create, leaving the account intact', async () => {
    const created = await cli.json(['create', '--name', 'laptop'])
    await cli.json(['put', 'k', '{"kept":true}'])
    const before: JsonObject = { entries: { k: { kept: true } } }

    assert.match(await failsWith(['create', '--name', 'other'], 'ACCOUNT_EXISTS'), /already exists/)
    await failsWith(['put', 'k', '{not json'], 'INVALID_JSON')
    await failsWith(['put', 'k', 'hello'], 'INVALID_JSON')
    await failsWith(['put', 'k', '-'], 'INVALID_JSON', { input: '' })
    await failsWith(['put', 'k'], 'INVALID_ARGUMENT')
    await failsWith(['get', ''], 'INVALID_ARGUMENT')
    await failsWith(['put', '', '1'], 'INVALID_ARGUMENT')
    await failsWith(['del', ''], 'INVALID_ARGUMENT')
    await failsWith(['put', 'k', '1', '--bogus'], 'INVALID_ARGUMENT')
    assert.match(await failsWith(['swarm-key'], 'INVALID_OPERATION'), /private/)
    await failsWith(['revoke', 'laptop'], 'NOT_AUTHORIZED')
    await failsWith(['revoke', 'nobody'], 'UNKNOWN_DEVICE')
    // 256 KiB of JSON is the limit: a string of 256 KiB is 2 bytes over it (its quotes).
    await failsWith(['put', 'k', '-'], 'VALUE_TOO_LARGE', { input: JSON.stringify('x'.repeat(256 * 1024)) })

    assert.deepEqual(await cli.json(['list']), before)
    assert.equal((await cli.json(['status'])).account, created.account)
  })
})

describe('orbit-account CLI without --json', function () {
  this.timeout(60_000)
  let cli: Sandbox
  beforeEach(async () => { cli = await Sandbox.create() })
  afterEach(async () => { await cli.cleanup() })

  it('prints short text for a person, and errors as "error: ... (CODE)" on stderr', async () => {
    const noAccount = await cli.run(['get', 'k'], { human: true })
    assert.notEqual(noAccount.code, 0)
    assert.equal(noAccount.stdout, '')
    assert.match(noAccount.stderr, /^error: no account in .+ \(NO_ACCOUNT\)\n$/)

    const usage = await cli.run(['frobnicate'], { human: true })
    assert.notEqual(usage.code, 0)
    assert.match(usage.stderr, /^error: unknown command 'frobnicate'[^]*\(INVALID_ARGUMENT\)\n$/)

    const created = await cli.run(['create', '--name', 'laptop'], { human: true })
    assert.equal(created.code, 0, created.stderr)
    assert.match(created.stdout, /^created account \/orbitdb\/\S+\n {2}device d[a-z2-7]{24} \(laptop\), mode encrypted, epoch 0\n\nRECOVERY WORDS: write them down now[^]* 1\. [a-z]+ [^]*24\. [a-z]+\n$/)

    const put = await cli.run(['put', 'greeting', '{"hello":"world"}'], { human: true })
    assert.equal(put.code, 0, put.stderr)
    assert.equal(put.stdout, 'greeting = {"hello":"world"}\n')

    const get = await cli.run(['get', 'greeting'], { human: true })
    assert.equal(get.code, 0, get.stderr)
    assert.equal(get.stdout, '{"hello":"world"}\n')
  })
})
