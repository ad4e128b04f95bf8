/** Branded identifiers: a bare string cannot be passed where one of these is expected. */
export type DeviceId = string & { readonly __brand: 'DeviceId' }
export type AccountAddress = string & { readonly __brand: 'AccountAddress' }
export type Epoch = number & { readonly __brand: 'Epoch' }
export type Role = 'admin' | 'member'
export type Mode = 'public' | 'encrypted' | 'private'

export const MODES: readonly Mode[] = ['public', 'encrypted', 'private']
export const ROLES: readonly Role[] = ['admin', 'member']

export const asEpoch = (n: number): Epoch => n as Epoch
