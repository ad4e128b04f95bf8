/**
 * A swarm key as text: read from a file, stdin or the environment, and written for a
 * person. Light on purpose (no libp2p): the CLI checks a swarm key given to it before
 * it loads anything else.
 */
import { SWARM_KEY_BYTES } from '../account/swarm.ts'
import { InvalidArgumentError } from '../errors.ts'

export const swarmKeyHex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')

/** Reads a swarm key written as 64 hex characters, or in the libp2p swarm.key format. */
export const parseSwarmKey = (text: string): Uint8Array => {
  const last = text.trim().split('\n').pop()?.trim() ?? ''
  if (!/^[0-9a-fA-F]{64}$/.test(last)) {
    throw new InvalidArgumentError(`a swarm key is ${SWARM_KEY_BYTES * 2} hex characters (see \`orbit-account swarm-key\` on a device of the account)`)
  }
  return Uint8Array.from(last.match(/../g) as string[], (b) => parseInt(b, 16))
}
