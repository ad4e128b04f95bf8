/**
 * The plain counterpart of `orbit-account daemon` start-up: a process that starts the
 * same node, opens plain OrbitDB and its keyvalue database (already in `dir`), listens
 * on loopback and prints `{"ready":true,...}`; it stops on SIGINT/SIGTERM.
 */
import { openPlain } from './plain.ts'
import { LOOPBACK } from './common.ts'

const dir = process.argv[2]
if (dir === undefined) throw new Error('usage: plain-ready.ts <dir>')
const device = await openPlain(dir, LOOPBACK)
process.stdout.write(`${JSON.stringify({ ready: true, peerId: device.node.libp2p.peerId.toString(), addrs: device.addrs() })}\n`)
const stop = (): void => { void device.close().finally(() => process.exit(0)) }
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
