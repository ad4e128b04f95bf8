/**
 * The CLI's side of the local socket. Imports nothing heavy: a command answered by the
 * daemon never loads libp2p, Helia or OrbitDB.
 */
import { connect } from 'node:net'
import { LineSplitter, type Frame, type Question, type Request } from './protocol.ts'
import { InvalidJsonError, PermissionDeniedError, ProtocolError } from '../errors.ts'

export type DaemonResult = { reached: false } | { reached: true, error?: { code: string, message: string } }

/**
 * Sends `request` to the daemon at `socketPath` and hands every out/note frame to
 * `onFrame`. Resolves `{reached:false}` when no daemon listens there.
 */
export const callDaemon = async (
  socketPath: string, request: Request, onFrame: (frame: Frame) => void, signal?: AbortSignal, ask?: (q: Question) => Promise<boolean>
): Promise<DaemonResult> => {
  // Serialized before connecting: a request JSON cannot carry fails here, typed, and never half-sent.
  let requestLine: string
  try {
    requestLine = JSON.stringify(request) + '\n'
  } catch (err) {
    throw new InvalidJsonError(`the request cannot be sent as JSON: ${(err as Error).message}`, { cause: err })
  }
  return await new Promise<DaemonResult>((resolve, reject) => {
    const socket = connect(socketPath)
    const splitter = new LineSplitter()
    let connected = false
    let settled = false
    const finish = (result: DaemonResult | Error): void => {
      if (settled) return
      settled = true
      signal?.removeEventListener('abort', onAbort)
      socket.destroy()
      if (result instanceof Error) reject(result)
      else resolve(result)
    }
    const onAbort = (): void => finish({ reached: true })
    signal?.addEventListener('abort', onAbort)
    socket.setEncoding('utf8')
    socket.on('connect', () => {
      connected = true
      socket.write(requestLine)
    })
    socket.on('data', (chunk: string) => {
      let lines: string[]
      try {
        lines = splitter.push(chunk)
      } catch (err) {
        finish(new ProtocolError(`bad answer from the daemon: ${(err as Error).message}`))
        return
      }
      for (const line of lines) {
        let frame: Frame
        try {
          frame = JSON.parse(line) as Frame
        } catch {
          finish(new ProtocolError('bad answer from the daemon: not JSON'))
          return
        }
        if ('end' in frame) finish({ reached: true })
        else if ('error' in frame) finish({ reached: true, error: frame.error })
        else if ('ask' in frame) {
          const question = frame.ask
          void (ask?.(question) ?? Promise.resolve(false)).then((answer) => {
            if (!socket.destroyed) socket.write(JSON.stringify({ answer }) + '\n')
          })
        } else onFrame(frame)
      }
    })
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (!connected && (err.code === 'ENOENT' || err.code === 'ECONNREFUSED' || err.code === 'ENOTSOCK')) finish({ reached: false })
      else if (!connected && (err.code === 'EACCES' || err.code === 'EPERM')) {
        finish(new PermissionDeniedError(`this user may not use the daemon's socket ${socketPath}: it belongs to the account's owner; use an account directory of your own (--dir)`, { cause: err }))
      } else finish(new ProtocolError(`the daemon connection failed: ${err.message}`))
    })
    socket.on('close', () => {
      if (connected) finish(new ProtocolError('the daemon closed the connection before answering'))
    })
  })
}
