/**
 * The joining device's side of the join protocol: dial the inviter, prove the invite
 * secret (a MAC for the inviter, which holds it; a signature by the invitation key for
 * any other device of the account, which checks it against the registry), show the short
 * code when the inviter asks a person to confirm, and check the inviter's proof when it
 * gives one. A device that answers without the secret proves nothing: the joiner then
 * trusts only its own admission, found in the registry the invite names.
 */
import { multiaddr } from '@multiformats/multiaddr'
import type { DeviceDescriptor } from '../../acl/types.ts'
import { base64urlEncode, randomBytes } from '../crypto/bytes.ts'
import {
  ConfirmationRejectedError, InviteExpiredError, InviteRejectedError, InviteUsedError, InviterBusyError, JoinFailedError, OrbitAccountError, ProtocolError
} from '../errors.ts'
import type { Libp2pNode } from '../orbit/orbitdb.ts'
import type { Role } from '../types.ts'
import { inviteId, type Invite } from '../invite/invite.ts'
import { signAdmission } from '../../acl/invitation.ts'
import { admittedMac, JOIN_PROTOCOL, macEquals, NONCE_BYTES, requestMac, shortCode, type JoinErrorCode, type Transcript } from './messages.ts'
import { messageChannel } from './stream.ts'

export interface Admission {
  role: Role
  registryHeads: string[]
  dataHeads: string[]
  inviter: { device: string, signingKey: string }
}

export interface JoinRequestOptions {
  libp2p: Libp2pNode
  invite: Invite
  device: DeviceDescriptor
  signal: AbortSignal
  /** Called with the short code when the inviter asks a person to confirm. */
  onCode?: (code: string) => void
  /** Told when the inviter is busy and the join tries again. */
  onProgress?: (message: string) => void
  /** Called each time no device answered at the invite's addresses (the joiner may then leave a request at a replica). */
  onUnreachable?: () => void
}

const STEP_TIMEOUT_MS = 30_000

const remoteError = (code: JoinErrorCode, message: string): OrbitAccountError => {
  switch (code) {
    case 'INVITE_REJECTED': return new InviteRejectedError(`the inviter refused: ${message}`)
    case 'INVITE_EXPIRED': return new InviteExpiredError(`the inviter refused: ${message}`)
    case 'INVITE_USED': return new InviteUsedError(`the inviter refused: ${message}`)
    case 'CONFIRMATION_REJECTED': return new ConfirmationRejectedError(`the inviter refused: ${message}`)
    case 'PROTOCOL_ERROR': return new ProtocolError(`the inviter refused: ${message}`)
    case 'BUSY': return new InviterBusyError(`the inviter is busy: ${message}`)
    default: return new JoinFailedError(`the inviter refused: ${message}`)
  }
}

/** Waits between tries while the inviter is busy: doubling from BACKOFF_MIN_MS up to BACKOFF_MAX_MS, with jitter. */
const BACKOFF_MIN_MS = 250
const BACKOFF_MAX_MS = 4000

const backoff = (attempt: number): number => {
  const ms = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt)
  // Jitter, so joiners turned away together do not come back together.
  return Math.round(ms / 2 + Math.random() * ms / 2)
}

const sleep = async (ms: number, signal: AbortSignal): Promise<void> => {
  await new Promise<void>((resolve) => {
    const done = (): void => { clearTimeout(timer); signal.removeEventListener('abort', done); resolve() }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}

/** No device at the invite's addresses answered. */
class UnreachableError extends JoinFailedError {}

/** Not answered now, but the invite may still be: the device is busy or offline (it may come back, a detached invite stays valid). */
const mayAnswerLater = (err: unknown): err is OrbitAccountError => err instanceof InviterBusyError || err instanceof UnreachableError

/**
 * Asks the inviter to admit this device. While the inviter is busy (its waiting room
 * full, perhaps of a stranger's streams, or another device joining with this invite) or
 * unreachable (offline: a detached invite is answered by its device's daemon when it
 * comes back), tries again, backing off, until the invite expires, saying what it waits for.
 */
export const requestAdmission = async (options: JoinRequestOptions): Promise<Admission> => {
  const { invite, signal } = options
  const untilExpiry = (): number => invite.expires * 1000 - Date.now()
  for (let attempt = 0; ; attempt++) {
    try {
      return await requestOnce(options)
    } catch (err) {
      if (!mayAnswerLater(err) || signal.aborted) throw err
      if (err instanceof UnreachableError) options.onUnreachable?.()
      const wait = Math.min(untilExpiry(), backoff(attempt))
      if (wait > 0) {
        const why = err instanceof InviterBusyError ? 'the inviting device is busy' : `no device of the account answers at ${invite.addrs.join(', ')} yet (it may be offline)`
        options.onProgress?.(`${why}; trying again in ${(wait / 1000).toFixed(1)} s (attempt ${attempt + 2}), until the invite expires at ${new Date(invite.expires * 1000).toISOString()}`)
        await sleep(wait, signal)
      }
      if (signal.aborted) throw err
      if (untilExpiry() <= 0) throw new InviteExpiredError(`the invite expired while waiting for a device of the account (${err.message}): ask for a new one`, { cause: err })
    }
  }
}

const requestOnce = async (options: JoinRequestOptions): Promise<Admission> => {
  const { libp2p, invite, device, signal } = options
  const step = (ms = STEP_TIMEOUT_MS): AbortSignal => AbortSignal.any([signal, AbortSignal.timeout(ms)])
  const targets = invite.addrs.map((a) => multiaddr(`${a}/p2p/${invite.peerId}`))
  let stream
  try {
    stream = await libp2p.dialProtocol(targets, JOIN_PROTOCOL, { signal: step() })
  } catch (err) {
    throw new UnreachableError(`could not reach the inviting device at ${invite.addrs.join(', ')}: ${(err as Error).message}. Is it still showing the invite, or its daemon running?`, { cause: err })
  }
  const channel = messageChannel(stream)
  try {
    const id = inviteId(invite.secret)
    await channel.send({ t: 'hello', v: 1, invite: id }, step())
    const challenge = await channel.receive(step())
    if (challenge.t === 'error') throw remoteError(challenge.code, challenge.message)
    if (challenge.t !== 'challenge') throw new ProtocolError('the inviter sent no challenge')
    if (challenge.account !== invite.account) throw new JoinFailedError('the device at that address belongs to another account than the invite names')
    const nonce = base64urlEncode(randomBytes(NONCE_BYTES))
    const transcript: Transcript = { inviteId: id, account: invite.account, inviterDevice: challenge.inviter.device, inviterNonce: challenge.nonce, joinerNonce: nonce, joiner: device }
    const proof = signAdmission(invite.secret, id, device, challenge.role)
    await channel.send({ t: 'request', nonce, device, mac: requestMac(invite.secret, transcript), proof }, step())
    // A person may be reading the code: wait until the invite expires.
    const waitMs = Math.max(STEP_TIMEOUT_MS, invite.expires * 1000 - Date.now() + 5000)
    let answer = await channel.receive(step(waitMs))
    if (answer.t === 'confirming') {
      options.onCode?.(shortCode(invite.secret, challenge.inviter.signingKey, device.signingKey))
      answer = await channel.receive(step(waitMs))
    }
    if (answer.t === 'error') throw remoteError(answer.code, answer.message)
    if (answer.t !== 'admitted') throw new ProtocolError('the inviter sent no admission')
    // A device without the secret (answering from the registry) sends no MAC: the admission is checked in the registry.
    if (answer.mac !== undefined && !macEquals(answer.mac, admittedMac(invite.secret, transcript, answer.role))) {
      throw new JoinFailedError('the inviting device could not prove it holds the invite secret')
    }
    return { role: answer.role, registryHeads: answer.registryHeads, dataHeads: answer.dataHeads, inviter: challenge.inviter }
  } catch (err) {
    if (err instanceof OrbitAccountError) throw err
    throw new JoinFailedError(`the join protocol failed: ${(err as Error).message}`, { cause: err })
  } finally {
    await channel.close()
  }
}
