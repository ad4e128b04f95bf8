/**
 * `npm run demo`: an account created and used on one device, through the real CLI and a
 * real daemon, in a throw-away directory. Every step prints the command and its answer.
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.ts')
const dir = await mkdtemp(join(tmpdir(), 'orbit-account-demo-'))
const bold = (s: string): string => process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s
const dim = (s: string): string => process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s

const run = (title: string, args: string[], options: { input?: string, expectError?: boolean } = {}): string => {
  console.log(`\n${bold(title)}\n${dim('$ orbit-account ' + args.map((a) => /[\s{}"']/.test(a) ? `'${a}'` : a).join(' '))}`)
  const started = Date.now()
  const r = spawnSync(process.execPath, [cli, ...args, '--dir', dir], { encoding: 'utf8', input: options.input })
  process.stdout.write(r.stdout)
  if (r.stderr !== '') process.stdout.write(dim(r.stderr))
  console.log(dim(`(${Date.now() - started} ms, exit ${String(r.status)})`))
  if ((r.status !== 0) !== (options.expectError === true)) throw new Error(`step failed: ${title}`)
  return r.stdout
}

console.log(bold('orbit-account demo: one device'))
console.log(`account directory: ${dir}`)
let daemon: ReturnType<typeof spawn> | undefined
try {
  run('1. Create an account on this laptop (encrypted by default)', ['create', '--name', 'laptop'])
  run('2. Write app state with no daemon running: the command opens the store itself', ['put', 'settings/theme', '"dark"'])
  run('   Values are JSON', ['put', 'todo/1', '{"title":"buy milk","done":false}'])
  run('   ... also from stdin', ['put', 'todo/2', '-'], { input: '{"title":"call mum","done":true}' })

  console.log(`\n${bold('3. Start the daemon (loopback only in this demo)')}`)
  console.log(dim('$ orbit-account daemon --listen /ip4/127.0.0.1/tcp/0 --json'))
  daemon = spawn(process.execPath, [cli, 'daemon', '--listen', '/ip4/127.0.0.1/tcp/0', '--json', '--dir', dir], { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines = createInterface({ input: daemon.stdout as NodeJS.ReadableStream })
  const ready = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('daemon did not start in 20 s')), 20_000)
    lines.once('line', (line) => { clearTimeout(timer); resolve(line) })
  })
  console.log(ready)

  const watcher = spawn(process.execPath, [cli, 'watch', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] })
  const watched: string[] = []
  createInterface({ input: watcher.stdout as NodeJS.ReadableStream }).on('line', (l) => watched.push(l))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('watch did not start in 10 s')), 10_000)
    createInterface({ input: watcher.stderr as NodeJS.ReadableStream }).once('line', () => { clearTimeout(timer); resolve() })
  })

  run('4. Commands now go through the daemon over its owner-only socket (fast: no libp2p in the client)', ['get', 'settings/theme'])
  run('   ', ['put', 'todo/1', '{"title":"buy milk","done":true}'])
  run('   ', ['del', 'todo/2'])
  run('   ', ['list', '--prefix', 'todo/'])
  run('5. Devices in the account: this laptop is the founder and an admin', ['devices'])
  run('6. Status', ['status'])
  await new Promise((resolve) => setTimeout(resolve, 300))
  console.log(`\n${bold('7. Meanwhile `orbit-account watch` saw every change:')}`)
  for (const l of watched) console.log(`  ${l}`)
  watcher.kill('SIGINT')

  run('8. Bad input gets a clear error and changes nothing', ['put', 'x', '{not json', '--json'], { expectError: true })
  daemon.kill('SIGTERM')
  await new Promise((resolve) => daemon?.once('exit', resolve))
  daemon = undefined
  run('9. The daemon is stopped; the values are still there, read from disk', ['list', '--json'])
  console.log(`\n${bold('Done.')} Next: ${dim('npm test')} runs the test suite; README.md explains the CLI and the threat model.`)
} finally {
  daemon?.kill('SIGKILL')
  await rm(dir, { recursive: true, force: true })
}
