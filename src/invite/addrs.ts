/**
 * Which of the inviting node's addresses go in an invite. An invite is read off a
 * screen as a QR code, so it carries a few that let a new device reach the inviter
 * once, whatever it is; the rest of the inviter's addresses reach the new device
 * afterwards (identify), and it remembers them.
 *
 * - the host the other machines of the LAN most likely reach (a private IPv4 first:
 *   192.168/16, 10/8, 172.16/12, then shared 100.64/10, public IPv4, IPv6, link-local
 *   IPv4 last), with one address per transport: TCP (Node devices), WebSockets (Node,
 *   and a browser on a page served over http) and WebRTC-direct with its certhash (a
 *   browser on an HTTPS page, which may not open a plain ws:// connection to the LAN);
 * - loopback, for a device on this machine: its WebSockets address only (a browser
 *   page at http://127.0.0.1 and a Node device both dial it), when the node listens
 *   there; a node that listens on loopback only gets one address per transport there.
 *
 * Typical sizes: a LAN inviter with TCP, WebSockets and WebRTC-direct on every
 * interface gives 4 addresses (about 300 characters of invite, a 65-column QR code); a
 * loopback-only one with TCP alone, 1. Wildcards, IPv6 link-local (needs a zone) and
 * relayed addresses never go in. Browser-ready.
 */
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { encodeInvite, MAX_INVITE_ADDRS, MAX_INVITE_REPLICAS, MAX_REPLICA_ADDRS, type Invite, type InviteReplica } from './invite.ts'

type Transport = 'tcp' | 'ws' | 'webrtc-direct'
const TRANSPORTS: readonly Transport[] = ['tcp', 'ws', 'webrtc-direct']

interface Candidate { text: string, host: string, loopback: boolean, rank: number, transport: Transport }

const stripPeer = (addr: string): string => addr.replace(/\/p2p\/[^/]+$/, '')

/** Lower is better; undefined: never in an invite. */
const hostRank = (family: string, host: string): number | undefined => {
  if (family === 'ip4') {
    const [a = 0, b = 0] = host.split('.').map(Number)
    if (a === 0) return undefined
    if (a === 192 && b === 168) return 0
    if (a === 10) return 1
    if (a === 172 && b >= 16 && b < 32) return 2
    if (a === 100 && b >= 64 && b < 128) return 3
    if (a === 169 && b === 254) return 6
    return 4
  }
  if (family === 'ip6') {
    if (/^(::|0:0:0:0:0:0:0:0|::0)$/.test(host) || /^fe[89ab]/i.test(host)) return undefined
    return 5
  }
  return family.startsWith('dns') ? 4 : undefined
}

const isLoopback = (family: string, host: string): boolean =>
  (family === 'ip4' && host.startsWith('127.')) || (family === 'ip6' && (host === '::1' || host === '0:0:0:0:0:0:0:1'))

/** host/tcp, host/tcp/ws|wss (also over /tls) and host/udp/webrtc-direct/certhash; nothing else. */
const transportOf = (names: string[]): Transport | undefined => {
  const path = names.slice(1).filter((n) => n !== 'tls' && n !== 'sni').join('/')
  if (path === 'tcp') return 'tcp'
  if (path === 'tcp/ws' || path === 'tcp/wss') return 'ws'
  if (/^udp\/webrtc-direct(\/certhash)+$/.test(path)) return 'webrtc-direct'
  return undefined
}

const candidateOf = (addr: string): Candidate | undefined => {
  const text = stripPeer(addr)
  let ma: Multiaddr
  try {
    ma = multiaddr(text)
  } catch {
    return undefined
  }
  const components = ma.getComponents()
  const first = components[0]
  if (first?.value === undefined) return undefined
  const transport = transportOf(components.map((c) => c.name))
  const loopback = isLoopback(first.name, first.value)
  const rank = loopback ? 7 : hostRank(first.name, first.value)
  if (transport === undefined || rank === undefined) return undefined
  return { text: ma.toString(), host: `${first.name}/${first.value}`, loopback, rank, transport }
}

/** One address per transport of `host`'s addresses (the first of each), in TRANSPORTS order. */
const perTransport = (candidates: Candidate[], only: readonly Transport[] = TRANSPORTS): string[] =>
  only.flatMap((t) => candidates.find((c) => c.transport === t)?.text ?? [])

/**
 * The addresses to put in an invite, from the node's addresses (with or without a
 * /p2p/ suffix; returned without). When none fits the rules above, the first ones
 * given (up to MAX_INVITE_ADDRS), as before: encodeInvite then says what is wrong.
 */
export const inviteAddrs = (addrs: string[]): string[] => {
  const candidates = addrs.map(candidateOf).filter((c): c is Candidate => c !== undefined)
  // Stable: among equal ranks, the order the node gave.
  const best = [...candidates].sort((a, b) => a.rank - b.rank).find((c) => !c.loopback)
  const loopback = candidates.filter((c) => c.loopback)
  const loopbackHost = loopback[0]?.host
  const onLoopbackHost = loopback.filter((c) => c.host === loopbackHost)
  const picked = best === undefined
    ? perTransport(onLoopbackHost)
    : [...perTransport(candidates.filter((c) => c.host === best.host)), ...perTransport(onLoopbackHost, ['ws'])]
  if (picked.length > 0) return picked.slice(0, MAX_INVITE_ADDRS)
  return addrs.map(stripPeer).slice(0, MAX_INVITE_ADDRS)
}

/**
 * The registered replicas an invite names (at most MAX_INVITE_REPLICAS, the first
 * registered, each with at most MAX_REPLICA_ADDRS addresses chosen as above): a joiner
 * leaves its join request there when no device answers. Removed replicas and ones whose
 * addresses cannot go in an invite are left out; undefined when none is left.
 */
export const inviteReplicas = (replicas: ReadonlyArray<{ peer: string, addrs: string[], removedIn?: string }>, invite: Invite): InviteReplica[] | undefined => {
  const picked: InviteReplica[] = []
  for (const r of replicas) {
    if (picked.length >= MAX_INVITE_REPLICAS || r.removedIn !== undefined) continue
    const candidate = { peerId: r.peer, addrs: inviteAddrs(r.addrs).slice(0, MAX_REPLICA_ADDRS) }
    try {
      // Only what encodes: a registry address this code would refuse in an invite is skipped.
      encodeInvite({ ...invite, replicas: [candidate] })
      picked.push(candidate)
    } catch {}
  }
  return picked.length > 0 ? picked : undefined
}
