/** The join screen: a device name, then an invite scanned from a QR code or pasted. */
import { INVITE_PREFIX } from '../src/invite/invite.ts'
import { joinInBrowser, type BrowserDevice } from '../src/browser/index.ts'
import { alertText, errorText, field, h } from './dom.ts'
import type { Scanner } from './scanner.ts'

export const joinView = (onJoined: (device: BrowserDevice) => void): HTMLElement => {
  const name = h('input', { name: 'name', autocomplete: 'off' }) as HTMLInputElement
  const invite = h('textarea', { name: 'invite', rows: '4', spellcheck: 'false' }) as HTMLTextAreaElement
  const video = h('video', { 'aria-label': 'Camera', hidden: true }) as HTMLVideoElement
  const status = h('p', { role: 'status' })
  const problems = h('div')
  let scanner: Scanner | undefined
  let busy = false

  const fail = (err: unknown): void => { problems.replaceChildren(alertText(errorText(err))) }

  const join = async (text: string): Promise<void> => {
    if (busy) return
    busy = true
    scanner?.stop()
    video.hidden = true
    problems.replaceChildren()
    status.textContent = 'Joining…'
    try {
      const device = await joinInBrowser({
        invite: text,
        name: name.value.trim(),
        onProgress: (m) => { status.textContent = `Joining: ${m}` },
        onCode: (code) => { status.textContent = `The inviting device asks to confirm: its code should be ${code}` }
      })
      onJoined(device)
    } catch (err) {
      status.textContent = ''
      fail(err)
    } finally {
      busy = false
    }
  }

  const scan = async (): Promise<void> => {
    problems.replaceChildren()
    if (name.value.trim() === '') return fail(new Error('Give this device a name first'))
    scanner?.stop()
    video.hidden = false
    status.textContent = 'Point the camera at the invite\'s QR code'
    try {
      const { startScanner } = await import('./scanner.ts')
      scanner = await startScanner(video, (text) => text.startsWith(INVITE_PREFIX), (text) => {
        video.hidden = true
        void join(text)
      })
    } catch (err) {
      video.hidden = true
      status.textContent = ''
      fail(new Error(`The camera did not open (${errorText(err)}). Paste the invite instead.`))
    }
  }

  return h('section', { 'aria-labelledby': 'join-title' },
    h('h1', { id: 'join-title' }, 'Join an account'),
    h('p', {}, 'On a device of the account run `orbit-account invite`, then scan its QR code or paste the invite here.'),
    field('Device name', name),
    h('button', { type: 'button', onclick: () => { void scan() } }, 'Scan QR code'),
    video,
    field('Invite', invite),
    h('button', { type: 'button', onclick: () => { void join(invite.value) } }, 'Join'),
    status,
    problems
  )
}
