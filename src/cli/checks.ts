/**
 * Checks of the command line that need the file system or a parser, made before
 * anything starts (a daemon already running included): a bad one is INVALID_ARGUMENT.
 */
import { mkdir, readFile, stat } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import type { ParsedArgs } from './args.ts'
import { InvalidArgumentError, PermissionDeniedError } from '../errors.ts'
import { PACKAGE_ROOT } from './package-root.ts'

const errCode = (err: unknown): string | undefined => (err as NodeJS.ErrnoException).code

const kindOf = async (path: string): Promise<'dir' | 'other' | 'none'> => {
  try {
    return (await stat(path)).isDirectory() ? 'dir' : 'other'
  } catch (err) {
    if (errCode(err) === 'ENOENT') return 'none'
    if (errCode(err) === 'ENOTDIR') return 'other'
    if (errCode(err) === 'EACCES') throw new PermissionDeniedError(`this user may not reach ${path}: use a directory of your own (--dir)`, { cause: err })
    throw err
  }
}

/** `--dir` must be a directory, or a path where one can be made. */
export const checkDir = async (dir: string): Promise<void> => {
  const kind = await kindOf(resolve(dir))
  if (kind === 'other') throw new InvalidArgumentError(`--dir ${dir} is a file, not a directory: name a directory (a new one is created)`)
}

/**
 * Makes `dir` and its missing parents one level at a time (a recursive mkdir can spin
 * forever under /proc), so a path that cannot be a directory fails at once, saying why.
 */
export const makeDir = async (dir: string): Promise<void> => {
  const path = resolve(dir)
  const missing: string[] = []
  let at = path
  for (;;) {
    const kind = await kindOf(at)
    if (kind === 'dir') break
    if (kind === 'other') throw new InvalidArgumentError(`--dir ${dir}: ${at} is a file, not a directory`)
    missing.unshift(at)
    if (dirname(at) === at) break
    at = dirname(at)
  }
  for (const p of missing) {
    try {
      await mkdir(p, { mode: 0o700 })
    } catch (err) {
      if (errCode(err) === 'EEXIST' && await kindOf(p) === 'dir') continue
      if (errCode(err) === 'EACCES' || errCode(err) === 'EPERM') throw new PermissionDeniedError(`--dir ${dir}: this user may not create ${p}`, { cause: err })
      throw new InvalidArgumentError(`--dir ${dir}: cannot create the directory ${p} (${errCode(err) ?? (err as Error).message})`, { cause: err })
    }
  }
}

/** `--listen` and `--peer` are multiaddrs; `--peer` names its peer (…/p2p/<id>). */
export const checkAddresses = async (args: ParsedArgs): Promise<void> => {
  const listen = (args.options.listen as string[] | undefined) ?? []
  const peers = (args.options.peer as string[] | undefined) ?? []
  if (listen.length === 0 && peers.length === 0) return
  const { multiaddr } = await import('@multiformats/multiaddr')
  for (const [option, values, example] of [['--listen', listen, '/ip4/0.0.0.0/tcp/4001'], ['--peer', peers, '/ip4/192.168.1.20/tcp/4001/p2p/12D3Koo...']] as const) {
    for (const value of values) {
      try {
        multiaddr(value)
      } catch {
        throw new InvalidArgumentError(`${option} ${value} is not a multiaddr (like ${example})`)
      }
    }
  }
}

/** This package's version, from its package.json. */
export const packageVersion = async (): Promise<string> => {
  try {
    const pkg = JSON.parse(await readFile(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { name?: unknown, version?: unknown }
    if (pkg.name === 'orbit-account' && typeof pkg.version === 'string') return pkg.version
  } catch {}
  return 'unknown'
}
