/**
 * Test helper: reads a terminal QR code (as printed by renderQr) back into
 * text, by turning the half-block characters into a pixel bitmap and decoding
 * it with jsQR. Test-only because jsqr is a devDependency.
 */
import jsqrModule from 'jsqr'

/** jsQR is CommonJS with `exports.default`; under Node's ESM loader the default import is module.exports. */
type JsQr = (data: Uint8ClampedArray, width: number, height: number, options?: { inversionAttempts?: 'dontInvert' | 'onlyInvert' | 'attemptBoth' | 'invertFirst' }) => { data: string } | null
const jsQR: JsQr = (() => {
  const m = jsqrModule as unknown as JsQr | { default: JsQr }
  return typeof m === 'function' ? m : m.default
})()

export interface DecodeTerminalQrOptions {
  /** Pixels per module side (default 4). */
  scale?: number
  /** Extra margin around the printed code, in modules (default 4). */
  margin?: number
  /**
   * Colour of that margin: 'light' (default) adds a proper quiet zone;
   * 'dark' imitates a dark-background terminal around the printed code.
   */
  surround?: 'light' | 'dark'
}

/** [upper, lower] module: true = light (a drawn glyph on a dark-background terminal). */
const CELLS: ReadonlyMap<string, readonly [boolean, boolean]> = new Map([
  ['\u2588', [true, true]],
  ['\u2580', [true, false]],
  ['\u2584', [false, true]],
  [' ', [false, false]]
])

/** The text in a terminal QR code, or null if there is none or it does not decode. */
export const decodeTerminalQr = (rendered: string, options: DecodeTerminalQrOptions = {}): string | null => {
  const scale = options.scale ?? 4
  const margin = options.margin ?? 4
  const surroundLight = (options.surround ?? 'light') === 'light'
  const lines = rendered.replace(/\r/g, '').split('\n').filter((line) => line.length > 0)
  if (lines.length === 0) return null
  // module grid, 2 rows per printed line
  const grid: boolean[][] = []
  const cols = Math.max(...lines.map((line) => [...line].length))
  for (const line of lines) {
    const upper: boolean[] = []
    const lower: boolean[] = []
    const chars = [...line]
    for (let c = 0; c < cols; c++) {
      const ch = chars[c] ?? ' ' // a short line: the terminal background shows
      const cell = CELLS.get(ch)
      if (cell === undefined) return null
      upper.push(cell[0])
      lower.push(cell[1])
    }
    grid.push(upper, lower)
  }
  const rows = grid.length
  const width = (cols + 2 * margin) * scale
  const height = (rows + 2 * margin) * scale
  const pixels = new Uint8ClampedArray(width * height * 4)
  for (let y = 0; y < height; y++) {
    const r = Math.floor(y / scale) - margin
    for (let x = 0; x < width; x++) {
      const c = Math.floor(x / scale) - margin
      const light = r >= 0 && r < rows && c >= 0 && c < cols ? grid[r]![c]! : surroundLight
      const i = (y * width + x) * 4
      const v = light ? 255 : 0
      pixels[i] = v
      pixels[i + 1] = v
      pixels[i + 2] = v
      pixels[i + 3] = 255
    }
  }
  const result = jsQR(pixels, width, height, { inversionAttempts: 'dontInvert' })
  return result === null ? null : result.data
}
