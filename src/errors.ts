/**
 * Named error classes with stable codes. Callers branch on `.code` (or `.name`),
 * never on message text. The CLI maps `code` to `{"error":{"code","message"}}`.
 */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'DECRYPTION_FAILED'
  | 'INVALID_CIPHERTEXT'
  | 'WRONG_PASSPHRASE'
  | 'PASSPHRASE_REQUIRED'
  | 'KEYSTORE_CORRUPT'
  | 'KEYSTORE_PERMISSIONS'
  | 'KEYSTORE_MISSING'
  | 'NO_ACCOUNT'
  | 'ACCOUNT_EXISTS'
  | 'STORE_LOCKED'
  | 'INVALID_OPERATION'
  | 'NOT_AUTHORIZED'
  | 'INVALID_JSON'
  | 'VALUE_TOO_LARGE'
  | 'NOT_IMPLEMENTED'
  | 'DAEMON_UNREACHABLE'
  | 'PROTOCOL_ERROR'
  | 'TIMEOUT'
  | 'INVALID_INVITE'
  | 'INVITE_EXPIRED'
  | 'INVITE_USED'
  | 'INVITE_REJECTED'
  | 'CONFIRMATION_REJECTED'
  | 'JOIN_FAILED'
  | 'UNKNOWN_DEVICE'
  | 'ALREADY_REVOKED'
  | 'INVALID_RECOVERY_WORDS'
  | 'WRONG_RECOVERY_WORDS'
  | 'RECOVERY_FAILED'
  | 'DEVICE_REVOKED'
  | 'UNSAFE_PERMISSIONS'
  | 'PERMISSION_DENIED'
  | 'QUOTA_EXCEEDED'
  | 'STATE_CORRUPT'
  | 'INTERNAL'

export class OrbitAccountError extends Error {
  readonly code: ErrorCode
  constructor (code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

const defineError = (code: ErrorCode, name: string): new (message: string, options?: { cause?: unknown }) => OrbitAccountError => {
  const cls = class extends OrbitAccountError {
    constructor (message: string, options?: { cause?: unknown }) {
      super(code, message, options)
      this.name = name
    }
  }
  Object.defineProperty(cls, 'name', { value: name })
  return cls
}

/** A caller passed a value of the wrong type, size or shape. */
export const InvalidArgumentError = defineError('INVALID_ARGUMENT', 'InvalidArgumentError')
/** Authenticated decryption failed: wrong key, wrong associated data or tampered bytes. */
export const DecryptionError = defineError('DECRYPTION_FAILED', 'DecryptionError')
/** Ciphertext is structurally invalid (too short, wrong version). */
export const InvalidCiphertextError = defineError('INVALID_CIPHERTEXT', 'InvalidCiphertextError')
export const WrongPassphraseError = defineError('WRONG_PASSPHRASE', 'WrongPassphraseError')
export const PassphraseRequiredError = defineError('PASSPHRASE_REQUIRED', 'PassphraseRequiredError')
export const KeystoreCorruptError = defineError('KEYSTORE_CORRUPT', 'KeystoreCorruptError')
export const KeystorePermissionsError = defineError('KEYSTORE_PERMISSIONS', 'KeystorePermissionsError')
/** No keystore file exists at the expected path. */
export const KeystoreMissingError = defineError('KEYSTORE_MISSING', 'KeystoreMissingError')
export const NoAccountError = defineError('NO_ACCOUNT', 'NoAccountError')
export const AccountExistsError = defineError('ACCOUNT_EXISTS', 'AccountExistsError')
export const StoreLockedError = defineError('STORE_LOCKED', 'StoreLockedError')
/** A registry or data operation is malformed. */
export const InvalidOperationError = defineError('INVALID_OPERATION', 'InvalidOperationError')
export const NotAuthorizedError = defineError('NOT_AUTHORIZED', 'NotAuthorizedError')
export const InvalidJsonError = defineError('INVALID_JSON', 'InvalidJsonError')
export const ValueTooLargeError = defineError('VALUE_TOO_LARGE', 'ValueTooLargeError')
/** A log entry over its log's byte cap (src/orbit/caps.ts): this device does not write it, peers refuse it. */
export const EntryTooLargeError = defineError('VALUE_TOO_LARGE', 'EntryTooLargeError')
export const NotImplementedError = defineError('NOT_IMPLEMENTED', 'NotImplementedError')
export const DaemonUnreachableError = defineError('DAEMON_UNREACHABLE', 'DaemonUnreachableError')
export const ProtocolError = defineError('PROTOCOL_ERROR', 'ProtocolError')
export const TimeoutError = defineError('TIMEOUT', 'TimeoutError')

/** An invite string that does not parse: garbage, truncated, tampered or of an unknown version. */
export const InvalidInviteError = defineError('INVALID_INVITE', 'InvalidInviteError')
export const InviteExpiredError = defineError('INVITE_EXPIRED', 'InviteExpiredError')
/** The invite was already used: invites are single-use. */
export const InviteUsedError = defineError('INVITE_USED', 'InviteUsedError')
/** The inviter refused the join: wrong secret, unknown invite or a bad request. */
export const InviteRejectedError = defineError('INVITE_REJECTED', 'InviteRejectedError')
/** A person answered no (or the short codes did not match) when asked to confirm a join. */
export const ConfirmationRejectedError = defineError('CONFIRMATION_REJECTED', 'ConfirmationRejectedError')
/** The join could not complete (the inviter unreachable, the sync did not finish...). */
export const JoinFailedError = defineError('JOIN_FAILED', 'JoinFailedError')
/** The inviting device is busy with other join streams: the joining device tries again while its invite is valid. */
export const InviterBusyError = defineError('JOIN_FAILED', 'InviterBusyError')

/** No device of that id or name in the account. */
export const UnknownDeviceError = defineError('UNKNOWN_DEVICE', 'UnknownDeviceError')
export const AlreadyRevokedError = defineError('ALREADY_REVOKED', 'AlreadyRevokedError')

/** Not 24 words of the BIP39 English list, or their checksum fails. */
export const InvalidRecoveryWordsError = defineError('INVALID_RECOVERY_WORDS', 'InvalidRecoveryWordsError')
/** Valid words, but not this account's recovery key (another account's, or a replaced one). */
export const WrongRecoveryWordsError = defineError('WRONG_RECOVERY_WORDS', 'WrongRecoveryWordsError')
/** The recovery could not complete (no peer had the account's logs, ...). */
export const RecoveryFailedError = defineError('RECOVERY_FAILED', 'RecoveryFailedError')
/** This device was revoked: the other devices refuse its writes and it reads nothing written since. */
export const DeviceRevokedError = defineError('DEVICE_REVOKED', 'DeviceRevokedError')

/** Part of an account directory is open to other users and this user cannot close it (not its owner). */
export const UnsafePermissionsError = defineError('UNSAFE_PERMISSIONS', 'UnsafePermissionsError')
/** This user may not read or enter (part of) an account directory. */
export const PermissionDeniedError = defineError('PERMISSION_DENIED', 'PermissionDeniedError')

/** A write would take this device past one of the account's per-device quotas: the other devices would ignore it. */
export const QuotaExceededError = defineError('QUOTA_EXCEEDED', 'QuotaExceededError')

/** A persisted checkpoint that does not read (damaged, another version, another key): the log is replayed instead. */
export const CorruptStateError = defineError('STATE_CORRUPT', 'CorruptStateError')

export const isOrbitAccountError = (e: unknown): e is OrbitAccountError => e instanceof OrbitAccountError
