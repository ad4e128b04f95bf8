/** `serve <account-address>`: a blind replica until SIGINT/SIGTERM. */
import { multiaddr } from '@multiformats/multiaddr'
import type { ParsedArgs } from './args.ts'
import type { Output } from './output.ts'
import { DEFAULT_LISTEN, untilSignal } from './local.ts'
import { serveReplica } from '../node/replica-dir.ts'
import { listenAddrsToRemember, readNetworkMemory, rememberListen, rememberPeers } from '../node/network-memory.ts'
import { accountPaths } from '../node/paths.ts'
import { InvalidArgumentError } from '../errors.ts'
import { swarmKeyOf } from './swarm-key-source.ts'

const REDIAL_MS = 15_000

export const runServe = async (args: ParsedArgs, dir: string, out: Output): Promise<void> => {
  const address = args.positionals[0] as string
  const swarmKey = await swarmKeyOf(args)
  const memoryPath = accountPaths(dir).peers
  const memory = await readNetworkMemory(memoryPath)
  const given = (args.options.peer as string[] | undefined) ?? []
  for (const p of given) {
    try {
      multiaddr(p)
    } catch {
      throw new InvalidArgumentError(`--peer ${p} is not a multiaddr (like /ip4/192.168.1.20/tcp/4001/p2p/12D3Koo...)`)
    }
  }
  const listen = (args.options.listen as string[] | undefined) ?? (memory.listen.length > 0 ? memory.listen : DEFAULT_LISTEN)
  const served = await serveReplica({ dir, address, listen, onNote: (n) => out.note(n), ...(swarmKey !== undefined ? { swarmKey } : {}) })
  try {
    await rememberListen(memoryPath, listenAddrsToRemember(listen, served.addrs()))
    /** Dials the known peers not connected; resolves with how many addresses are known. */
    const dialAll = async (): Promise<number> => {
      const known = [...new Set([...(await readNetworkMemory(memoryPath)).peers, ...given])]
      const connected = served.started.node.libp2p.getPeers().map((p) => p.toString())
      await Promise.all(known.filter((p) => !connected.some((id) => p.endsWith(`/p2p/${id}`))).map(async (p) => {
        try {
          await served.started.node.libp2p.dial(multiaddr(p), { signal: AbortSignal.timeout(5000) })
          await rememberPeers(memoryPath, [p])
        } catch {}
      }))
      return known.length
    }
    const known = await dialAll()
    if (served.started.node.swarm !== undefined && known > 0 && served.started.node.libp2p.getPeers().length === 0) {
      out.note(`none of the ${known} known peer address(es) let this replica in: if a device was revoked while it was away, the account moved to a new swarm key. ` +
        'Run `orbit-account swarm-key` on a device and restart with the key in `--swarm-key-file <file>` (or $ORBIT_ACCOUNT_SWARM_KEY, or `--swarm-key -` on stdin)')
    }
    const stopped = untilSignal()
    out.result('serve', { ready: true, peerId: served.peerId(), addrs: served.addrs() })
    void served.ready.then((r) => out.note(`replicating ${r.address} (epoch ${String(r.epoch())})`), () => {})
    const redial = setInterval(() => { void dialAll() }, REDIAL_MS)
    try {
      await stopped
    } finally {
      clearInterval(redial)
    }
  } finally {
    await served.close()
  }
}
