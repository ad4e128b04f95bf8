/**
 * The gate of a private network (Node transports): every connection is wrapped by
 * @libp2p/pnet with the swarm key, and a peer that does not hold the same key fails
 * the handshake before anything else is spoken. The key can change while the node runs
 * (a revocation rotates it): new connections use the new key at once; connections made
 * with the old one are closed by the caller after a grace period (see node/swarm-file.ts).
 * A node that knows its key is stale and has no new one (a replica after a revocation)
 * can refuse every connection instead.
 */
import { preSharedKey } from '@libp2p/pnet'
import type { ConnectionProtector } from '@libp2p/interface'
import { SWARM_KEY_BYTES } from '../account/swarm.ts'
import { utf8Encode } from '../crypto/bytes.ts'
import { InvalidArgumentError, ProtocolError } from '../errors.ts'
import { parseSwarmKey, swarmKeyHex } from './swarm-key.ts'

export interface SwarmGuard {
  /** The factory libp2p takes as `connectionProtector`. */
  protector: () => ConnectionProtector
  key: () => Uint8Array
  /** Also ends a refusal. */
  setKey: (key: Uint8Array) => void
  /** Fails every new connection, both ways, until `setKey` gives a key; open ones are the caller's to close. */
  refuseAll: () => void
  refusing: () => boolean
}

/** The swarm key in the text format libp2p (and go-ipfs) read: `/key/swarm/psk/1.0.0/`, base16. */
export const swarmKeyText = (key: Uint8Array): string => `/key/swarm/psk/1.0.0/\n/base16/\n${swarmKeyHex(key)}`

export { parseSwarmKey, swarmKeyHex }

export const createSwarmGuard = (initial: Uint8Array): SwarmGuard => {
  const checked = (key: Uint8Array): Uint8Array => {
    if (!(key instanceof Uint8Array) || key.length !== SWARM_KEY_BYTES) throw new InvalidArgumentError(`a swarm key is ${SWARM_KEY_BYTES} bytes`)
    return Uint8Array.from(key)
  }
  const protectorFor = (key: Uint8Array): ConnectionProtector => preSharedKey({ psk: utf8Encode(swarmKeyText(key)) })()
  let key = checked(initial)
  let inner = protectorFor(key)
  let refusing = false
  const guard: ConnectionProtector = {
    protect: async (connection, options) => {
      // Thrown before a byte is exchanged: libp2p aborts the socket, the dialer's dial fails.
      if (refusing) throw new ProtocolError('this node refuses connections: its swarm key was replaced and it has not been given the new one')
      return await inner.protect(connection, options)
    }
  }
  return {
    protector: () => guard,
    key: () => key,
    setKey: (next) => {
      key = checked(next)
      inner = protectorFor(key)
      refusing = false
    },
    refuseAll: () => { refusing = true },
    refusing: () => refusing
  }
}
