/**
 * Command-line parsing: which command, its positionals and options, checked before
 * anything opens. Every mistake is an InvalidArgumentError naming what is wrong.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { InvalidArgumentError } from '../errors.ts'

export const COMMANDS = ['create', 'daemon', 'invite', 'join', 'put', 'import', 'get', 'del', 'list', 'watch', 'status', 'devices', 'revoke', 'recover', 'recovery', 'swarm-key', 'passphrase', 'serve', 'web', 'replica', 'help'] as const
export type CommandName = typeof COMMANDS[number]

type Options = NonNullable<ParseArgsConfig['options']>

const GLOBAL: Options = {
  dir: { type: 'string' },
  json: { type: 'boolean' },
  'passphrase-file': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' }
}

/** How `daemon` and `serve` take a private account's swarm key: never on the command line, where `ps` shows it. */
const SWARM_KEY_ABOUT = 'A private account\'s swarm key (from `orbit-account swarm-key`) is read from --swarm-key-file <file> (owner-only, 64 hex characters or the libp2p swarm.key format), from $ORBIT_ACCOUNT_SWARM_KEY, or from stdin with --swarm-key -; never from the command line.'

interface Spec {
  options: Options
  /** The positionals' names, required ones first: [min, max] is derived from them. */
  positionals: [number, number]
  names?: string[]
  usage: string
  /** What the command does, in a sentence, and an example (per-command help). */
  about: string
  example: string
}

const SPECS: Record<CommandName, Spec> = {
  create: { options: { name: { type: 'string' }, mode: { type: 'string' }, 'no-recovery': { type: 'boolean' } }, positionals: [0, 0], usage: 'create --name <device> [--mode encrypted|public|private] [--no-recovery]', about: 'Creates an account with this machine as its first device (an admin), and shows its 24 recovery words once (--no-recovery: none).', example: 'orbit-account create --name laptop' },
  daemon: { options: { listen: { type: 'string', multiple: true }, peer: { type: 'string', multiple: true }, 'swarm-key': { type: 'string' }, 'swarm-key-file': { type: 'string' } }, positionals: [0, 0], usage: 'daemon [--listen <multiaddr>...] [--peer <multiaddr>...] [--swarm-key-file <file> | --swarm-key -]', about: `Keeps the account open and syncing with the other devices until Ctrl-C; the other commands then go through it. ${SWARM_KEY_ABOUT}`, example: 'orbit-account daemon --peer /ip4/192.168.1.20/tcp/4001/p2p/12D3KooW...' },
  invite: { options: { ttl: { type: 'string' }, role: { type: 'string' }, confirm: { type: 'boolean' }, detach: { type: 'boolean' }, 'no-qr': { type: 'boolean' }, listen: { type: 'string', multiple: true } }, positionals: [0, 0], usage: 'invite [--ttl 10m] [--role member|admin] [--confirm | --detach] [--no-qr] [--listen <multiaddr>...]', about: 'Shows a single-use invite (QR code and text) for a new device, recorded in the registry, and stays until that device has joined and synced (admin devices only); with --detach it returns at once and this device\'s daemon answers the join.', example: 'orbit-account invite --ttl 30m' },
  join: { options: { name: { type: 'string' } }, positionals: [0, 1], names: ['-|invite'], usage: 'join [-] --name <device>', about: 'Joins the account of an invite with this machine as a new device, and syncs it. The invite is read from stdin with `-`, or asked for at the terminal; an invite given on the command line works too, but every user of this machine can see it there (`ps`) while the join runs.', example: 'echo OA1... | orbit-account join - --name phone' },
  put: { options: {}, positionals: [2, 2], names: ['key', 'json|-'], usage: 'put <key> <json|->', about: 'Sets a key to a JSON value (`-` reads it from stdin); a negative number works as is, other values starting with - go after --.', example: 'orbit-account put settings/theme \'"dark"\'' },
  get: { options: { sync: { type: 'boolean' } }, positionals: [1, 1], names: ['key'], usage: 'get <key> [--sync]', about: 'Prints the value of a key (`found` tells a stored null from an absent key). With no daemon it answers at once from what this device saved when it last ran; --sync opens the store and syncs with the known devices first.', example: 'orbit-account get settings/theme' },
  import: { options: {}, positionals: [0, 1], names: ['file|-'], usage: 'import [<file>|-]', about: 'Sets every key of a JSON object (keys to values) read from a file, or from stdin with `-` or no file, in one batch: every device shows all of it or none, and nothing is written if any key or value is refused.', example: 'orbit-account import settings.json' },
  del: { options: {}, positionals: [1, 1], names: ['key'], usage: 'del <key>', about: 'Deletes a key.', example: 'orbit-account del settings/theme' },
  list: { options: { prefix: { type: 'string' }, sync: { type: 'boolean' } }, positionals: [0, 0], usage: 'list [--prefix <p>] [--sync]', about: 'Prints every key and value (those under a prefix with --prefix). With no daemon it answers at once from what this device saved when it last ran; --sync opens the store and syncs with the known devices first.', example: 'orbit-account list --prefix settings/' },
  watch: { options: {}, positionals: [0, 0], usage: 'watch', about: 'Prints every change, from this device or others, until Ctrl-C.', example: 'orbit-account watch --json' },
  status: { options: { sync: { type: 'boolean' } }, positionals: [0, 0], usage: 'status [--sync]', about: 'Shows the account, this device (and whether it was revoked), the epoch and the connected peers (none with no daemon, unless --sync). With no daemon it answers at once from what this device saved when it last ran; --sync opens the store and syncs with the known devices first.', example: 'orbit-account status' },
  devices: { options: { sync: { type: 'boolean' } }, positionals: [0, 0], usage: 'devices [--sync]', about: 'Lists the devices of the account; this one is marked with *. With no daemon it answers at once from what this device saved when it last ran; --sync opens the store and syncs with the known devices first.', example: 'orbit-account devices' },
  revoke: { options: {}, positionals: [1, 1], names: ['device-id-or-name'], usage: 'revoke <device-id-or-name>', about: 'Revokes a lost device: a new group key that it does not get, and the live data re-encrypted under it (admin devices; a member may revoke itself).', example: 'orbit-account revoke phone' },
  passphrase: { options: { 'new-passphrase-file': { type: 'string' } }, positionals: [1, 1], names: ['set|remove'], usage: 'passphrase set|remove [--new-passphrase-file <file>]', about: 'Seals the device keys (keys.json) with a new passphrase, or removes it. A sealed keystore is opened the usual way (--passphrase-file, $ORBIT_ACCOUNT_PASSPHRASE, else asked on the terminal); the new passphrase comes from --new-passphrase-file or $ORBIT_ACCOUNT_NEW_PASSPHRASE, else is asked twice on the terminal (a keystore not sealed yet also takes it from --passphrase-file or $ORBIT_ACCOUNT_PASSPHRASE).', example: 'orbit-account passphrase set' },
  recover: { options: { name: { type: 'string' }, peer: { type: 'string', multiple: true }, 'revoke-others': { type: 'boolean' } }, positionals: [1, 1], names: ['account-address'], usage: 'recover <account-address> --name <device> [--peer <multiaddr>...] [--revoke-others]', about: 'Brings the account to this machine as a new admin device with its 24 recovery words, read on stdin (never from the command line), from any device or replica that has it; --revoke-others revokes every other device.', example: 'orbit-account recover /orbitdb/zdpu... --name new-laptop --peer /ip4/192.168.1.20/tcp/4001/p2p/12D3KooW... --revoke-others' },
  recovery: { options: {}, positionals: [1, 1], names: ['add|rotate'], usage: 'recovery add|rotate', about: 'rotate: replaces the recovery words (the current ones are read on stdin; the new ones are shown once). add: gives an account created with --no-recovery its words (admin devices).', example: 'orbit-account recovery rotate < old-words.txt' },
  'swarm-key': { options: {}, positionals: [0, 0], usage: 'swarm-key', about: 'Prints a private account\'s swarm key, for `serve` (a blind replica) or the `daemon` of a device that was away during a revocation: keep it in a file only you can read, for their --swarm-key-file.', example: '(umask 077; orbit-account swarm-key > swarm.key)' },
  serve: { options: { listen: { type: 'string', multiple: true }, peer: { type: 'string', multiple: true }, 'swarm-key': { type: 'string' }, 'swarm-key-file': { type: 'string' } }, positionals: [1, 1], names: ['account-address'], usage: 'serve <account-address> [--listen <multiaddr>...] [--peer <multiaddr>...] [--swarm-key-file <file> | --swarm-key -]', about: `Runs a blind replica of an account (it stores and forwards, and reads nothing) until Ctrl-C; use its own --dir. ${SWARM_KEY_ABOUT}`, example: 'orbit-account serve /orbitdb/zdpu... --dir ~/replica' },
  web: { options: { port: { type: 'string' } }, positionals: [0, 0], usage: 'web [--port <n>]', about: 'Serves the web app (a browser tab as a device of the account: join by QR code or pasted invite) on 127.0.0.1 until Ctrl-C; for a phone, put the built app (dist/web) on any HTTPS host.', example: 'orbit-account web --port 8080' },
  replica: { options: {}, positionals: [2, 2], names: ['add|remove', 'multiaddr|peer-id'], usage: 'replica add <multiaddr> | replica remove <peer-id>', about: 'Registers a blind replica in the registry (its peer id and X25519 key, from a handshake with it at <multiaddr>, which ends in /p2p/<peer id>), so every device dials it; or ends its registration, for good (admin devices).', example: 'orbit-account replica add /ip4/192.168.1.30/tcp/4002/p2p/12D3KooW...' },
  help: { options: {}, positionals: [0, 1], names: ['command'], usage: 'help [command]', about: 'Shows the commands, or one command\'s help.', example: 'orbit-account help put' }
}

export interface ParsedArgs {
  command: CommandName
  positionals: string[]
  options: Record<string, string | boolean | string[] | undefined>
  json: boolean
  dir: string | undefined
  passphraseFile: string | undefined
  help: boolean
  version: boolean
}

export const usageOf = (command: CommandName): string => `orbit-account ${SPECS[command].usage} [--dir <path>] [--json]`

/** One command's help: usage, what it does, an example. */
export const helpOf = (command: CommandName): string =>
  [`usage: ${usageOf(command)}`, '', SPECS[command].about, '', 'example:', `  ${SPECS[command].example}`].join('\n')

export const USAGE = [
  'usage: orbit-account <command> [options] [--dir <path>] [--json]',
  '',
  'commands:',
  ...COMMANDS.filter((c) => c !== 'help').map((c) => `  ${SPECS[c].usage}`),
  '',
  'Every command takes --dir <path> (default $ORBIT_ACCOUNT_DIR or ~/.orbit-account) and',
  '--json (one JSON object per line on stdout; errors as JSON on stderr). A sealed keystore',
  'is opened with --passphrase-file <file> or $ORBIT_ACCOUNT_PASSPHRASE, else asked on the terminal.',
  '`orbit-account help <command>` (or <command> --help) explains one command; --version prints the version.'
].join('\n')

const isCommand = (s: string): s is CommandName => (COMMANDS as readonly string[]).includes(s)

const ALL_OPTIONS: Options = Object.assign({}, GLOBAL, ...Object.values(SPECS).map((s) => s.options))

/** A negative number (`-5`, `-0.5`, `-1e3`, `-5m`): a value, never an option. */
const NEGATIVE = /^-\.?\d/
/** Stands in for a negative number while Node's parser reads the line (it would take it for an option). */
const MASK = '\u0000neg:'
const unmask = (v: string): string => v.startsWith(MASK) ? v.slice(MASK.length) : v
const unmaskValues = (values: Record<string, unknown>): Record<string, string | boolean | string[] | undefined> =>
  Object.fromEntries(Object.entries(values).map(([k, v]) => [k, typeof v === 'string' ? unmask(v) : Array.isArray(v) ? v.map((x) => unmask(String(x))) : v])) as Record<string, string | boolean | string[] | undefined>

export const parseCommandLine = (input: string[]): ParsedArgs => {
  const argv = input.map((a) => NEGATIVE.test(a) ? MASK + a : a)
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
    if (loose.values.help === true || loose.values.version === true) {
      return { command: 'help', positionals: [], options: {}, json: loose.values.json === true, dir: undefined, passphraseFile: undefined, help: true, version: loose.values.version === true }
    }
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
    throw new InvalidArgumentError(`${unmask((err as Error).message).replaceAll(MASK, '')}\nusage: ${usageOf(name)}`)
  }
  const values = unmaskValues(parsed.values)
  const positionals = parsed.positionals.map(unmask)
  const help = values.help === true
  const [min, max] = spec.positionals
  if (!help && values.version !== true && (positionals.length < min || positionals.length > max)) {
    const what = positionals.length < min
      ? `missing ${spec.names?.slice(positionals.length, min).map((n) => `<${n}>`).join(' and ') ?? 'argument'}`
      : `unexpected argument '${positionals[max] ?? ''}'`
    throw new InvalidArgumentError(`${name}: ${what}\nusage: ${usageOf(name)}`)
  }
  const dir = values.dir as string | undefined
  if (dir === '') throw new InvalidArgumentError('--dir must not be empty')
  return {
    command: name,
    positionals,
    options: values,
    json: values.json === true,
    dir,
    passphraseFile: values['passphrase-file'] as string | undefined,
    help,
    version: values.version === true
  }
}
