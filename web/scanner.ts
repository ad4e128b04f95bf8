/**
 * The camera QR scanner: frames from getUserMedia are drawn into a canvas and decoded
 * with jsQR, at most a few times a second (decoding a 640x480 frame takes a few hundred
 * milliseconds on a phone; every frame would freeze the page).
 */
import jsqr from 'jsqr'

type Decode = typeof jsqr.default
// jsqr is a UMD bundle: a bundler hands over its default export, a CommonJS loader the exports object.
const jsQR: Decode = (jsqr as { default?: Decode }).default ?? (jsqr as unknown as Decode)

const SCAN_EVERY_MS = 300

export interface Scanner { stop: () => void }

/** Shows the camera in `video` and calls `onCode` with the first QR text that `accept` takes. */
export const startScanner = async (video: HTMLVideoElement, accept: (text: string) => boolean, onCode: (text: string) => void): Promise<Scanner> => {
  const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false })
  video.srcObject = stream
  video.muted = true
  video.playsInline = true
  await video.play()
  const canvas = document.createElement('canvas')
  const context = canvas.getContext('2d', { willReadFrequently: true })
  let stopped = false
  const stop = (): void => {
    if (stopped) return
    stopped = true
    clearInterval(timer)
    for (const track of stream.getTracks()) track.stop()
    video.srcObject = null
  }
  const scan = (): void => {
    if (stopped || context === null || video.videoWidth === 0) return
    canvas.width = video.videoWidth
    canvas.height = video.videoHeight
    context.drawImage(video, 0, 0)
    const image = context.getImageData(0, 0, canvas.width, canvas.height)
    const code = jsQR(image.data, image.width, image.height, { inversionAttempts: 'attemptBoth' })
    if (code !== null && accept(code.data)) {
      stop()
      onCode(code.data)
    }
  }
  const timer = setInterval(scan, SCAN_EVERY_MS)
  return { stop }
}
