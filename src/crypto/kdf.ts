/**
 * Passphrase key derivation with scrypt (RFC 7914). Parameters may come from an
 * untrusted keystore file, so they are bounded before any work is done.
 */
import { scryptAsync } from '@noble/hashes/scrypt.js'
import { InvalidArgumentError } from '../errors.ts'
import { assertBytes, utf8Encode } from './bytes.ts'

export type KdfParams = {
  readonly N: number
  readonly r: number
  readonly p: number
  readonly dkLen: number
}

export const DEFAULT_KDF_PARAMS: KdfParams = Object.freeze({ N: 2 ** 17, r: 8, p: 1, dkLen: 32 })

export const KDF_MIN_SALT_LENGTH = 16
/** Upper bound on scrypt scratch memory (noble's default maxmem: 1 GiB + 2 KiB). */
export const KDF_MAX_MEMORY = 1024 ** 3 + 2 * 1024

const isInt = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n)

/** Throws InvalidArgumentError unless the params are within the supported bounds. */
export const validateKdfParams = (params: KdfParams): KdfParams => {
  if (typeof params !== 'object' || params === null) {
    throw new InvalidArgumentError('kdf params must be an object { N, r, p, dkLen }')
  }
  const { N, r, p, dkLen } = params
  if (!isInt(N) || N < 2 ** 10 || N > 2 ** 22 || (N & (N - 1)) !== 0) {
    throw new InvalidArgumentError(`kdf N must be a power of two in [2**10, 2**22], got ${String(N)}`)
  }
  if (!isInt(r) || r < 1 || r > 32) throw new InvalidArgumentError(`kdf r must be an integer in 1..32, got ${String(r)}`)
  if (!isInt(p) || p < 1 || p > 16) throw new InvalidArgumentError(`kdf p must be an integer in 1..16, got ${String(p)}`)
  if (!isInt(dkLen) || dkLen < 16 || dkLen > 64) {
    throw new InvalidArgumentError(`kdf dkLen must be an integer in 16..64, got ${String(dkLen)}`)
  }
  const memory = 128 * r * (N + p + 1)
  if (memory > KDF_MAX_MEMORY) {
    throw new InvalidArgumentError(`kdf params need ${Math.ceil(memory / 2 ** 20)} MiB of memory, above the 1 GiB limit`)
  }
  return params
}

export const derivePassphraseKey = async (
  passphrase: string,
  salt: Uint8Array,
  params: KdfParams = DEFAULT_KDF_PARAMS
): Promise<Uint8Array> => {
  if (typeof passphrase !== 'string' || passphrase.length === 0) {
    throw new InvalidArgumentError('passphrase must be a non-empty string')
  }
  assertBytes(salt, 'salt')
  if (salt.length < KDF_MIN_SALT_LENGTH) {
    throw new InvalidArgumentError(`salt must be at least ${KDF_MIN_SALT_LENGTH} bytes, got ${salt.length}`)
  }
  const { N, r, p, dkLen } = validateKdfParams(params)
  const password = utf8Encode(passphrase.normalize('NFKC'))
  try {
    return await scryptAsync(password, salt, { N, r, p, dkLen, maxmem: KDF_MAX_MEMORY })
  } finally {
    password.fill(0)
  }
}
