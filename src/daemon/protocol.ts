/**
 * The local socket protocol between the CLI and a running daemon: newline-delimited
 * JSON. The client sends one request; the server answers with frames:
 * `{"out":{...}}` (a result line for stdout), `{"note":"..."}` (a human note for
 * stderr), `{"ask":{...}}` (a question for the person at the client, answered by one
 * `{"answer":true|false}` line), then exactly one of `{"end":true}` or
 * `{"error":{"code","message"}}`.
 */
import type { JsonValue } from '../store/limits.ts'

export const PROTOCOL_VERSION = 1
/** The largest JSON text `import` takes (about 100,000 keys of 200-byte values). */
export const MAX_IMPORT_BYTES = 32 * 1024 * 1024
/** The longest frame either side accepts (a value is at most 256 KiB of JSON; an import's entries, MAX_IMPORT_BYTES, as JSON again). */
export const MAX_FRAME_BYTES = 2 * MAX_IMPORT_BYTES

export type Request =
  | { v: 1, cmd: 'put', key: string, value: JsonValue }
  /** Sets every key of `entries` to its value in one batch (all of it on every device, or none). */
  | { v: 1, cmd: 'import', entries: Record<string, JsonValue> }
  | { v: 1, cmd: 'get', key: string }
  | { v: 1, cmd: 'del', key: string }
  | { v: 1, cmd: 'list', prefix?: string }
  | { v: 1, cmd: 'watch' }
  | { v: 1, cmd: 'status' }
  | { v: 1, cmd: 'devices' }
  | { v: 1, cmd: 'invite', ttlMs: number, role: 'admin' | 'member', confirm: boolean, detach?: boolean }
  | { v: 1, cmd: 'revoke', device: string }
  | { v: 1, cmd: 'swarm-key' }
  /** Sets (add) or replaces (rotate: signed by the `current` words) the recovery key with the one of `next`. */
  | { v: 1, cmd: 'recovery', action: 'add' | 'rotate', next: string, current?: string }
  /** Registers the replica at `target` (a multiaddr), or removes the registered replica `target` (a peer id). */
  | { v: 1, cmd: 'replica', action: 'add' | 'remove', target: string }

/** What the person at the client is asked: admit this device, whose short code is this? */
export interface Question { device: string, name: string, code: string }

export type Frame =
  | { out: Record<string, unknown> }
  | { note: string }
  | { ask: Question }
  | { end: true }
  | { error: { code: string, message: string } }

const CMDS = new Set(['put', 'import', 'get', 'del', 'list', 'watch', 'status', 'devices', 'invite', 'revoke', 'swarm-key', 'recovery', 'replica'])

/** Checks the shape of a request read from the socket (the value is checked again by the store). */
export const parseRequest = (v: unknown): Request | undefined => {
  if (typeof v !== 'object' || v === null) return undefined
  const o = v as Record<string, unknown>
  if (o.v !== PROTOCOL_VERSION || typeof o.cmd !== 'string' || !CMDS.has(o.cmd)) return undefined
  if ((o.cmd === 'put' || o.cmd === 'get' || o.cmd === 'del') && typeof o.key !== 'string') return undefined
  if (o.cmd === 'put' && !('value' in o)) return undefined
  if (o.cmd === 'import' && (typeof o.entries !== 'object' || o.entries === null || Array.isArray(o.entries))) return undefined
  if (o.cmd === 'revoke' && (typeof o.device !== 'string' || o.device.length === 0 || o.device.length > 100)) return undefined
  if (o.cmd === 'list' && o.prefix !== undefined && typeof o.prefix !== 'string') return undefined
  if (o.cmd === 'invite' && (typeof o.ttlMs !== 'number' || !Number.isSafeInteger(o.ttlMs) || o.ttlMs <= 0 ||
    (o.role !== 'admin' && o.role !== 'member') || typeof o.confirm !== 'boolean' || (o.detach !== undefined && typeof o.detach !== 'boolean'))) return undefined
  if (o.cmd === 'replica' && ((o.action !== 'add' && o.action !== 'remove') || typeof o.target !== 'string' || o.target.length === 0 || o.target.length > 300)) return undefined
  if (o.cmd === 'recovery' && ((o.action !== 'add' && o.action !== 'rotate') || typeof o.next !== 'string' || o.next.length > 1000 ||
    (o.action === 'rotate' && (typeof o.current !== 'string' || o.current.length > 1000)))) return undefined
  return o as Request
}

/** Splits a byte stream into lines; refuses a line longer than the limit. */
export class LineSplitter {
  #buffer = ''
  push (chunk: string): string[] {
    // Only the new chunk is looked at for a line's end: a long frame (an import) is not scanned again per chunk.
    if (!chunk.includes('\n')) {
      this.#buffer += chunk
      if (this.#buffer.length > MAX_FRAME_BYTES) throw new RangeError(`frame longer than ${MAX_FRAME_BYTES} bytes`)
      return []
    }
    this.#buffer += chunk
    const lines = this.#buffer.split('\n')
    this.#buffer = lines.pop() ?? ''
    return lines.filter((l) => l.length > 0)
  }
}
