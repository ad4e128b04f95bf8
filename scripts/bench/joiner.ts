/**
 * The new device of the scale section's `sync`, in a process of its own, as it would be
 * on its own machine: `node scripts/bench/joiner.ts <dir> <keys>`. It loads its modules
 * first and prints `READY`; then it reads the invite (one line on stdin), joins, and
 * prints `JOINED {...}` once keys 0..keys-1 are all readable. It stays up (the inviter
 * may still be admitting it) until stdin closes, then closes the account and exits.
 */
import { createInterface } from 'node:readline'
import { joinAccount } from '../../src/node/account-dir.ts'
import { LOOPBACK, now, waitUntil } from './common.ts'
import { hasAllKeys } from './harness.ts'

const [dir, keysText] = process.argv.slice(2) as [string, string]
const keys = Number(keysText)
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
process.stdout.write('READY\n')
const first = await lines.next()
if (first.done === true) process.exit(1)
const t0 = now()
const b = await joinAccount({ dir, invite: first.value, name: 'b', listen: LOOPBACK })
try {
  const joinReturnedMs = now() - t0
  await waitUntil(hasAllKeys(b, keys), 600_000, 'all keys on the new device', 5)
  process.stdout.write(`JOINED ${JSON.stringify({ joinReturnedMs, newDeviceMs: now() - t0 })}\n`)
  // Until the inviter is done with it: stdin closes.
  while ((await lines.next()).done !== true) { /* nothing more is asked */ }
} finally {
  await b.close()
}
process.exit(0)
