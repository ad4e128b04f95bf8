/** Reading what a person types: a whole value from stdin, a yes/no answer, or a passphrase (not echoed). */
import { createInterface, type Interface } from 'node:readline'

/** All of stdin as text; past `maxBytes` (when given) it stops reading and throws `tooLong()`. */
export const readStdin = async (maxBytes?: number, tooLong?: (bytes: number) => Error): Promise<string> => {
  const chunks: Buffer[] = []
  let bytes = 0
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer)
    bytes += (chunk as Buffer).length
    if (maxBytes !== undefined && bytes > maxBytes) {
      process.stdin.destroy()
      throw tooLong?.(bytes) ?? new RangeError(`more than ${maxBytes} bytes on stdin`)
    }
  }
  return Buffer.concat(chunks).toString('utf8')
}

let lines: Interface | undefined
const pending: Array<(line: string | null) => void> = []
const buffered: string[] = []
let closed = false

const nextLine = async (): Promise<string | null> => {
  if (lines === undefined) {
    lines = createInterface({ input: process.stdin, terminal: false })
    lines.on('line', (line) => {
      const waiter = pending.shift()
      if (waiter !== undefined) waiter(line)
      else buffered.push(line)
    })
    lines.on('close', () => {
      closed = true
      for (const waiter of pending.splice(0)) waiter(null)
    })
  }
  const line = buffered.shift()
  if (line !== undefined) return line
  if (closed) return null
  return await new Promise((resolve) => pending.push(resolve))
}

/** Asks on stderr and reads one line: 'y' or 'yes' (any case) is yes; anything else, or no input, is no. */
export const askYesNo = async (question: string): Promise<boolean> => {
  process.stderr.write(`${question} [y/N] `)
  const answer = await nextLine()
  // A terminal echoes the answer and its newline; a pipe does not: end the line ourselves.
  if (answer === null || process.stdin.isTTY !== true) process.stderr.write('\n')
  return answer !== null && /^\s*y(es)?\s*$/i.test(answer)
}

/** Asks on stderr and reads one line typed at the terminal (echoed). Undefined when stdin is not a terminal or is closed. */
export const askLine = async (question: string): Promise<string | undefined> => {
  if (process.stdin.isTTY !== true) return undefined
  process.stderr.write(question)
  return await nextLine() ?? undefined
}

/** Stops reading stdin so the process can exit. */
export const closePrompt = (): void => { lines?.close() }

/**
 * Reads recovery words: on a terminal, asks on stderr and reads lines until 24 words
 * came (they are echoed: type them where nobody looks on); from a pipe, all of stdin.
 */
export const readWords = async (question: string, count = 24): Promise<string> => {
  if (process.stdin.isTTY !== true) return await readStdin()
  process.stderr.write(`${question}\n`)
  const words: string[] = []
  while (words.length < count) {
    const line = await nextLine()
    if (line === null) break
    words.push(...line.trim().split(/\s+/u).filter((w) => w !== ''))
  }
  return words.join(' ')
}

/**
 * Asks on stderr and reads one line typed at the terminal without echoing it (a
 * passphrase). Undefined when stdin is not a terminal. Ctrl-C ends the command (exit 130).
 */
export const askHidden = async (question: string): Promise<string | undefined> => {
  const stdin = process.stdin
  if (stdin.isTTY !== true) return undefined
  // Raw mode first: nothing typed after the question is echoed.
  stdin.setRawMode(true)
  process.stderr.write(question)
  stdin.setEncoding('utf8')
  stdin.resume()
  return await new Promise((resolve) => {
    let typed: string[] = []
    const finish = (): void => {
      stdin.off('data', onData)
      stdin.setRawMode(false)
      stdin.pause()
      process.stderr.write('\n')
    }
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          finish()
          resolve(typed.join(''))
          return
        }
        if (ch === '\u0003') {
          finish()
          process.exit(130)
        }
        if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1)
        else if (ch >= ' ') typed.push(ch)
      }
    }
    stdin.on('data', onData)
  })
}
