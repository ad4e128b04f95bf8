#!/usr/bin/env node
/**
 * The `orbit-account` command. Requests go to a running daemon over its local socket;
 * with no daemon, the command opens the store itself. Heavy modules (libp2p, Helia,
 * OrbitDB) are loaded only when this process has to open the store.
 */
import { COMMANDS, helpOf, parseCommandLine, usageOf, USAGE, type CommandName, type ParsedArgs } from './args.ts'
import { makeOutput, type Output } from './output.ts'
import { callDaemon } from '../daemon/client.ts'
import type { Frame, Question, Request } from '../daemon/protocol.ts'
import { accountPaths, defaultDir } from '../node/paths.ts'
import { stat } from 'node:fs/promises'
import { lockState } from '../node/lock.ts'
import { readConfig } from '../node/config.ts'
import { isOfflineRead } from './offline-read.ts'
import { InvalidArgumentError, OrbitAccountError, StoreLockedError, ValueTooLargeError, isOrbitAccountError, type ErrorCode } from '../errors.ts'
import { checkAddresses, checkDir, packageVersion } from './checks.ts'
import { askYesNo, closePrompt, readStdin, readWords } from './prompt.ts'
import { checkKey, checkValue, MAX_VALUE_BYTES, parseJsonValue } from '../store/limits.ts'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { PACKAGE_ROOT } from './package-root.ts'
import { checkSwarmKeyArgs } from './swarm-key-source.ts'

const EXIT_ERROR = 1
const EXIT_USAGE = 2
/** How long a command waits for a daemon that is starting (then it goes through its socket). */
const DAEMON_WAIT_MS = 15_000
/** How long a command waits for another process that holds the store (a command finishing). */
const HOLDER_WAIT_MS = 12_000

/** A key is a command-line argument: whatever is wrong with it is INVALID_ARGUMENT (exit 2). */
const keyOf = (key: string): string => {
  try {
    return checkKey(key)
  } catch (err) {
    if (isOrbitAccountError(err) && err.code !== 'INVALID_ARGUMENT') throw new InvalidArgumentError(err.message)
    throw err
  }
}

/** Builds the request of a command that runs against the store, checking its input first. */
const requestOf = async (args: ParsedArgs): Promise<Request> => {
  const [a, b] = args.positionals
  switch (args.command) {
    case 'put': {
      const key = keyOf(a as string)
      // Stdin is read only so far past the limit: a value over it is refused either way.
      const text = b === '-' ? await readStdin(MAX_VALUE_BYTES * 4, (n) => new ValueTooLargeError(`value is over ${n} bytes of JSON; the limit is ${MAX_VALUE_BYTES}`)) : (b as string)
      const value = parseJsonValue(text)
      // Checked here too: a value over the limit never travels to the daemon.
      checkValue(value)
      return { v: 1, cmd: 'put', key, value }
    }
    case 'import': return await (await import('./import.ts')).importRequest(a)
    case 'get': return { v: 1, cmd: 'get', key: keyOf(a as string) }
    case 'del': return { v: 1, cmd: 'del', key: keyOf(a as string) }
    case 'list': {
      const prefix = args.options.prefix as string | undefined
      return prefix !== undefined ? { v: 1, cmd: 'list', prefix } : { v: 1, cmd: 'list' }
    }
    case 'watch': return { v: 1, cmd: 'watch' }
    case 'status': return { v: 1, cmd: 'status' }
    case 'devices': return { v: 1, cmd: 'devices' }
    case 'swarm-key': return { v: 1, cmd: 'swarm-key' }
    case 'revoke': return { v: 1, cmd: 'revoke', device: a as string }
    case 'replica': {
      if (a !== 'add' && a !== 'remove') throw new InvalidArgumentError(`replica: say add or remove, not '${String(a)}'\nusage: ${usageOf('replica')}`)
      return { v: 1, cmd: 'replica', action: a, target: b as string }
    }
    case 'recovery': {
      if (a !== 'add' && a !== 'rotate') throw new InvalidArgumentError(`recovery: say add or rotate, not '${String(a)}'\nusage: ${usageOf('recovery')}`)
      const { generateRecoveryWords, recoveryKeysFromWords } = await import('../account/recovery-words.ts')
      const next = generateRecoveryWords()
      if (a === 'add') return { v: 1, cmd: 'recovery', action: 'add', next }
      const current = await readWords('Type the current 24 recovery words, then Enter:')
      recoveryKeysFromWords(current)
      return { v: 1, cmd: 'recovery', action: 'rotate', current, next }
    }
    case 'invite': {
      const role = (args.options.role as string | undefined) ?? 'member'
      if (role !== 'member' && role !== 'admin') throw new InvalidArgumentError(`--role must be member or admin, not '${role}'`)
      const { parseTtl } = await import('../invite/invite.ts')
      // A detached invite is answered by a daemon, which has no person to ask.
      if (args.options.detach === true && args.options.confirm === true) throw new InvalidArgumentError(`--detach and --confirm do not go together: a confirmation needs the invite shown here\nusage: ${usageOf('invite')}`)
      return { v: 1, cmd: 'invite', ttlMs: parseTtl((args.options.ttl as string | undefined) ?? '10m'), role, confirm: args.options.confirm === true, ...(args.options.detach === true ? { detach: true } : {}) }
    }
    default: throw new InvalidArgumentError(`${args.command} is not a store command`)
  }
}

const lockExists = async (path: string): Promise<boolean> => await stat(path).then(() => true, () => false)

/** Asks the person at this terminal to admit a device. */
const askAdmit = async (q: Question): Promise<boolean> =>
  await askYesNo(`Device '${q.name}' (${q.device}) asks to join. Its code is ${q.code}: does the new device show the same code? Admit it?`)

/** Whether to try again (after a pause) when the store is locked: a daemon starting, another command running. */
const shouldWait = async (err: unknown, lockPath: string, since: number): Promise<boolean> => {
  if (!(err instanceof StoreLockedError)) return false
  // Only a holder is waited for: an unreadable lock is for a person to look at, and with none
  // the store is held by a process that took no lock (or a lock was removed under it).
  const state = await lockState(lockPath)
  // Released since the lock refused us (commands run together): try again. An error with a
  // cause came from the store's own files (held with no lock): that is not waited for.
  if (state.kind === 'gone') return err.cause === undefined && Date.now() - since < HOLDER_WAIT_MS
  if (state.kind !== 'held') return false
  return Date.now() - since < (state.info.role === 'daemon' ? DAEMON_WAIT_MS : HOLDER_WAIT_MS)
}

/** Runs a store command through the daemon, or with the store opened here when none runs. */
const runStoreCommand = async (args: ParsedArgs, dir: string, out: Output): Promise<void> => {
  const request = await requestOf(args)
  const paths = accountPaths(dir)
  await readConfig(paths)
  const stop = new AbortController()
  if (request.cmd === 'watch' || request.cmd === 'invite') {
    const onSignal = (): void => stop.abort()
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
  }
  let admitted = false
  const frames = (frame: Frame): void => {
    if ('out' in frame) {
      if (request.cmd === 'invite' && typeof frame.out.invite === 'string' && !args.json) showInvite(frame.out.invite, args.options['no-qr'] !== true)
      if (frame.out.admitted !== undefined) admitted = true
      // New recovery words are shown only once they are in the registry.
      out.result(args.command, request.cmd === 'recovery' ? { ...frame.out, recovery: request.next } : frame.out)
    } else if ('note' in frame) out.note(frame.note)
  }
  let since = Date.now()
  for (;;) {
    let result
    try {
      result = await callDaemon(paths.socket, request, frames, stop.signal, askAdmit)
    } catch (err) {
      // The daemon went away under a watch: carry on without it (a socket this user may not use is no daemon gone).
      if (request.cmd !== 'watch' || stop.signal.aborted || !(isOrbitAccountError(err) && err.code === 'PROTOCOL_ERROR')) throw err
      result = { reached: true as const, error: undefined }
    }
    if (result.reached) {
      if (result.error !== undefined) throw new OrbitAccountError(result.error.code as ErrorCode, result.error.message)
      if (request.cmd === 'watch' && !stop.signal.aborted) {
        out.note('the daemon stopped; watching on (through the next daemon, or with the store opened here)')
        since = Date.now()
        continue
      }
      break
    }
    // A read with no daemon: from the state saved at the last close, with no network (src/cli/offline.ts).
    // Not while a lock is there: another process holds the store, or one was killed (its last changes may not be saved).
    if (isOfflineRead(request) && args.options.sync !== true && !(await lockExists(paths.lock))) {
      const { answerOffline } = await import('./offline.ts')
      const { passphraseToOpen } = await import('./passphrase-source.ts')
      if (await answerOffline(paths, await readConfig(paths), request, await passphraseToOpen(args, dir), frames)) break
    }
    try {
      const { runLocal } = await import('./local.ts')
      await runLocal(args, dir, { ...out, result: (c, o) => frames({ out: o }) }, request, askAdmit)
      break
    } catch (err) {
      if (!await shouldWait(err, paths.lock, since)) throw err
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }
  if (request.cmd === 'invite' && stop.signal.aborted && !admitted) out.note('invite withdrawn: it no longer admits anyone')
}

/** Prints an invite for a person: the QR code (unless --no-qr) and the text, in a line that pastes as is. */
const showInvite = (text: string, qr: boolean): void => {
  // Piped in by the shell's own echo: the invite is in no process's command line (`ps`).
  const hint = `echo ${text} | orbit-account join - --name "$(hostname)"`
  if (!qr) {
    process.stdout.write(`Run this on the new device (the invite works once):\n  ${hint}\n`)
    return
  }
  void import('../invite/qr.ts').then(async ({ renderQr }) => {
    process.stdout.write(`${await renderQr(text)}\nScan this code with the new device, or run there:\n  ${hint}\n`)
  })
}

export const main = async (argv: string[]): Promise<number> => {
  const json = argv.includes('--json')
  let out = makeOutput(json)
  try {
    const args = parseCommandLine(argv)
    out = makeOutput(args.json)
    if (args.version) {
      const version = await packageVersion()
      process.stdout.write((args.json ? JSON.stringify({ version }) : `orbit-account ${version}`) + '\n')
      return 0
    }
    if (args.help || args.command === 'help') {
      const topic = args.command === 'help' ? args.positionals[0] : args.command
      if (topic !== undefined && topic !== 'help' && !(COMMANDS as readonly string[]).includes(topic)) throw new InvalidArgumentError(`unknown command '${topic}'\n${USAGE}`)
      process.stdout.write((topic !== undefined ? helpOf(topic as CommandName) : USAGE) + '\n')
      return 0
    }
    const dir = args.dir ?? defaultDir()
    await checkAddresses(args)
    checkSwarmKeyArgs(args)
    if (args.command !== 'create' && args.command !== 'join' && args.command !== 'recover' && args.command !== 'web') await checkDir(dir)
    switch (args.command) {
      case 'create': await (await import('./setup.ts')).runCreate(args, dir, out); break
      case 'join': await (await import('./setup.ts')).runJoin(args, dir, out); break
      case 'recover': await (await import('./setup.ts')).runRecover(args, dir, out); break
      case 'daemon': await (await import('./local.ts')).runDaemon(args, dir, out); break
      case 'serve': await (await import('./serve.ts')).runServe(args, dir, out); break
      case 'web': await (await import('./web.ts')).runWeb(args, out); break
      case 'passphrase': await (await import('./passphrase.ts')).runPassphrase(args, dir, out); break
      default: await runStoreCommand(args, dir, out)
    }
    return 0
  } catch (err) {
    if (isOrbitAccountError(err)) {
      out.error(err.code, err.message)
      return err.code === 'INVALID_ARGUMENT' ? EXIT_USAGE : EXIT_ERROR
    }
    out.error('INTERNAL', err instanceof Error ? err.message : String(err))
    return EXIT_ERROR
  }
}

// Started by the launcher (bin/orbit-account) the cache is on already; started as `node <this file>`, from here on.
;(createRequire(import.meta.url)(join(PACKAGE_ROOT, 'bin', 'compile-cache.cjs')) as { useCompileCache: () => void }).useCompileCache()
const code = await main(process.argv.slice(2))
closePrompt()
// A pipe may not have taken everything yet: exit only once stdout and stderr are flushed.
await Promise.all([process.stdout, process.stderr].map(async (s) => { await new Promise<void>((resolve) => s.write('', () => resolve())) }))
process.exit(code)
