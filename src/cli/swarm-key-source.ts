/**
 * Where a swarm key given by hand (`daemon`, `serve`) comes from: a file only this user
 * can read (--swarm-key-file), $ORBIT_ACCOUNT_SWARM_KEY, or stdin (--swarm-key -). Never
 * the command line: there `ps` shows it to every user of the machine.
 */
import { open } from 'node:fs/promises'
import type { ParsedArgs } from './args.ts'
import { askHidden, readStdin } from './prompt.ts'
import { InvalidArgumentError, PermissionDeniedError, UnsafePermissionsError } from '../errors.ts'
import { parseSwarmKey } from '../network/swarm-key.ts'

export const SWARM_KEY_ENV = 'ORBIT_ACCOUNT_SWARM_KEY'
/** A swarm key file is a line of hex or libp2p's three-line swarm.key: anything this long is something else. */
const MAX_FILE_BYTES = 4096

const HOW = `give it with --swarm-key-file <file> (a file only you can read), $${SWARM_KEY_ENV}, or --swarm-key - (read from stdin)`

/**
 * Refuses a swarm key on the command line, before anything starts. The value is not
 * repeated in the message: it is a secret.
 */
export const checkSwarmKeyArgs = (args: ParsedArgs): void => {
  const value = args.options['swarm-key']
  if (value === undefined) return
  if (value !== '-') {
    throw new InvalidArgumentError(`--swarm-key takes no key on the command line, where \`ps\` shows it to every user of this machine: ${HOW}. ` +
      'A swarm key is 64 hex characters, from `orbit-account swarm-key` on a device of the account')
  }
  if (args.options['swarm-key-file'] !== undefined) throw new InvalidArgumentError('give the swarm key one way: --swarm-key - or --swarm-key-file, not both')
}

const errCode = (err: unknown): string | undefined => (err as NodeJS.ErrnoException).code

/** Reads a key file the way ssh reads a private key: refused when it is not this user's alone. */
const readKeyFile = async (path: string): Promise<string> => {
  let handle
  try {
    handle = await open(path, 'r')
  } catch (err) {
    if (errCode(err) === 'EACCES' || errCode(err) === 'EPERM') throw new PermissionDeniedError(`this user may not read the swarm key file ${path}`, { cause: err })
    throw new InvalidArgumentError(`cannot read the swarm key file ${path} (${errCode(err) ?? (err as Error).message})`, { cause: err })
  }
  try {
    // Checked on the open file: what is read is what was checked.
    const st = await handle.stat()
    if (!st.isFile()) throw new InvalidArgumentError(`the swarm key file ${path} is not a regular file`)
    // POSIX owners and modes (Windows has neither: its ACLs are not checked here).
    const uid = process.geteuid?.()
    if (uid !== undefined && st.uid !== uid) {
      throw new UnsafePermissionsError(`the swarm key file ${path} belongs to uid ${st.uid}, not to this user: keep the key in a file of your own (chmod 600)`)
    }
    if (uid !== undefined && (st.mode & 0o077) !== 0) {
      throw new UnsafePermissionsError(`the swarm key file ${path} is open to other users (mode ${(st.mode & 0o777).toString(8)}): run \`chmod 600 ${path}\`, as for an ssh key`)
    }
    if (st.size > MAX_FILE_BYTES) throw new InvalidArgumentError(`the swarm key file ${path} is ${st.size} bytes: a swarm key file holds 64 hex characters`)
    return await handle.readFile('utf8')
  } finally {
    await handle.close()
  }
}

/** The swarm key given by hand to `daemon` or `serve`, or undefined when none was. */
export const swarmKeyOf = async (args: ParsedArgs): Promise<Uint8Array | undefined> => {
  checkSwarmKeyArgs(args)
  const file = args.options['swarm-key-file'] as string | undefined
  if (file !== undefined) return parseSwarmKey(await readKeyFile(file))
  if (args.options['swarm-key'] === '-') {
    const text = process.stdin.isTTY === true ? await askHidden('Swarm key (64 hex characters, not shown): ') : await readStdin()
    return parseSwarmKey(text ?? '')
  }
  const env = process.env[SWARM_KEY_ENV]
  if (env !== undefined && env.trim() !== '') return parseSwarmKey(env)
  return undefined
}
