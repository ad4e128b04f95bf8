/**
 * `passphrase set|remove`: seals the device keys with a new passphrase (adding one, or
 * changing it), or stores them unsealed. The keystore is rewritten atomically (0600);
 * a daemon that runs keeps the keys it opened, and the next start needs the new one.
 */
import type { ParsedArgs } from './args.ts'
import { usageOf } from './args.ts'
import type { Output } from './output.ts'
import { passphraseOf, passphraseToOpen } from './passphrase-source.ts'
import { askHidden } from './prompt.ts'
import { accountPaths } from '../node/paths.ts'
import { readConfig } from '../node/config.ts'
import { decodeKeystore, encodeKeystore } from '../../identity/keystore.ts'
import { isKeystoreFileSealed, readKeystoreFile, readPassphrase, writeKeystoreFile } from '../../identity/keystore-fs.ts'
import { InvalidArgumentError } from '../errors.ts'

export const NEW_PASSPHRASE_ENV = 'ORBIT_ACCOUNT_NEW_PASSPHRASE'

/** Asks twice on the terminal; undefined when stdin is not one. */
const askNew = async (): Promise<string | undefined> => {
  const first = await askHidden('New passphrase: ')
  if (first === undefined) return undefined
  if (first === '') throw new InvalidArgumentError('no passphrase typed (`passphrase remove` stores the keys unsealed)')
  if (await askHidden('The same again: ') !== first) throw new InvalidArgumentError('the two passphrases typed differ: nothing was changed')
  return first
}

/**
 * The new passphrase: --new-passphrase-file, $ORBIT_ACCOUNT_NEW_PASSPHRASE (one rule for
 * both: a line ending at the end is not part of it), the usual sources when the keystore
 * is not sealed yet (nothing to open it with: they can only mean the new one), or the terminal.
 */
const newPassphraseOf = async (args: ParsedArgs, sealed: boolean): Promise<string> => {
  const file = args.options['new-passphrase-file'] as string | undefined
  const env = process.env[NEW_PASSPHRASE_ENV]
  const given = file !== undefined
    ? await readPassphrase({ passphraseFile: file })
    : env !== undefined ? await readPassphrase({ env: { ORBIT_ACCOUNT_PASSPHRASE: env.replace(/\r?\n$/, '') } }) : undefined
  const next = given ?? (sealed ? undefined : await passphraseOf(args)) ?? await askNew()
  if (next === undefined) {
    throw new InvalidArgumentError(`passphrase set: give the new passphrase with --new-passphrase-file <file> or $${NEW_PASSPHRASE_ENV} (or run it at a terminal)\nusage: ${usageOf('passphrase')}`)
  }
  return next
}

export const runPassphrase = async (args: ParsedArgs, dir: string, out: Output): Promise<void> => {
  const action = args.positionals[0]
  if (action !== 'set' && action !== 'remove') throw new InvalidArgumentError(`passphrase: say set or remove, not '${String(action)}'\nusage: ${usageOf('passphrase')}`)
  const paths = accountPaths(dir)
  // A device's directory only: a replica's keys are opened without a passphrase.
  await readConfig(paths)
  const sealed = await isKeystoreFileSealed(paths.keystore)
  const current = sealed ? await passphraseToOpen(args, dir) : undefined
  const secrets = await decodeKeystore(await readKeystoreFile(paths.keystore), current)
  if (action === 'remove') {
    if (sealed) await writeKeystoreFile(paths.keystore, await encodeKeystore(secrets))
    else out.note(`${paths.keystore} had no passphrase`)
    out.result('passphrase', { sealed: false, keystore: paths.keystore })
    return
  }
  const next = await newPassphraseOf(args, sealed)
  await writeKeystoreFile(paths.keystore, await encodeKeystore(secrets, { passphrase: next }))
  out.result('passphrase', { sealed: true, keystore: paths.keystore })
}
