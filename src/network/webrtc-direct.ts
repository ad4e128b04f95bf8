/**
 * WebRTC-direct for a Node node (@libp2p/webrtc over node-datachannel): what a browser
 * on an HTTPS page dials, since it may not open a plain ws:// connection to the LAN.
 *
 * Loading @libp2p/webrtc (node-datachannel, an X.509 library) costs about 0.35 s of CPU,
 * which every one-shot command would pay for nothing: a node that listens on
 * WebRTC-direct loads it at start, with the certificate kept in its directory; any
 * other node gets a stand-in that dials WebRTC-direct addresses only, and loads the
 * real transport at its first such dial.
 */
import { serviceCapabilities, transportSymbol, type Transport } from '@libp2p/interface'
import type { WebRTCDirectTransportComponents } from '@libp2p/webrtc'
import type { Multiaddr } from '@multiformats/multiaddr'

type TransportFactory = (components: WebRTCDirectTransportComponents) => Transport

/** A WebRTC-direct multiaddr (with or without its certhash and /p2p/). */
export const isWebRTCDirect = (addr: string): boolean => /\/udp\/\d+\/webrtc-direct(\/|$)/.test(addr)

/** What the transport dials: ip or dns, UDP, WebRTC-direct, at least one certhash, an optional peer id. */
const DIALABLE = /^\/(ip4|ip6|dns|dns4|dns6)\/[^/]+\/udp\/\d+\/webrtc-direct(\/certhash\/[^/]+)+(\/p2p\/[^/]+)?$/

/** Dials WebRTC-direct; the real transport is loaded at the first dial. */
const dialOnly = (): TransportFactory => (components) => {
  let real: Promise<Transport> | undefined
  const load = async (): Promise<Transport> => {
    const { webRTCDirect } = await import('@libp2p/webrtc')
    // Never started: dialing uses no certificate of its own (the connection makes one).
    return webRTCDirect()(components)
  }
  return {
    [transportSymbol]: true,
    [Symbol.toStringTag]: '@libp2p/webrtc-direct',
    [serviceCapabilities]: ['@libp2p/transport'],
    dial: async (ma, options) => await (await (real ??= load())).dial(ma, options),
    dialFilter: (addrs: Multiaddr[]) => addrs.filter((ma) => DIALABLE.test(ma.toString())),
    listenFilter: () => [],
    createListener: () => { throw new Error('this node does not listen on WebRTC-direct') }
  }
}

/** The WebRTC-direct transport of a node: listening (with its stable certificate) or dialing only. */
export const webRTCDirectFor = async (directory: string, listening: boolean): Promise<TransportFactory> => {
  if (!listening) return dialOnly()
  const [{ webRTCDirect }, { loadWebRTCCertificate }] = await Promise.all([import('@libp2p/webrtc'), import('../node/webrtc-cert.ts')])
  return webRTCDirect({ certificate: await loadWebRTCCertificate(directory) })
}
