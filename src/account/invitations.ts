/**
 * Which device may record and complete invitations (browser-ready): the local checks
 * before an `invitation` or an invited `add` is appended. The reducer decides what counts
 * (acl/rules/pass.ts); these checks refuse early, with the error a joiner is told, and add
 * the one the reducer cannot make: expiry, on this device's clock at admission.
 */
import type { AccountState, InvitationRecord } from '../../acl/types.ts'
import { InviteExpiredError, InviteRejectedError, InviteUsedError, NotAuthorizedError } from '../errors.ts'
import type { DeviceId } from '../types.ts'

/** This device, if it is active (and an admin when `admin`). */
const activeSelf = (state: AccountState, me: DeviceId, admin: boolean, action: string): void => {
  const self = state.devices[me]
  if (self?.status !== 'active' || (admin && self.role !== 'admin')) {
    throw new NotAuthorizedError(`only an active ${admin ? 'admin ' : ''}device can ${action}`)
  }
}

export const checkCanRecordInvitation = (state: AccountState, me: DeviceId): void => {
  activeSelf(state, me, true, 'make an invite')
}

/** This device must be an active admin to `action`. */
export const checkAdmin = (state: AccountState, me: DeviceId, action: string): void => {
  activeSelf(state, me, true, action)
}

/**
 * The recorded invitation `id`, if this device may admit with it now for `role`.
 * @throws InviteRejectedError (not recorded), InviteUsedError, InviteExpiredError, NotAuthorizedError.
 */
export const usableInvitation = (state: AccountState, me: DeviceId, id: string, now: number): InvitationRecord => {
  activeSelf(state, me, false, 'admit devices')
  const invitation = Object.hasOwn(state.invitations, id) ? state.invitations[id] : undefined
  if (invitation === undefined) throw new InviteRejectedError('this account has no such invite (or this device has not synced it yet): a wrong or mistyped invite')
  if (invitation.usedIn !== undefined) throw new InviteUsedError('the invite was already used: invites are single-use')
  if (invitation.withdrawnIn !== undefined) throw new InviteRejectedError('the invite was withdrawn: ask for a new one')
  if (now > invitation.expires * 1000) throw new InviteExpiredError('the invite has expired: ask for a new one')
  if (invitation.confirm && invitation.by !== me) {
    throw new NotAuthorizedError('this invite asks its inviting device to confirm the join: only that device can admit with it')
  }
  return invitation
}
