/**
 * Recovery words through the CLI (real processes): `create` shows them once, `recover`
 * reads them on stdin (never argv) and brings the account to a new --dir from a peer,
 * `recovery rotate` replaces them, and wrong words are clear errors that write nothing.
 */
import assert from 'node:assert/strict'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { Sandbox, type JsonObject, type RunOptions } from './helpers.ts'

/** A command that must fail: its last stderr line is the JSON error (progress notes come before it). */
const failed = async (cli: Sandbox, args: string[], options: RunOptions): Promise<string> => {
  const r = await cli.run(args, options)
  assert.equal(r.code, 1, `${args.join(' ')} should fail with exit 1: ${r.stderr}`)
  assert.equal(r.stdout, '')
  const last = r.stderr.trim().split('\n').pop() ?? ''
  return String((JSON.parse(last) as { error: { code: string } }).error.code)
}

describe('orbit-account CLI: recovery words', function () {
  this.timeout(180_000)
  let cli: Sandbox
  beforeEach(async () => { cli = await Sandbox.create() })
  afterEach(async () => { await cli.cleanup() })

  it('create shows the words (none with --no-recovery); recover on a new machine with the words on stdin; recovery rotate; wrong words write nothing', async () => {
    const created = await cli.json(['create', '--name', 'laptop'])
    const words = String(created.recovery)
    assert.equal(words.split(' ').length, 24)
    await cli.json(['put', 'bank/pin', '"1234"'])
    const { daemon, ready } = await cli.startDaemon()
    const peer = `${String((ready.addrs as string[])[0])}`
    const fresh = join(cli.root, 'fresh')

    // Typed as a person may: capitals, spaces and a line break.
    const typed = `${words.split(' ').slice(0, 12).join('   ').toUpperCase()}\n${words.split(' ').slice(12).join(' ')}\n`
    const recovered = await cli.json(['recover', String(created.account), '--name', 'fresh', '--peer', peer, '--dir', fresh], { noDir: true, input: typed })
    assert.deepEqual(Object.keys(recovered).sort(), ['account', 'device', 'epoch', 'name'])
    assert.equal(recovered.account, created.account)
    assert.equal(recovered.name, 'fresh')
    // The new device is an admin of the account, and reads its data (through the laptop's daemon).
    const devices = await cli.json(['devices'])
    const listed = (devices.devices as JsonObject[]).map((d) => [d.name, d.role, d.status])
    assert.deepEqual(listed, [['laptop', 'admin', 'active'], ['fresh', 'admin', 'active']])
    assert.deepEqual(await cli.json(['get', 'bank/pin', '--dir', fresh], { noDir: true }), { key: 'bank/pin', value: '1234', found: true })

    // Rotate the words through the laptop's daemon: the current words on stdin, new words shown once.
    const rotated = await cli.json(['recovery', 'rotate'], { input: words + '\n' })
    const next = String(rotated.recovery)
    assert.equal(next.split(' ').length, 24)
    assert.notEqual(next, words)
    // The old words now belong to no account's current key: nothing written.
    const other = join(cli.root, 'other')
    assert.equal(await failed(cli, ['recover', String(created.account), '--name', 'old', '--peer', peer, '--dir', other], { noDir: true, input: words }), 'WRONG_RECOVERY_WORDS')
    assert.deepEqual((await readdir(other).catch(() => [] as string[])).filter((f) => f === 'keys.json' || f === 'account.json'), [])
    // A wrong word, and a checksum that fails: clear errors before anything starts.
    const list = words.split(' ')
    const bad = await cli.fail(['recover', String(created.account), '--name', 'x', '--dir', other], { noDir: true, input: [...list.slice(0, 23), 'notaword'].join(' ') })
    assert.equal(bad.code, 'INVALID_RECOVERY_WORDS')
    const swapped = [...list.slice(0, 22), list[23], list[22]].join(' ')
    if (swapped !== words) {
      assert.equal((await cli.fail(['recover', String(created.account), '--name', 'x', '--dir', other], { noDir: true, input: swapped })).code, 'INVALID_RECOVERY_WORDS')
    }
    // A second `recovery add` is refused: the account has words.
    assert.equal((await cli.fail(['recovery', 'add'])).code, 'NOT_AUTHORIZED')
    await daemon.stop()

    const bare = await Sandbox.create()
    try {
      const none = await bare.json(['create', '--name', 'laptop', '--no-recovery'])
      assert.equal(none.recovery, undefined)
      const added = await bare.json(['recovery', 'add'])
      assert.equal(String(added.recovery).split(' ').length, 24)
    } finally {
      await bare.cleanup()
    }
  })
})
