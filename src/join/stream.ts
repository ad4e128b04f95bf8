/** Length-prefixed join messages over a libp2p stream, each read and write bounded in time. */
import { lpStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import { decodeMessage, encodeMessage, MAX_MESSAGE_BYTES, type JoinMessage } from './messages.ts'

/** How long a closed stream waits for the other end to close too before it is reset. */
const CLOSE_TIMEOUT_MS = 5000

export interface MessageChannel {
  send: (message: JoinMessage, signal: AbortSignal) => Promise<void>
  receive: (signal: AbortSignal) => Promise<JoinMessage>
  /** Closes this end; the stream is reset if the other end does not close within a few seconds. */
  close: () => Promise<void>
  /** Resets the stream at once: for a peer owed no answer. */
  drop: (reason: string) => void
}

export const messageChannel = (stream: Stream): MessageChannel => {
  const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE_BYTES })
  const drop = (reason: string): void => { stream.abort(new Error(reason)) }
  return {
    send: async (message, signal) => { await lp.write(encodeMessage(message), { signal }) },
    receive: async (signal) => decodeMessage((await lp.read({ signal })).subarray()),
    close: async () => {
      try {
        await stream.close({ signal: AbortSignal.timeout(CLOSE_TIMEOUT_MS) })
      } catch {
        drop('closing')
        return
      }
      // A half-closed stream lives until the other end closes its side: a peer that
      // never does must not keep it.
      if (stream.status === 'closed') return
      const timer = setTimeout(() => { drop('the other end did not close the stream') }, CLOSE_TIMEOUT_MS)
      stream.addEventListener('close', () => { clearTimeout(timer) }, { once: true })
    },
    drop
  }
}
