/** What commands tell a person, kept apart from the modules that run them so a read with no daemon (src/cli/offline.ts) loads nothing else. */

/** What a revoked device is told: why, and what to do (its directory stays revoked). */
export const REVOKED_NOTE = 'this device was revoked: the other devices refuse its writes and it reads nothing written since. ' +
  'To use the account here again, ask an admin for a new invite and join with it using a new --dir (this one stays revoked)'
