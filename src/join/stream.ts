/** Length-prefixed join messages over a libp2p stream, each read and write bounded in time. */
import { lpStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import { decodeMessage, encodeMessage, MAX_MESSAGE_BYTES, type JoinMessage } from './messages.ts'

export interface MessageChannel {
  send: (message: JoinMessage, signal: AbortSignal) => Promise<void>
  receive: (signal: AbortSignal) => Promise<JoinMessage>
  close: () => Promise<void>
}

export const messageChannel = (stream: Stream): MessageChannel => {
  const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE_BYTES })
  return {
    send: async (message, signal) => { await lp.write(encodeMessage(message), { signal }) },
    receive: async (signal) => decodeMessage((await lp.read({ signal })).subarray()),
    close: async () => {
      try {
        await stream.close()
      } catch {
        stream.abort(new Error('closing'))
      }
    }
  }
}
