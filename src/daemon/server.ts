/**
 * The daemon's local socket: owner-only (the account directory is 0700 and the socket
 * 0600), one request per connection, answered in frames (see protocol.ts). A bad
 * request gets an error frame; it never reaches the account and never stops the daemon.
 */
import { createServer, type Server, type Socket } from 'node:net'
import { chmod, unlink } from 'node:fs/promises'
import { connect } from 'node:net'
import { isOrbitAccountError } from '../errors.ts'
import type { NodeAccount } from '../node/account-dir.ts'
import { execute } from './commands.ts'
import { LineSplitter, parseRequest, type Frame, type Question } from './protocol.ts'

export interface SocketServer {
  close: () => Promise<void>
}

/**
 * A typed error goes to the client as it is. Any other is a bug: the client gets
 * INTERNAL, and the daemon's stderr its stack (the daemon goes on).
 */
const errorFrame = (err: unknown): Frame => {
  if (isOrbitAccountError(err)) return { error: { code: err.code, message: err.message } }
  process.stderr.write(`${JSON.stringify({ internal: err instanceof Error ? (err.stack ?? err.message) : String(err) })}\n`)
  return { error: { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) } }
}

/** True when a live daemon answers on `path`. */
const answers = async (path: string): Promise<boolean> => await new Promise((resolve) => {
  const s = connect(path)
  s.on('connect', () => { s.destroy(); resolve(true) })
  s.on('error', () => resolve(false))
})

const handle = (account: NodeAccount, socket: Socket, closing: AbortSignal): void => {
  const splitter = new LineSplitter()
  const done = new AbortController()
  const stop = (): void => done.abort()
  closing.addEventListener('abort', stop, { once: true })
  socket.setEncoding('utf8')
  const send = (frame: Frame): void => {
    if (!socket.destroyed) socket.write(JSON.stringify(frame) + '\n')
  }
  let started = false
  // Answers to questions (a person confirming a join), in the order they come.
  const answers: Array<(answer: boolean) => void> = []
  const ask = async (question: Question): Promise<boolean> => await new Promise<boolean>((resolve) => {
    answers.push(resolve)
    send({ ask: question })
    done.signal.addEventListener('abort', () => resolve(false), { once: true })
  })
  socket.on('data', (chunk: string) => {
    let lines: string[]
    try {
      lines = splitter.push(chunk)
    } catch (err) {
      send({ error: { code: 'PROTOCOL_ERROR', message: (err as Error).message } })
      socket.end()
      return
    }
    if (started) {
      for (const l of lines) {
        let answer: unknown
        try {
          answer = (JSON.parse(l) as { answer?: unknown }).answer
        } catch {
          answer = false
        }
        answers.shift()?.(answer === true)
      }
      return
    }
    const line = lines[0]
    if (line === undefined) return
    started = true
    let request
    try {
      request = parseRequest(JSON.parse(line))
    } catch {
      request = undefined
    }
    if (request === undefined) {
      send({ error: { code: 'PROTOCOL_ERROR', message: 'malformed request' } })
      socket.end()
      return
    }
    execute(account, request, send, done.signal, ask)
      .then(() => send({ end: true }), (err: unknown) => send(errorFrame(err)))
      .finally(() => {
        closing.removeEventListener('abort', stop)
        socket.end()
      })
  })
  socket.on('close', stop)
  socket.on('error', stop)
}

/** Listens on `path` for CLI requests against `account`. */
export const serveSocket = async (account: NodeAccount, path: string): Promise<SocketServer> => {
  if (await answers(path)) throw new Error(`another daemon answers on ${path}`)
  await unlink(path).catch(() => {})
  const closing = new AbortController()
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    handle(account, socket, closing.signal)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, () => { server.off('error', reject); resolve() })
  })
  await chmod(path, 0o600)
  return {
    close: async () => {
      closing.abort()
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const s of sockets) s.end()
      })
      await unlink(path).catch(() => {})
    }
  }
}
