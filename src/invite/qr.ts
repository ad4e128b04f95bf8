/**
 * Renders an invite as a QR code for the terminal (qrcode-terminal, small mode:
 * one character cell holds two modules stacked with the half-block characters).
 *
 * Error correction level L (7%): the code is read off a screen, not printed on
 * something that gets scratched or dirty, so the extra redundancy of M (15%)
 * buys little, while its cost is real: at M a typical ~210-character invite
 * needs version 10 (57 modules) instead of 9 (53), and a maximal one version
 * 19 (93) instead of 17 (85). Fewer modules mean bigger modules in the same
 * terminal window, which is what decides whether a phone camera can read it,
 * and keep the code within an 80-column terminal for typical invites. A
 * misread cannot go unnoticed either: the invite text carries its own checksum.
 * (qrcode-terminal's setErrorLevel('M') is also a no-op, because M is 0 and it
 * tests `QRErrorCorrectLevel[level] || this.error`.)
 *
 * Sizes (columns x lines, margin included): a 208-character invite (two loopback
 * addresses) 57x29; a LAN inviter's ~306 characters (its LAN TCP, WebSockets and
 * WebRTC-direct addresses and loopback WebSockets, see addrs.ts) 65x33; 8 addresses
 * with a swarm key (~480) 81x41. qrcode-terminal's QR
 * library only has byte mode, so the uppercase base32 of the invite does not
 * shrink the code here (it would with a generator that uses alphanumeric mode).
 *
 * qrcode-terminal draws light modules with glyphs (so the code shows correctly
 * on a dark-background terminal) and leaves only a 1-module light margin; we
 * widen it to 2 modules on every side, since the dark terminal background
 * around it otherwise sits right next to the finder patterns.
 */
import qrcode from 'qrcode-terminal'
import { InvalidArgumentError } from '../errors.ts'

/** qrcode-terminal's QRErrorCorrectLevel.L (vendor/QRCode/QRErrorCorrectLevel.js). */
const ERROR_CORRECTION_L = 1
/** Byte-mode capacity of a version 40 code at level L. */
const MAX_QR_BYTES = 2953

const FULL = '\u2588' // both modules light
const UPPER = '\u2580' // upper module light, lower dark

/** The terminal QR code for `text` (printable ASCII, e.g. an invite string). */
export const renderQr = async (text: string): Promise<string> => {
  if (typeof text !== 'string' || text.length === 0) {
    throw new InvalidArgumentError('renderQr needs a non-empty string')
  }
  if (!/^[\x20-\x7e]+$/.test(text)) throw new InvalidArgumentError('renderQr only encodes printable ASCII text')
  if (text.length > MAX_QR_BYTES) {
    throw new InvalidArgumentError(`text is too long for a QR code: ${text.length} characters, at most ${MAX_QR_BYTES}`)
  }
  let output: string | undefined
  try {
    // Called with its own `this` so the level is explicit and the shared
    // module object (which others may configure) is left untouched.
    qrcode.generate.call({ ...qrcode, error: ERROR_CORRECTION_L }, text, { small: true }, (out: string) => {
      output = out
    })
  } catch (cause) {
    throw new InvalidArgumentError('text cannot be rendered as a QR code', { cause })
  }
  if (output === undefined) throw new InvalidArgumentError('text cannot be rendered as a QR code')
  return widenQuietZone(output)
}

/**
 * qrcode-terminal small mode, for an n×n code (n is always odd), prints
 * n + 2 columns: a line of '\u2584' (a dark half, then the 1-module top margin),
 * then (n + 1) / 2 lines each framed by FULL, the last one with a light
 * lower half (the bottom margin). This turns the top line into FULL, adds a
 * FULL column on each side and a line of UPPER at the bottom: 2 light modules
 * all around.
 */
const widenQuietZone = (rendered: string): string => {
  const lines = rendered.split('\n').filter((line) => line.length > 0)
  if (lines.length < 2) return rendered
  const width = lines[0]!.length + 2
  return [
    FULL.repeat(width),
    ...lines.slice(1).map((line) => FULL + line + FULL),
    UPPER.repeat(width)
  ].join('\n') + '\n'
}
