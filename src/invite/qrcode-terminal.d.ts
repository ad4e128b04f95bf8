/** The small part of qrcode-terminal (CommonJS, untyped) that src/invite/qr.ts uses. */
declare module 'qrcode-terminal' {
  interface QrcodeTerminal {
    /** Error correction level used by generate (this.error): L = 1, M = 0, Q = 3, H = 2. */
    error: number
    generate (input: string, options: { small?: boolean }, callback: (output: string) => void): void
  }
  const qrcode: QrcodeTerminal
  export default qrcode
}
