/**
 * Commands that open the store in this process: the daemon, and any command when no
 * daemon runs. A process that stays up (daemon, watch, invite) serves the socket so
 * other commands reach the store through it.
 */
import { parseSwarmKey } from '../network/swarm-guard.ts'
import type { ParsedArgs } from './args.ts'
import type { Output } from './output.ts'
import type { Frame, Question, Request } from '../daemon/protocol.ts'
import { openAccount, type NodeAccount } from '../node/account-dir.ts'
import { serveSocket } from '../daemon/server.ts'
import { execute } from '../daemon/commands.ts'
import { readPassphrase } from '../../identity/keystore-fs.ts'
import { accountPaths } from '../node/paths.ts'
import { listenAddrsToRemember, readNetworkMemory, rememberListen, rememberPeers } from '../node/network-memory.ts'
import { isOrbitAccountError } from '../errors.ts'
import { multiaddr } from '@multiformats/multiaddr'

/** Where a node listens unless told otherwise: every interface, fresh ports (then remembered). */
export const DEFAULT_LISTEN = ['/ip4/0.0.0.0/tcp/0', '/ip4/0.0.0.0/tcp/0/ws']
/** How often a daemon dials remembered peers it is not connected to. */
const REDIAL_MS = 15_000
/** How long a one-shot command gives the peers it knows to sync. */
const BRIEF_SYNC_MS = 3000

export const passphraseOf = async (args: ParsedArgs): Promise<string | undefined> =>
  await readPassphrase(args.passphraseFile !== undefined ? { passphraseFile: args.passphraseFile } : {})

/** Resolves on SIGINT/SIGTERM. */
export const untilSignal = async (): Promise<void> => await new Promise((resolve) => {
  process.once('SIGINT', () => resolve())
  process.once('SIGTERM', () => resolve())
})

export const frameWriter = (args: ParsedArgs, out: Output) => (frame: Frame): void => {
  if ('out' in frame) out.result(args.command, frame.out)
  else if ('note' in frame) out.note(frame.note)
}

/** Opens the account; a node that stays up listens (on remembered ports when it can). */
const open = async (args: ParsedArgs, dir: string, out: Output, stays: boolean): Promise<{ account: NodeAccount, peers: string[] }> => {
  const passphrase = await passphraseOf(args)
  const memoryPath = accountPaths(dir).peers
  const memory = await readNetworkMemory(memoryPath)
  const given = args.options.listen as string[] | undefined
  const listen = !stays ? [] : given ?? (memory.listen.length > 0 ? memory.listen : DEFAULT_LISTEN)
  const swarmText = args.options['swarm-key'] as string | undefined
  const swarmKey = swarmText !== undefined ? parseSwarmKey(swarmText) : undefined
  const openOn = async (addrs: string[]): Promise<NodeAccount> =>
    await openAccount({ dir, listen: addrs, role: stays ? 'daemon' : 'command', ...(passphrase !== undefined ? { passphrase } : {}), ...(swarmKey !== undefined ? { swarmKey } : {}) })
  let account: NodeAccount
  let used = listen
  try {
    account = await openOn(listen)
  } catch (err) {
    // A remembered port may be taken now: fall back to fresh ports.
    if (given !== undefined || listen !== memory.listen || isOrbitAccountError(err)) throw err
    out.note(`could not listen on ${memory.listen.join(', ')} (${(err as Error).message}); using new ports`)
    // Same interfaces, new ports: a device kept on loopback stays on loopback.
    used = memory.listen.map((a) => a.replace(/\/tcp\/\d+/, '/tcp/0'))
    account = await openOn(used)
  }
  if (stays) await rememberListen(memoryPath, listenAddrsToRemember(used, account.addrs()))
  const extra = (args.options.peer as string[] | undefined) ?? []
  for (const p of extra) {
    try {
      multiaddr(p)
    } catch {
      await account.close()
      const { InvalidArgumentError } = await import('../errors.ts')
      throw new InvalidArgumentError(`--peer ${p} is not a multiaddr (like /ip4/192.168.1.20/tcp/4001/p2p/12D3Koo...)`)
    }
  }
  return { account, peers: [...new Set([...memory.peers, ...extra])] }
}

/** Dials `peers`, waits briefly for them to sync, and remembers those that answered. */
const reach = async (account: NodeAccount, peers: string[], out: Output, ms: number): Promise<void> => {
  if (peers.length === 0) return
  const reached = await account.syncWith(peers, ms)
  if (reached.length === 0) {
    out.note(`none of the ${peers.length} known peer address(es) answered; working offline` + (account.swarm() === undefined ? '' : '. ' +
      'In a private account, that is also what a swarm key replaced by a revocation while this device was away looks like: ' +
      'run `orbit-account swarm-key` on another device and start this one with `--swarm-key <hex>`'))
  }
  await rememberPeers(account.paths.peers, peers.filter((p) => reached.some((id) => p.endsWith(`/p2p/${id}`))))
}

/** The daemon: serves the socket and the network until SIGINT/SIGTERM. */
export const runDaemon = async (args: ParsedArgs, dir: string, out: Output): Promise<void> => {
  const { account, peers } = await open(args, dir, out, true)
  try {
    const server = await serveSocket(account, account.paths.socket)
    await reach(account, peers, out, 10_000)
    // Listen for signals before saying ready: a SIGTERM right after must still shut down cleanly.
    const stopped = untilSignal()
    out.result('daemon', { ready: true, peerId: account.peerId(), addrs: account.addrs() })
    // Devices come and go: dial the remembered peers that are not connected, now and then.
    const redial = setInterval(() => {
      void readNetworkMemory(account.paths.peers).then(async (memory) => {
        const connected = new Set(account.peers())
        const missing = memory.peers.filter((p) => ![...connected].some((id) => p.endsWith(`/p2p/${id}`)))
        if (missing.length > 0) await account.syncWith(missing, 5000)
      }).catch(() => {})
    }, REDIAL_MS)
    try {
      await stopped
    } finally {
      clearInterval(redial)
      await server.close()
    }
  } finally {
    await account.close()
  }
}

/** Runs one request with the store opened here. */
export const runLocal = async (args: ParsedArgs, dir: string, out: Output, request: Request, ask: (q: Question) => Promise<boolean>): Promise<void> => {
  const stays = request.cmd === 'watch' || request.cmd === 'invite'
  const { account, peers } = await open(args, dir, out, stays)
  const write = frameWriter(args, out)
  try {
    if (stays) {
      // This process holds the store, so it serves the socket for other commands.
      const server = await serveSocket(account, account.paths.socket)
      const stop = new AbortController()
      void untilSignal().then(() => stop.abort())
      try {
        await reach(account, peers, out, BRIEF_SYNC_MS)
        await execute(account, request, write, stop.signal, ask)
      } finally {
        await server.close()
      }
      return
    }
    const writes = request.cmd === 'put' || request.cmd === 'del' || request.cmd === 'revoke'
    if (!writes) await reach(account, peers, out, BRIEF_SYNC_MS)
    await execute(account, request, write)
    if (writes && peers.length > 0) {
      await reach(account, peers, out, BRIEF_SYNC_MS)
      // Give the peers a moment to fetch the new entry from this node before it stops.
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
  } finally {
    await account.close()
  }
}
