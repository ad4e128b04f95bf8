/**
 * Commands that open the store in this process: the daemon, and any command when no
 * daemon runs. A process that stays up (daemon, watch, invite) serves the socket so
 * other commands reach the store through it.
 */
import { swarmKeyOf } from './swarm-key-source.ts'
import type { ParsedArgs } from './args.ts'
import type { Output } from './output.ts'
import type { Frame, Question, Request } from '../daemon/protocol.ts'
import { openAccount, type NodeAccount } from '../node/account-dir.ts'
import { serveSocket } from '../daemon/server.ts'
import { checkCanInvite, deviceStatus, execute, REVOKED_NOTE } from '../daemon/commands.ts'
import { passphraseToOpen } from './passphrase-source.ts'
import { accountPaths } from '../node/paths.ts'
import { listenAddrsToRemember, readNetworkMemory, rememberListen, rememberPeers } from '../node/network-memory.ts'
import { DeviceRevokedError, isOrbitAccountError } from '../errors.ts'
import { multiaddr } from '@multiformats/multiaddr'
import { isWebRTCDirect } from '../network/webrtc-direct.ts'

/**
 * Where a node listens unless told otherwise: every interface, fresh ports (then
 * remembered); TCP for Node devices, WebSockets and WebRTC-direct for browsers too (a
 * private account's node leaves WebRTC-direct out: see src/network/node.ts).
 */
export const DEFAULT_LISTEN = ['/ip4/0.0.0.0/tcp/0', '/ip4/0.0.0.0/tcp/0/ws', '/ip4/0.0.0.0/udp/0/webrtc-direct']
/** How often a daemon dials remembered peers it is not connected to. */
const REDIAL_MS = 15_000
/** How long a one-shot command gives the peers it knows to sync. */
const BRIEF_SYNC_MS = 3000
/** The longest a one-shot `invite` stays, once it admitted a device, for that device to sync. */
const JOINER_SYNC_MS = 120_000
/** How often a daemon looks whether this device was revoked. */
const REVOKED_CHECK_MS = 1000

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
  // Only a daemon is given a swarm key by hand (a device that was away during a revocation).
  const swarmKey = args.command === 'daemon' ? await swarmKeyOf(args) : undefined
  const passphrase = await passphraseToOpen(args, dir)
  const memoryPath = accountPaths(dir).peers
  const memory = await readNetworkMemory(memoryPath)
  const given = args.options.listen as string[] | undefined
  const listen = !stays ? [] : given ?? (memory.listen.length > 0 ? memory.listen : DEFAULT_LISTEN)
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
    used = memory.listen.map((a) => a.replace(/\/(tcp|udp)\/\d+/, '/$1/0'))
    account = await openOn(used)
  }
  if (stays) await rememberListen(memoryPath, listenAddrsToRemember(used, account.addrs()))
  if (given?.some(isWebRTCDirect) === true && account.swarm() !== undefined) {
    out.note('a private account does not listen on WebRTC-direct (its connections would skip the swarm key); Node devices reach it over TCP or WebSockets')
  }
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
      'run `orbit-account swarm-key` on another device and start this one\'s daemon with the key in `--swarm-key-file <file>` (or $ORBIT_ACCOUNT_SWARM_KEY, or `--swarm-key -` on stdin)'))
  }
  await rememberPeers(account.paths.peers, peers.filter((p) => reached.some((id) => p.endsWith(`/p2p/${id}`))))
}

/** Says once (on stderr) that this device was revoked, when it learns it; returns a stop function. */
const tellRevokedOnce = (account: NodeAccount, out: Output): () => void => {
  const check = (): boolean => {
    if (deviceStatus(account) !== 'revoked') return false
    out.note(REVOKED_NOTE)
    clearInterval(timer)
    return true
  }
  const timer = setInterval(check, REVOKED_CHECK_MS)
  check()
  return () => clearInterval(timer)
}

/** Peer ids named in multiaddrs (…/p2p/<id>). */
const peerIdsOf = (addrs: string[]): string[] => addrs.map((a) => /\/p2p\/([^/]+)$/.exec(a)?.[1]).filter((p): p is string => p !== undefined)

/**
 * Watches for the device an invite admits: the peers new to this account (not
 * remembered, not connected before the invite) that sync its registry. `untilSynced`
 * resolves once such a peer came and every one of them left again (a joining device
 * stops its node when it has synced), or after `ms`, or on `signal`.
 */
const watchJoiner = (account: NodeAccount, known: Set<string>): { untilSynced: (ms: number, signal: AbortSignal) => Promise<boolean>, stop: () => void } => {
  const fresh = new Set<string>()
  const stop = account.onSync((peerId) => { if (!known.has(peerId)) fresh.add(peerId) })
  return {
    stop,
    untilSynced: async (ms, signal) => {
      const deadline = Date.now() + ms
      while (!signal.aborted && Date.now() < deadline) {
        const connected = new Set(account.peers())
        if (fresh.size > 0 && [...fresh].every((p) => !connected.has(p))) return true
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      return false
    }
  }
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
    const stopTelling = tellRevokedOnce(account, out)
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
      stopTelling()
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
      if (request.cmd === 'invite') {
        if (deviceStatus(account) === 'revoked') throw new DeviceRevokedError(REVOKED_NOTE)
        checkCanInvite(account)
      }
      const server = await serveSocket(account, account.paths.socket)
      const stop = new AbortController()
      void untilSignal().then(() => stop.abort())
      try {
        await reach(account, peers, out, BRIEF_SYNC_MS)
        if (request.cmd !== 'invite') {
          await execute(account, request, write, stop.signal, ask)
          return
        }
        if (request.detach === true) {
          await execute(account, request, write, stop.signal, ask)
          // Give the peers a moment to fetch the invitation from this node before it stops.
          if (account.peers().length > 0) await new Promise((resolve) => setTimeout(resolve, 500))
          out.note('detached: no daemon runs here, so the invite is answered once `orbit-account daemon` runs here (it listens on the ports this command used, which it remembers), until it expires')
          return
        }
        // The new device syncs from this process: it stays until that is done.
        const joiner = watchJoiner(account, new Set([...peerIdsOf(peers), ...account.peers()]))
        try {
          await execute(account, request, write, stop.signal, ask)
          out.note('waiting for the new device to finish syncing from this one (Ctrl-C to stop: it can also finish later from a daemon here)')
          if (!await joiner.untilSynced(JOINER_SYNC_MS, stop.signal) && !stop.signal.aborted) {
            out.note(`the new device did not finish syncing within ${JOINER_SYNC_MS / 1000} s; run \`orbit-account daemon\` here so it can`)
          }
        } finally {
          joiner.stop()
        }
      } finally {
        await server.close()
      }
      return
    }
    const writes = request.cmd === 'put' || request.cmd === 'import' || request.cmd === 'del' || request.cmd === 'revoke' || request.cmd === 'replica'
    if (!writes) {
      await reach(account, peers, out, BRIEF_SYNC_MS)
      await execute(account, request, write)
      return
    }
    // A write is told only once the peers had their chance to say this device was revoked.
    const frames: Frame[] = []
    await execute(account, request, (f) => frames.push(f))
    if (peers.length > 0) {
      await reach(account, peers, out, BRIEF_SYNC_MS)
      // Give the peers a moment to fetch the new entry from this node before it stops.
      await new Promise((resolve) => setTimeout(resolve, 500))
      if (request.cmd !== 'revoke' && deviceStatus(account) === 'revoked') {
        throw new DeviceRevokedError(`the write was made here but the other devices refuse it: ${REVOKED_NOTE}`)
      }
    }
    for (const f of frames) write(f)
  } finally {
    await account.close()
  }
}
