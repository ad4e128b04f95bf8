#!/usr/bin/env node
/**
 * The `orbit-account` command. Requests go to a running daemon over its local socket;
 * with no daemon, the command opens the store itself. Heavy modules (libp2p, Helia,
 * OrbitDB) are loaded only when this process has to open the store.
 */
import { parseCommandLine, usageOf, USAGE, type ParsedArgs } from './args.ts'
import { makeOutput, type Output } from './output.ts'
import { callDaemon } from '../daemon/client.ts'
import type { Request } from '../daemon/protocol.ts'
import { accountPaths, defaultDir } from '../node/paths.ts'
import { readLock } from '../node/lock.ts'
import { readConfig } from '../node/config.ts'
import { InvalidArgumentError, NotImplementedError, StoreLockedError, isOrbitAccountError } from '../errors.ts'
import { checkKey, parseJsonValue } from '../store/limits.ts'
import type { Mode } from '../types.ts'

const EXIT_ERROR = 1
const EXIT_USAGE = 2
/** Where a daemon listens unless told otherwise: every interface, fresh ports (then remembered). */
const DEFAULT_LISTEN = ['/ip4/0.0.0.0/tcp/0', '/ip4/0.0.0.0/tcp/0/ws']

const readStdin = async (): Promise<string> => {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

const passphraseOf = async (args: ParsedArgs): Promise<string | undefined> => {
  const { readPassphrase } = await import('../../identity/keystore-fs.ts')
  return await readPassphrase(args.passphraseFile !== undefined ? { passphraseFile: args.passphraseFile } : {})
}

/** Builds the store request of a data command, checking its input first. */
const requestOf = async (args: ParsedArgs): Promise<Request> => {
  const [a, b] = args.positionals
  switch (args.command) {
    case 'put': {
      const key = checkKey(a as string)
      const text = b === '-' ? await readStdin() : (b as string)
      return { v: 1, cmd: 'put', key, value: parseJsonValue(text) }
    }
    case 'get': return { v: 1, cmd: 'get', key: checkKey(a as string) }
    case 'del': return { v: 1, cmd: 'del', key: checkKey(a as string) }
    case 'list': {
      const prefix = args.options.prefix as string | undefined
      return prefix !== undefined ? { v: 1, cmd: 'list', prefix } : { v: 1, cmd: 'list' }
    }
    case 'watch': return { v: 1, cmd: 'watch' }
    case 'status': return { v: 1, cmd: 'status' }
    case 'devices': return { v: 1, cmd: 'devices' }
    default: throw new InvalidArgumentError(`${args.command} is not a store command`)
  }
}

/** Resolves on SIGINT/SIGTERM. */
const untilSignal = async (): Promise<void> => await new Promise((resolve) => {
  process.once('SIGINT', () => resolve())
  process.once('SIGTERM', () => resolve())
})

const runCreate = async (args: ParsedArgs, dir: string, out: Output): Promise<void> => {
  const name = args.options.name
  if (typeof name !== 'string') throw new InvalidArgumentError(`create: --name <device> is required\nusage: ${usageOf('create')}`)
  const mode = (args.options.mode as string | undefined) ?? 'encrypted'
  if (!['encrypted', 'public', 'private'].includes(mode)) throw new InvalidArgumentError(`--mode must be encrypted, public or private, not '${mode}'`)
  const { createAccount } = await import('../node/account-dir.ts')
  const passphrase = await passphraseOf(args)
  const account = await createAccount({ dir, name, mode: mode as Mode, ...(passphrase !== undefined ? { passphrase } : {}) })
  try {
    out.result('create', { ...account.info() })
  } finally {
    await account.close()
  }
}

/** Opens the store in this process and serves the socket until a signal (daemon), or runs one request. */
const runLocal = async (args: ParsedArgs, dir: string, out: Output, request: Request | undefined): Promise<void> => {
  const { openAccount } = await import('../node/account-dir.ts')
  const { serveSocket } = await import('../daemon/server.ts')
  const { execute } = await import('../daemon/commands.ts')
  const passphrase = await passphraseOf(args)
  const isDaemon = request === undefined
  const { readNetworkMemory, writeNetworkMemory, listenAddrsToRemember } = await import('../node/network-memory.ts')
  const { accountPaths: pathsOf } = await import('../node/paths.ts')
  const memoryPath = pathsOf(dir).peers
  const memory = await readNetworkMemory(memoryPath)
  const given = args.options.listen as string[] | undefined
  const listen = !isDaemon ? [] : given ?? (memory.listen.length > 0 ? memory.listen : DEFAULT_LISTEN)
  const open = async (addrs: string[]): Promise<Awaited<ReturnType<typeof openAccount>>> =>
    await openAccount({ dir, listen: addrs, role: isDaemon || request.cmd === 'watch' ? 'daemon' : 'command', ...(passphrase !== undefined ? { passphrase } : {}) })
  let account
  let used = listen
  try {
    account = await open(listen)
  } catch (err) {
    // A remembered port may be taken now: fall back to fresh ports.
    if (!isDaemon || given !== undefined || memory.listen.length === 0 || isOrbitAccountError(err)) throw err
    out.note(`could not listen on ${memory.listen.join(', ')} (${(err as Error).message}); using new ports`)
    used = DEFAULT_LISTEN
    account = await open(used)
  }
  try {
    if (isDaemon) {
      const server = await serveSocket(account, account.paths.socket)
      const { multiaddr } = await import('@multiformats/multiaddr')
      const peers = [...new Set([...memory.peers, ...((args.options.peer as string[] | undefined) ?? [])])]
      const reached: string[] = []
      await Promise.all(peers.map(async (peer) => {
        try {
          await account.node.libp2p.dial(multiaddr(peer), { signal: AbortSignal.timeout(10_000) })
          reached.push(peer)
        } catch (err) {
          out.note(`could not reach ${peer}: ${(err as Error).message}`)
        }
      }))
      await writeNetworkMemory(memoryPath, { listen: listenAddrsToRemember(used, account.addrs()), peers: [...memory.peers, ...reached] })
      out.result('daemon', { ready: true, peerId: account.peerId(), addrs: account.addrs() })
      await untilSignal()
      await server.close()
      return
    }
    const frames = (frame: Parameters<Parameters<typeof execute>[2]>[0]): void => {
      if ('out' in frame) out.result(args.command, frame.out)
      else if ('note' in frame) out.note(frame.note)
    }
    if (request.cmd === 'watch') {
      // A watching process holds the store, so it serves the socket for other commands.
      const server = await serveSocket(account, account.paths.socket)
      const stop = new AbortController()
      void untilSignal().then(() => stop.abort())
      await execute(account, request, frames, stop.signal)
      await server.close()
      return
    }
    await execute(account, request, frames)
  } finally {
    await account.close()
  }
}

const runStoreCommand = async (args: ParsedArgs, dir: string, out: Output): Promise<void> => {
  const request = await requestOf(args)
  const paths = accountPaths(dir)
  await readConfig(paths)
  const stop = new AbortController()
  if (request.cmd === 'watch') void untilSignal().then(() => stop.abort())
  const deadline = Date.now() + 15_000
  for (;;) {
    const result = await callDaemon(paths.socket, request, (frame) => {
      if ('out' in frame) out.result(args.command, frame.out)
      else if ('note' in frame) out.note(frame.note)
    }, stop.signal)
    if (result.reached) {
      if (result.error !== undefined) {
        const { OrbitAccountError } = await import('../errors.ts')
        throw new OrbitAccountError(result.error.code as ConstructorParameters<typeof OrbitAccountError>[0], result.error.message)
      }
      return
    }
    try {
      await runLocal(args, dir, out, request)
      return
    } catch (err) {
      // A daemon that is starting holds the lock before its socket listens: wait for it.
      const holder = await readLock(paths.lock)
      if (!(err instanceof StoreLockedError) || holder?.role !== 'daemon' || Date.now() > deadline) throw err
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }
}

export const main = async (argv: string[]): Promise<number> => {
  const json = argv.includes('--json')
  let out = makeOutput(json)
  try {
    const args = parseCommandLine(argv)
    out = makeOutput(args.json)
    if (args.help || args.command === 'help') {
      const topic = args.command === 'help' ? args.positionals[0] : args.command
      process.stdout.write((topic !== undefined && topic !== 'help' ? `usage: ${usageOf(topic as Parameters<typeof usageOf>[0])}` : USAGE) + '\n')
      return 0
    }
    const dir = args.dir ?? defaultDir()
    switch (args.command) {
      case 'create': await runCreate(args, dir, out); break
      case 'daemon': await runLocal(args, dir, out, undefined); break
      case 'invite': case 'join': case 'revoke': case 'serve':
        throw new NotImplementedError(`'${args.command}' is not implemented yet in this version (it comes with device joining, revocation and the blind replica)`)
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

const code = await main(process.argv.slice(2))
process.exit(code)
