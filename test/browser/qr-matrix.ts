/**
 * A QR code's modules for `text`, from the QR library qrcode-terminal already ships
 * (vendor/QRCode: byte mode, the same level L the terminal code uses): no other
 * dependency is needed to put an invite in front of the fake camera.
 */
import { createRequire } from 'node:module'

interface QRCodeModel {
  addData: (data: string) => void
  make: () => void
  getModuleCount: () => number
  isDark: (row: number, col: number) => boolean
}

const require = createRequire(import.meta.url)
const QRCode = require('qrcode-terminal/vendor/QRCode') as new (typeNumber: number, level: number) => QRCodeModel
const ERROR_CORRECTION_L = 1

/** Rows of modules, true for dark. */
export const qrMatrix = (text: string): boolean[][] => {
  const qr = new QRCode(-1, ERROR_CORRECTION_L)
  qr.addData(text)
  qr.make()
  const n = qr.getModuleCount()
  return Array.from({ length: n }, (_, r) => Array.from({ length: n }, (_, c) => qr.isDark(r, c)))
}
