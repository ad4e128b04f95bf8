/**
 * What the CLI prints. With --json: one JSON object per line on stdout, errors as
 * {"error":{"code","message"}} on stderr. Without: short text for a person.
 */
import type { CommandName } from './args.ts'

export interface Output {
  result: (command: CommandName, obj: Record<string, unknown>) => void
  note: (text: string) => void
  error: (code: string, message: string) => void
}

/** A value as a person reads it: its JSON, cut short when long. */
const shortJson = (value: unknown, max = 80): string => {
  const text = JSON.stringify(value)
  return text.length <= max ? text : `${text.slice(0, max - 30)}… (${text.length.toLocaleString('en-US')} characters of JSON)`
}

/** A time in this machine's local time, and how far away: '14:32:05 (in 10 minutes)'. */
export const localTime = (iso: string, now = Date.now()): string => {
  const at = new Date(iso)
  const minutes = Math.round((at.getTime() - now) / 60_000)
  const sameDay = at.toDateString() === new Date(now).toDateString()
  const when = sameDay ? at.toLocaleTimeString() : at.toLocaleString()
  const rel = minutes <= 0 ? 'now' : minutes < 120 ? `in ${minutes} minute${minutes === 1 ? '' : 's'}` : `in ${Math.round(minutes / 60)} hours`
  return `${when} (${rel})`
}

/** Recovery words for a person: numbered, six a line, with what they are. */
const showWords = (words: string): string => {
  const list = words.split(' ')
  const lines: string[] = []
  for (let i = 0; i < list.length; i += 6) lines.push('  ' + list.slice(i, i + 6).map((w, j) => `${String(i + j + 1).padStart(2)}. ${w.padEnd(9)}`).join(' ').trimEnd())
  return ['', '', 'RECOVERY WORDS: write them down now and keep them offline. Whoever holds them holds the',
    'account (they can admit a device and revoke every other one); they are shown only this once',
    'and stored nowhere. `orbit-account recover` uses them when every device is lost.', ...lines].join('\n')
}

interface PeerRow { peerId: string, device: string | null, name: string | null, status?: string }

/** Connected peers for a person: a device by its name, anything else as a replica or other peer. */
const peerLines = (peers: PeerRow[]): string[] => {
  if (peers.length === 0) return ['peers    (none connected)']
  return peers.map((p, i) => `${i === 0 ? 'peers' : '     '}    ${p.name !== null ? `${p.name} (device ${String(p.device)}${p.status === 'revoked' ? ', REVOKED' : ''})` : 'replica or other'}  peer ${p.peerId}`)
}

const human = (command: CommandName, o: Record<string, unknown>): string => {
  switch (command) {
    case 'create':
      return `created account ${String(o.account)}\n  device ${String(o.device)} (${String(o.name)}), mode ${String(o.mode)}, epoch ${String(o.epoch)}` +
        (typeof o.recovery === 'string' ? showWords(o.recovery) : '')
    case 'recovery':
      return `the account has new recovery words; the old ones no longer work${showWords(String(o.recovery))}`
    case 'recover':
      return `recovered account ${String(o.account)}\n  as device ${String(o.device)} (${String(o.name)}), an admin, epoch ${String(o.epoch)}`
    case 'get':
      return o.found === false ? `(${String(o.key)} is not set)` : JSON.stringify(o.value)
    case 'put':
      return `${String(o.key)} = ${shortJson(o.value)}`
    case 'import':
      return `imported ${String(o.imported)} key${o.imported === 1 ? '' : 's'} (one batch: every device shows all of them or none)`
    case 'del':
      return o.deleted === true ? `deleted ${String(o.key)}` : `${String(o.key)} was not set`
    case 'list': {
      const entries = Object.entries(o.entries as Record<string, unknown>)
      return entries.length === 0 ? '(no entries)' : entries.map(([k, v]) => `${k}\t${JSON.stringify(v)}`).join('\n')
    }
    case 'watch':
      return o.op === 'del' ? `del ${String(o.key)}` : `put ${String(o.key)} = ${shortJson(o.value)}`
    case 'devices':
      return (o.devices as Array<Record<string, unknown>>).map((d) =>
        `${d.device === o.device ? '*' : ' '} ${String(d.device)}  ${String(d.name).padEnd(16)} ${String(d.role).padEnd(7)} ${String(d.status).padEnd(8)} ${d.addedBy === null ? 'founder' : `added by ${String(d.addedBy)}`}`).join('\n')
    case 'status':
      return [`account  ${String(o.account)}`, `device   ${String(o.device)} (${String(o.name)})${o.status === 'revoked' ? ', REVOKED' : ''}`, `mode     ${String(o.mode)}`, `epoch    ${String(o.epoch)}`,
        ...peerLines(o.peers as PeerRow[])].join('\n')
    case 'passphrase':
      return o.sealed === true
        ? `${String(o.keystore)} is sealed with the new passphrase: give it to the commands that open the store (--passphrase-file, $ORBIT_ACCOUNT_PASSPHRASE, or at the terminal)`
        : `${String(o.keystore)} is not sealed: file permissions alone protect the device keys`
    case 'swarm-key':
      return String(o.swarmKey)
    case 'replica':
      return typeof o.removed === 'string' ? `replica ${o.removed} removed: devices no longer dial it` : `replica ${String(o.replica)} registered: every device dials it`
    case 'revoke':
      return `revoked ${String(o.revoked)}; the account is now in epoch ${String(o.epoch)}`
    case 'join':
      return `joined account ${String(o.account)}\n  as device ${String(o.device)} (${String(o.name)}), epoch ${String(o.epoch)}`
    case 'invite': {
      if (typeof o.invite === 'string') return `invite valid until ${localTime(String(o.expires))}`
      const admitted = o.admitted as Record<string, unknown> | undefined
      if (admitted !== undefined) return `admitted ${String(admitted.name)} (${String(admitted.device)}) as ${String(admitted.role)}`
      const confirm = o.confirm as Record<string, unknown> | undefined
      if (confirm !== undefined) return `'${String(confirm.name)}' (${String(confirm.device)}) asks to join; its code: ${String(confirm.code)}`
      return JSON.stringify(o)
    }
    case 'serve':
      return o.ready === true ? `blind replica ready: peer ${String(o.peerId)}\n  listening on ${(o.addrs as string[]).join(', ') || '(no addresses)'}` : JSON.stringify(o)
    case 'web':
      return `the web app is at ${String(o.url)} (Ctrl-C stops it)`
    case 'daemon':
      return o.ready === true ? `daemon ready: peer ${String(o.peerId)}\n  listening on ${(o.addrs as string[]).join(', ') || '(no addresses)'}` : JSON.stringify(o)
    default:
      return JSON.stringify(o)
  }
}

/** What a person does with the swarm key: on stderr, so `swarm-key > file` writes the key alone. */
const SWARM_KEY_HINT = (epoch: unknown): string => `(the swarm key of this private account since epoch ${String(epoch)}: for \`serve\`, or the \`daemon\` of a device that was away during a revocation. ` +
  'Keep it in a file only you can read, `(umask 077; orbit-account swarm-key > swarm.key)`, and give that with --swarm-key-file; never on a command line, where `ps` shows it to every user)'

export const makeOutput = (json: boolean, out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Output => ({
  result: (command, obj) => {
    out.write((json ? JSON.stringify(obj) : human(command, obj)) + '\n')
    if (!json && command === 'swarm-key') err.write(SWARM_KEY_HINT(obj.epoch) + '\n')
  },
  note: (text) => { err.write(`${text}\n`) },
  error: (code, message) => {
    err.write(json ? JSON.stringify({ error: { code, message } }) + '\n' : `error: ${message} (${code})\n`)
  }
})
