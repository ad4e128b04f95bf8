/**
 * `npm run demo`: a laptop and a phone (two directories, separate processes, real
 * daemons on loopback) sharing one account: create, write, invite with a QR code,
 * join, writes flowing both ways, then the phone is lost and the laptop revokes it.
 * Everything goes through the real CLI.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bold, dim, run, sleep, start, stop, type Running } from './demo-kit.ts'

const root = await mkdtemp(join(tmpdir(), 'orbit-account-demo-'))
const laptopDir = join(root, 'laptop')
const phoneDir = join(root, 'phone')
const LISTEN = ['--listen', '/ip4/127.0.0.1/tcp/0']
const running: Running[] = []

/** Polls `get` (quietly) until the value arrives. */
const waitForValue = async (who: string, dir: string, key: string, expected: unknown): Promise<void> => {
  const deadline = Date.now() + 20_000
  for (;;) {
    const out = run(who, dir, '', ['get', key, '--json'], { quiet: true })
    if (JSON.stringify((JSON.parse(out) as { value: unknown }).value) === JSON.stringify(expected)) return
    if (Date.now() > deadline) throw new Error(`${who} never saw ${key}`)
    await sleep(300)
  }
}

console.log(bold('orbit-account demo: a laptop and a phone, until the phone is lost'))
console.log(`directories: ${laptopDir} and ${phoneDir} (loopback network only)`)
try {
  run('laptop', laptopDir, '1. Create an account on the laptop (encrypted by default)', ['create', '--name', 'laptop'])
  run('laptop', laptopDir, '2. Write app state; with no daemon the command opens the store itself', ['put', 'todo/1', '{"title":"buy milk","done":false}'])
  run('laptop', laptopDir, '', ['put', 'settings/theme', '"dark"'])

  console.log(`\n${bold('3. Start the laptop daemon: other commands now go through its owner-only socket')}`)
  const laptop = start('laptop', laptopDir, ['daemon', ...LISTEN, '--json'])
  running.push(laptop)
  console.log(await laptop.next('ready line'))

  console.log(`\n${bold('4. On the laptop: invite a device. This is what the phone scans')}`)
  const invite = start('laptop', laptopDir, ['invite', '--ttl', '5m'])
  running.push(invite)
  const lines: string[] = []
  for (;;) {
    const line = await invite.next('invite')
    lines.push(line)
    if (/^\s*echo \S+ \| orbit-account join - /.test(line)) break
  }
  console.log(lines.join('\n'))
  const text = (lines.at(-1) as string).trim().split(/\s+/)[1] as string

  // The invite goes in on stdin (`join -`): on the command line every user of the machine would see it in `ps`.
  run('phone', phoneDir, '5. On the phone: join with the scanned (or pasted) invite, given on stdin', ['join', '-', '--name', 'phone'], { input: text })
  console.log(dim(`[laptop] ${await invite.next('admission')}`))
  run('phone', phoneDir, '   The phone already has what the laptop wrote before', ['list'])
  run('phone', phoneDir, '   Both devices are in the account', ['devices'])

  console.log(`\n${bold('6. Start the phone daemon: it finds the laptop by the address it remembered')}`)
  const phone = start('phone', phoneDir, ['daemon', ...LISTEN, '--json'])
  running.push(phone)
  console.log(await phone.next('ready line'))

  run('phone', phoneDir, '7. Writes flow both ways: the phone writes...', ['put', 'todo/1', '{"title":"buy milk","done":true}'])
  await waitForValue('laptop', laptopDir, 'todo/1', { title: 'buy milk', done: true })
  run('laptop', laptopDir, '   ...and the laptop reads it', ['get', 'todo/1'])
  run('laptop', laptopDir, '   the laptop writes...', ['put', 'settings/theme', '"light"'])
  await waitForValue('phone', phoneDir, 'settings/theme', 'light')
  run('phone', phoneDir, '   ...and the phone reads it', ['get', 'settings/theme'])
  run('phone', phoneDir, '8. Bad input gets a clear error and changes nothing', ['join', 'OA1NOTANINVITE', '--name', 'x', '--json'], { expectError: true })

  console.log(`\n${bold('9. The phone is lost. The laptop (an admin) revokes it: the group key is rotated into a new epoch')}`)
  console.log(bold('   that the phone holds no key for, and the live data is re-encrypted into it'))
  const revoked = run('laptop', laptopDir, '', ['revoke', 'phone'])
  if (!/^revoked \S+; the account is now in epoch 1$/m.test(revoked)) throw new Error(`unexpected revoke output: ${revoked}`)
  run('laptop', laptopDir, '   The laptop lists the phone as revoked', ['devices'])
  run('laptop', laptopDir, '   and the account is in epoch 1', ['status'])
  run('laptop', laptopDir, '   The laptop writes a new secret...', ['put', 'secrets/wifi', '"correct horse battery staple"'])
  // Before the revocation a write reached the phone in well under a second: give it plenty.
  await sleep(3000)
  const stolen = run('phone', phoneDir, '   ...and the phone, its daemon still running as a thief would keep it, cannot read it (3 s later)', ['get', 'secrets/wifi'])
  if (stolen.includes('correct horse') || !stolen.includes('(secrets/wifi is not set)')) throw new Error(`the revoked phone read the new secret: ${stolen}`)
  const fresh = run('laptop', laptopDir, '   while a fresh check on the laptop shows it', ['get', 'secrets/wifi'])
  if (fresh.trim() !== '"correct horse battery staple"') throw new Error(`the laptop lost the new secret: ${fresh}`)
  console.log(dim('   (what the phone had synced before the revocation stays on it: revocation protects what is written afterwards)'))
  console.log(`\n${bold('Done.')} ${dim('npm test')} runs the test suite; README.md explains the CLI and the threat model.`)
} finally {
  for (const r of running.reverse()) await stop(r)
  await rm(root, { recursive: true, force: true })
}
