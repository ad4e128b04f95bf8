/**
 * Where a passphrase comes from: --passphrase-file, $ORBIT_ACCOUNT_PASSPHRASE, or the
 * terminal. Light on purpose (no libp2p, no OrbitDB): `passphrase` only rewrites a file.
 */
import type { ParsedArgs } from './args.ts'
import { isKeystoreFileSealed, readPassphrase } from '../../identity/keystore-fs.ts'
import { accountPaths } from '../node/paths.ts'
import { InvalidArgumentError } from '../errors.ts'
import { askHidden } from './prompt.ts'

/**
 * The passphrase, from --passphrase-file or $ORBIT_ACCOUNT_PASSPHRASE, by one rule: a
 * line ending at its end is not part of it (`echo` and a file editor both add one).
 */
export const passphraseOf = async (args: ParsedArgs): Promise<string | undefined> => {
  const value = process.env.ORBIT_ACCOUNT_PASSPHRASE
  const env = value === undefined ? {} : { ORBIT_ACCOUNT_PASSPHRASE: value.replace(/\r?\n$/, '') }
  return await readPassphrase(args.passphraseFile !== undefined ? { passphraseFile: args.passphraseFile, env } : { env })
}

/**
 * The passphrase that opens the keystore in `dir`: from --passphrase-file or
 * $ORBIT_ACCOUNT_PASSPHRASE; when neither is given and the keystore is sealed, asked on
 * the terminal (only when stdin is one: a script gets PASSPHRASE_REQUIRED).
 */
export const passphraseToOpen = async (args: ParsedArgs, dir: string): Promise<string | undefined> => {
  const given = await passphraseOf(args)
  if (given !== undefined || process.stdin.isTTY !== true) return given
  const keystore = accountPaths(dir).keystore
  const before = typedFor.get(keystore)
  if (before !== undefined) return before
  if (!await isKeystoreFileSealed(keystore)) return undefined
  const typed = await askHidden(`Passphrase of ${keystore}: `)
  if (typed === '') throw new InvalidArgumentError('no passphrase typed: the keystore is sealed')
  if (typed !== undefined) typedFor.set(keystore, typed)
  return typed
}

/**
 * What was typed for each keystore, in this process: asked once, though a read with no
 * daemon may open the store after its saved state could not answer (a wrong one throws
 * before it is used again).
 */
const typedFor = new Map<string, string>()
