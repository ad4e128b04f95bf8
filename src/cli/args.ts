/**
 * Command-line parsing: which command, its positionals and options, checked before
 * anything opens. Every mistake is an InvalidArgumentError naming what is wrong.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { InvalidArgumentError } from '../errors.ts'

export const COMMANDS = ['create', 'daemon', 'invite', 'join', 'put', 'get', 'del', 'list', 'watch', 'status', 'devices', 'revoke', 'swarm-key', 'serve', 'help'] as const
export type CommandName = typeof COMMANDS[number]

type Options = NonNullable<ParseArgsConfig['options']>

const GLOBAL: Options = {
  dir: { type: 'string' },
  json: { type: 'boolean' },
  'passphrase-file': { type: 'string' },
  help: { type: 'boolean', short: 'h' }
}

const SPECS: Record<CommandName, { options: Options, positionals: [number, number], usage: string }> = {
  create: { options: { name: { type: 'string' }, mode: { type: 'string' } }, positionals: [0, 0], usage: 'create --name <device> [--mode encrypted|public|private]' },
  daemon: { options: { listen: { type: 'string', multiple: true }, peer: { type: 'string', multiple: true }, 'swarm-key': { type: 'string' } }, positionals: [0, 0], usage: 'daemon [--listen <multiaddr>...] [--peer <multiaddr>...] [--swarm-key <hex>]' },
  invite: { options: { ttl: { type: 'string' }, role: { type: 'string' }, confirm: { type: 'boolean' }, 'no-qr': { type: 'boolean' }, listen: { type: 'string', multiple: true } }, positionals: [0, 0], usage: 'invite [--ttl 10m] [--role member|admin] [--confirm] [--no-qr] [--listen <multiaddr>...]' },
  join: { options: { name: { type: 'string' } }, positionals: [1, 1], usage: 'join <invite> --name <device>' },
  put: { options: {}, positionals: [2, 2], usage: 'put <key> <json|->' },
  get: { options: {}, positionals: [1, 1], usage: 'get <key>' },
  del: { options: {}, positionals: [1, 1], usage: 'del <key>' },
  list: { options: { prefix: { type: 'string' } }, positionals: [0, 0], usage: 'list [--prefix <p>]' },
  watch: { options: {}, positionals: [0, 0], usage: 'watch' },
  status: { options: {}, positionals: [0, 0], usage: 'status' },
  devices: { options: {}, positionals: [0, 0], usage: 'devices' },
  revoke: { options: {}, positionals: [1, 1], usage: 'revoke <device-id-or-name>' },
  'swarm-key': { options: {}, positionals: [0, 0], usage: 'swarm-key' },
  serve: { options: { listen: { type: 'string', multiple: true }, peer: { type: 'string', multiple: true }, 'swarm-key': { type: 'string' } }, positionals: [1, 1], usage: 'serve <account-address> [--listen <multiaddr>...] [--peer <multiaddr>...] [--swarm-key <hex>]' },
  help: { options: {}, positionals: [0, 1], usage: 'help [command]' }
}

export interface ParsedArgs {
  command: CommandName
  positionals: string[]
  options: Record<string, string | boolean | string[] | undefined>
  json: boolean
  dir: string | undefined
  passphraseFile: string | undefined
  help: boolean
}

export const usageOf = (command: CommandName): string => `orbit-account ${SPECS[command].usage} [--dir <path>] [--json]`

export const USAGE = [
  'usage: orbit-account <command> [options] [--dir <path>] [--json]',
  '',
  'commands:',
  ...COMMANDS.filter((c) => c !== 'help').map((c) => `  ${SPECS[c].usage}`),
  '',
  'Every command takes --dir <path> (default $ORBIT_ACCOUNT_DIR or ~/.orbit-account) and',
  '--json (one JSON object per line on stdout; errors as JSON on stderr). A sealed keystore',
  'is opened with --passphrase-file <file> or $ORBIT_ACCOUNT_PASSPHRASE.'
].join('\n')

const isCommand = (s: string): s is CommandName => (COMMANDS as readonly string[]).includes(s)

const ALL_OPTIONS: Options = Object.assign({}, GLOBAL, ...Object.values(SPECS).map((s) => s.options))

export const parseCommandLine = (argv: string[]): ParsedArgs => {
  // A first, lenient pass finds the command word (option values are not commands).
  let loose
  try {
    loose = parseArgs({ args: argv, options: ALL_OPTIONS, allowPositionals: true, strict: false, tokens: true })
  } catch (err) {
    throw new InvalidArgumentError(`${(err as Error).message}\n${USAGE}`)
  }
  const token = loose.tokens.find((t) => t.kind === 'positional')
  const name = token?.kind === 'positional' ? token.value : undefined
  if (name === undefined || token === undefined) {
    if (loose.values.help === true) return { command: 'help', positionals: [], options: {}, json: loose.values.json === true, dir: undefined, passphraseFile: undefined, help: true }
    throw new InvalidArgumentError(`no command given\n${USAGE}`)
  }
  if (!isCommand(name)) throw new InvalidArgumentError(`unknown command '${name}'\n${USAGE}`)
  const first = token.index
  const spec = SPECS[name]
  const rest = [...argv.slice(0, first), ...argv.slice(first + 1)]
  let parsed
  try {
    parsed = parseArgs({ args: rest, options: { ...GLOBAL, ...spec.options }, allowPositionals: true, strict: true })
  } catch (err) {
    throw new InvalidArgumentError(`${(err as Error).message}\nusage: ${usageOf(name)}`)
  }
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>
  const help = values.help === true
  const [min, max] = spec.positionals
  if (!help && (parsed.positionals.length < min || parsed.positionals.length > max)) {
    const what = parsed.positionals.length < min ? 'missing argument' : `unexpected argument '${parsed.positionals[max] ?? ''}'`
    throw new InvalidArgumentError(`${name}: ${what}\nusage: ${usageOf(name)}`)
  }
  const dir = values.dir as string | undefined
  if (dir === '') throw new InvalidArgumentError('--dir must not be empty')
  return {
    command: name,
    positionals: parsed.positionals,
    options: values,
    json: values.json === true,
    dir,
    passphraseFile: values['passphrase-file'] as string | undefined,
    help
  }
}
