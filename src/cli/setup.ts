/** The commands that make an account directory: `create`, `join` and `recover`. */
import type { ParsedArgs } from './args.ts'
import { usageOf } from './args.ts'
import type { Output } from './output.ts'
import { passphraseOf } from './passphrase-source.ts'
import { AccountExistsError, InvalidArgumentError } from '../errors.ts'
import { access } from 'node:fs/promises'
import { accountPaths } from '../node/paths.ts'
import { makeDir } from './checks.ts'
import { askLine, readStdin, readWords } from './prompt.ts'
import type { Mode } from '../types.ts'

const requireName = (args: ParsedArgs): string => {
  const name = args.options.name
  if (typeof name !== 'string') throw new InvalidArgumentError(`${args.command}: --name <device> is required\nusage: ${usageOf(args.command)}`)
  return name
}

export const runCreate = async (args: ParsedArgs, dir: string, out: Output): Promise<void> => {
  const name = requireName(args)
  const mode = (args.options.mode as string | undefined) ?? 'encrypted'
  if (!['encrypted', 'public', 'private'].includes(mode)) throw new InvalidArgumentError(`--mode must be encrypted, public or private, not '${mode}'`)
  const passphrase = await passphraseOf(args)
  await makeDir(dir)
  const { createAccount } = await import('../node/account-dir.ts')
  const { generateRecoveryWords } = await import('../account/recovery-words.ts')
  // Shown once, never stored: the person writes them down.
  const recoveryWords = args.options['no-recovery'] === true ? undefined : generateRecoveryWords()
  const account = await createAccount({ dir, name, mode: mode as Mode, ...(passphrase !== undefined ? { passphrase } : {}), ...(recoveryWords !== undefined ? { recoveryWords } : {}) })
  try {
    out.result('create', { ...account.info(), ...(recoveryWords !== undefined ? { recovery: recoveryWords } : {}) })
  } finally {
    await account.close()
  }
}

/** What `join` says when the invite came on the command line (it still joins: the CLI contract). */
export const ARGV_INVITE_NOTE = 'note: the invite was on the command line, where every user of this machine can see it (`ps`) while the join runs; ' +
  'next time pipe it in (`echo <invite> | orbit-account join - --name <device>`) or leave it out to be asked for it'

/** The invite: from stdin (`-`), asked for at the terminal (none given), or from the command line. */
const inviteText = async (args: ParsedArgs): Promise<{ text: string, onArgv: boolean }> => {
  const given = args.positionals[0]
  if (given !== undefined && given !== '-') return { text: given, onArgv: true }
  const typed = await askLine('Paste the invite, then Enter: ')
  if (typed !== undefined) return { text: typed, onArgv: false }
  if (given === '-') return { text: await readStdin(MAX_INVITE_INPUT, () => new InvalidArgumentError('join -: stdin holds more than an invite')), onArgv: false }
  throw new InvalidArgumentError(`join: no invite given: pipe it in with \`join -\` (or run at a terminal to be asked for it)\nusage: ${usageOf('join')}`)
}

/** More than any invite with its line breaks: stdin past this is not an invite. */
const MAX_INVITE_INPUT = 16 * 1024

export const runJoin = async (args: ParsedArgs, dir: string, out: Output): Promise<void> => {
  const name = requireName(args)
  const { parseInvite } = await import('../invite/invite.ts')
  const given = await inviteText(args)
  // A pasted invite may carry the line breaks and spaces of a wrapped terminal line.
  const text = given.text.replace(/\s+/g, '')
  parseInvite(text, { now: Date.now() })
  if (given.onArgv) out.note(ARGV_INVITE_NOTE)
  const config = accountPaths(dir).config
  if (await access(config).then(() => true, () => false)) {
    throw new AccountExistsError(`an account already exists in ${accountPaths(dir).dir}: a device joins in a new --dir (a revoked device's directory stays revoked)`)
  }
  const passphrase = await passphraseOf(args)
  await makeDir(dir)
  const { joinAccount } = await import('../node/account-dir.ts')
  const stop = new AbortController()
  const onSignal = (): void => stop.abort(new Error('interrupted'))
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    const account = await joinAccount({
      dir,
      invite: text,
      name,
      signal: stop.signal,
      ...(passphrase !== undefined ? { passphrase } : {}),
      onProgress: (m) => out.note(m),
      onCode: (code) => {
        out.note(`confirmation code: ${code} (check that the inviting device shows the same code)`)
        // A script reads it from stdout too, as the inviting side's {"confirm":{...}}.
        if (args.json) out.result('join', { confirm: { code } })
      }
    })
    try {
      const info = account.info()
      out.result('join', { account: info.account, device: info.device, name: info.name, epoch: info.epoch })
    } finally {
      await account.close()
    }
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

export const runRecover = async (args: ParsedArgs, dir: string, out: Output): Promise<void> => {
  const name = requireName(args)
  const address = args.positionals[0] as string
  const config = accountPaths(dir).config
  if (await access(config).then(() => true, () => false)) {
    throw new AccountExistsError(`an account already exists in ${accountPaths(dir).dir}: recover into a new --dir`)
  }
  const { recoveryKeysFromWords } = await import('../account/recovery-words.ts')
  // Never from argv, where \`ps\` shows them to every local user.
  const words = await readWords('Type the 24 recovery words (any case, spaces or line breaks), then Enter:')
  recoveryKeysFromWords(words)
  const passphrase = await passphraseOf(args)
  await makeDir(dir)
  const { recoverAccount } = await import('../node/account-dir.ts')
  const account = await recoverAccount({
    dir,
    address,
    words,
    name,
    peers: (args.options.peer as string[] | undefined) ?? [],
    revokeOthers: args.options['revoke-others'] === true,
    ...(passphrase !== undefined ? { passphrase } : {}),
    onProgress: (m) => out.note(m)
  })
  try {
    const info = account.info()
    out.result('recover', { account: info.account, device: info.device, name: info.name, epoch: info.epoch })
  } finally {
    await account.close()
  }
}
