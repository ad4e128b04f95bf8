/** Which device a person means by an id or a name, and whether this device may revoke it. */
import type { AccountState, DeviceRecord } from '../../acl/types.ts'
import { AlreadyRevokedError, InvalidArgumentError, NotAuthorizedError, UnknownDeviceError } from '../errors.ts'

export const resolveDevice = (state: AccountState, idOrName: string): DeviceRecord => {
  const byId = state.devices[idOrName]
  if (byId !== undefined) return byId
  const named = Object.values(state.devices).filter((d) => d.name === idOrName)
  const active = named.filter((d) => d.status === 'active')
  if (active.length === 1) return active[0] as DeviceRecord
  if (active.length > 1) throw new InvalidArgumentError(`more than one device is named '${idOrName}': use its id (${active.map((d) => d.device).join(', ')})`)
  if (named.length >= 1) return named[0] as DeviceRecord
  throw new UnknownDeviceError(`no device '${idOrName}' in this account (see \`orbit-account devices\`)`)
}

/** Checks that `self` may revoke `target` right now; throws a typed error otherwise. */
export const checkRevoke = (state: AccountState, self: string, target: DeviceRecord): void => {
  if (target.status === 'revoked') throw new AlreadyRevokedError(`${target.name} (${target.device}) is already revoked`)
  const me = state.devices[self]
  if (me === undefined || me.status !== 'active') throw new NotAuthorizedError('this device is not an active device of the account')
  if (target.device !== self && me.role !== 'admin') throw new NotAuthorizedError('only an admin device can revoke other devices')
  const admins = Object.values(state.devices).filter((d) => d.status === 'active' && d.role === 'admin')
  if (target.role === 'admin' && admins.length === 1) {
    throw new NotAuthorizedError(`${target.name} is the last active admin: without it no one could add or revoke devices; add another admin first (invite --role admin)`)
  }
}
