/**
 * `orbit-account import` (issue #16): a JSON object of keys to values, from a file or
 * stdin, written as one batch, with no daemon and through one; input that is not a JSON
 * object, or holds a bad key, is refused (exit 2) and nothing of it is written. Real
 * processes, loopback only.
 */
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Sandbox } from './helpers.ts'

describe('cli: import', function () {
  this.timeout(240_000)
  let box: Sandbox
  beforeEach(async () => { box = await Sandbox.create() })
  afterEach(async () => { await box.cleanup() })

  const file = async (name: string, text: string): Promise<string> => {
    const path = join(box.root, name)
    await writeFile(path, text)
    return path
  }

  /** Imports from a file, from `-` and from stdin with no argument; each then reads back. */
  const importsAll = async (how: string): Promise<void> => {
    const path = await file(`${how}.json`, JSON.stringify({ [`${how}/theme`]: 'dark', [`${how}/size`]: { w: 3, h: [1, 2] }, [`${how}/none`]: null }))
    assert.deepEqual(await box.json(['import', path]), { imported: 3 }, how)
    assert.deepEqual(await box.json(['import', '-'], { input: JSON.stringify({ [`${how}/stdin`]: 1 }) }), { imported: 1 }, how)
    assert.deepEqual(await box.json(['import'], { input: `{"${how}/piped": "yes"}\n` }), { imported: 1 }, how)
    assert.deepEqual(await box.json(['get', `${how}/size`]), { key: `${how}/size`, value: { w: 3, h: [1, 2] }, found: true }, how)
    assert.deepEqual(await box.json(['get', `${how}/none`]), { key: `${how}/none`, value: null, found: true }, how)
    const list = await box.json(['list', '--prefix', `${how}/`])
    assert.deepEqual(Object.keys(list.entries as object).sort(), ['none', 'piped', 'size', 'stdin', 'theme'].map((k) => `${how}/${k}`), how)
  }

  /** Bad imports: a typed error, and none of the good keys beside the bad part written. */
  const refusesAll = async (how: string): Promise<void> => {
    const bad: Array<{ what: string, args: string[], input?: string, code: string, exit: number }> = [
      { what: 'not JSON', args: ['import', await file('bad.json', '{"ok/a": 1,')], code: 'INVALID_ARGUMENT', exit: 2 },
      { what: 'an array', args: ['import', '-'], input: '[{"ok/b": 1}]', code: 'INVALID_ARGUMENT', exit: 2 },
      { what: 'a string', args: ['import', '-'], input: '"ok/c"', code: 'INVALID_ARGUMENT', exit: 2 },
      { what: 'an empty key', args: ['import', '-'], input: '{"ok/d": 1, "": 2}', code: 'INVALID_ARGUMENT', exit: 2 },
      { what: 'a missing file', args: ['import', join(box.root, 'nope.json')], code: 'INVALID_ARGUMENT', exit: 2 },
      { what: 'a value JSON cannot hold', args: ['import', '-'], input: '{"ok/e": 1, "x": 1e999}', code: 'INVALID_JSON', exit: 1 }
    ]
    for (const b of bad) {
      const err = await box.fail(b.args, b.input !== undefined ? { input: b.input } : {})
      assert.equal(err.code, b.code, `${how}, ${b.what}: ${err.message}`)
      assert.equal(err.exit, b.exit, `${how}, ${b.what}`)
    }
    assert.deepEqual((await box.json(['list', '--prefix', 'ok/'])).entries, {}, `${how}: part of a refused import was written`)
  }

  it('imports from a file and from stdin, with no daemon and through a daemon; refuses bad input whole', async () => {
    await box.json(['create', '--name', 'laptop', '--no-recovery'])
    await importsAll('local')
    await refusesAll('no daemon')
    const human = await box.run(['import', '-'], { input: '{"local/human": 1}', human: true })
    assert.equal(human.code, 0, human.stderr)
    assert.match(human.stdout, /^imported 1 key\b/)

    const { daemon } = await box.startDaemon()
    await importsAll('daemon')
    await refusesAll('through the daemon')
    // A larger import through the daemon's socket: several batch parts, all there.
    const many: Record<string, string> = {}
    for (let i = 0; i < 2000; i++) many[`many/${i}`] = 'v'.repeat(500)
    assert.deepEqual(await box.json(['import', await file('many.json', JSON.stringify(many))]), { imported: 2000 })
    assert.equal(Object.keys((await box.json(['list', '--prefix', 'many/'])).entries as object).length, 2000)
    assert.equal(daemon.running, true, daemon.describe())
  })
})
