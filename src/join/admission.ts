/**
 * How a joining device gets admitted (browser-ready): it asks a device of the account at
 * the invite's addresses (joiner.ts) and, while none answers, leaves a join request at a
 * replica the invite names (replica-request.ts), once one takes it. Whichever comes first
 * wins: an answer from a device, or a request left, after which the admission arrives in
 * the registry (synced from the replica) once a device of the account comes online.
 */
import type { DeviceDescriptor } from '../../acl/types.ts'
import { InviteExpiredError, InviteUsedError } from '../errors.ts'
import { requestAdmission, type Admission, type JoinRequestOptions } from './joiner.ts'
import { leaveJoinRequest } from './replica-request.ts'

export type AdmissionOutcome = { admission: Admission } | { leftAt: string }

export const askOrLeave = async (options: JoinRequestOptions & { device: DeviceDescriptor }): Promise<AdmissionOutcome> => {
  const { invite, libp2p, device } = options
  const direct = new AbortController()
  let leaving: Promise<void> | undefined
  let left!: (peer: string) => void
  let failed!: (err: unknown) => void
  const atReplica = new Promise<string>((resolve, reject) => { left = resolve; failed = reject })
  atReplica.catch(() => {})
  const onUnreachable = (): void => {
    if (leaving !== undefined || (invite.replicas ?? []).length === 0) return
    leaving = leaveJoinRequest(libp2p, invite, device, AbortSignal.any([options.signal, direct.signal])).then(left, (err: unknown) => {
      // The invite itself is spent: no device will answer either. Anything else (no replica reachable, not synced yet): tried again.
      if (err instanceof InviteUsedError || err instanceof InviteExpiredError) failed(err)
      leaving = undefined
    })
  }
  const asked = requestAdmission({ ...options, signal: AbortSignal.any([options.signal, direct.signal]), onUnreachable })
  asked.catch(() => {})
  try {
    return await Promise.race([asked.then((admission) => ({ admission })), atReplica.then((peer) => ({ leftAt: peer }))])
  } finally {
    direct.abort(new Error('admitted or left at a replica'))
  }
}
