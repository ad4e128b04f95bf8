/**
 * The web app: one device of the account in a browser tab. It opens the device this
 * browser holds, or shows the join screen. Needs a secure context (HTTPS or localhost).
 */
import { hasDevice, openInBrowser, type BrowserDevice } from '../src/browser/index.ts'
import { accountView } from './account-view.ts'
import { joinView } from './join-view.ts'
import { alertText, errorText } from './dom.ts'

const root = document.getElementById('app') as HTMLElement

const showAccount = (device: BrowserDevice): void => {
  const view = accountView(device)
  root.replaceChildren(view.element)
  window.addEventListener('pagehide', () => { view.stop(); void device.close() }, { once: true })
}

const start = async (): Promise<void> => {
  if (!window.isSecureContext || globalThis.crypto?.subtle === undefined) {
    root.replaceChildren(alertText('This page needs a secure origin (HTTPS, or localhost): open it from an https:// address.'))
    return
  }
  if (await hasDevice()) showAccount(await openInBrowser())
  else root.replaceChildren(joinView(showAccount))
}

start().catch((err: unknown) => { root.replaceChildren(alertText(errorText(err))) })
