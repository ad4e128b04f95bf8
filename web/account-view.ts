/**
 * The account screen: every entry as its key and its value (JSON text), a form to save
 * one, delete, the devices and the connected peers. Once the registry says this device
 * was revoked it says so plainly and takes no more writes; what it held stays shown, and
 * nothing written afterwards can reach it (it holds no key of the new epoch).
 */
import { parseJsonValue, checkKey, type JsonValue } from '../src/core.ts'
import type { BrowserDevice } from '../src/browser/index.ts'
import { alertText, errorText, field, h } from './dom.ts'

const REFRESH_MS = 1000
const RENDER_BATCH_MS = 50
/** The page spends at most about 1 / (1 + this) of its time rendering changes that stream in. */
const RENDER_COST_FACTOR = 4

const entriesTable = (entries: Record<string, JsonValue>, remove: ((key: string) => void) | undefined): HTMLElement => {
  const keys = Object.keys(entries).sort()
  if (keys.length === 0) return h('p', {}, 'No entries yet.')
  return h('table', {},
    h('thead', {}, h('tr', {}, h('th', {}, 'Key'), h('th', {}, 'Value'), h('th', {}, ''))),
    h('tbody', {}, ...keys.map((key) => h('tr', {},
      h('td', {}, key),
      h('td', {}, JSON.stringify(entries[key])),
      h('td', {}, remove !== undefined && h('button', { type: 'button', 'aria-label': `Delete ${key}`, onclick: () => { remove(key) } }, 'Delete'))
    )))
  )
}

export const accountView = (device: BrowserDevice): { element: HTMLElement, stop: () => void } => {
  const { account } = device
  const key = h('input', { name: 'key', autocomplete: 'off' }) as HTMLInputElement
  const value = h('input', { name: 'value', autocomplete: 'off' }) as HTMLInputElement
  const problems = h('div')
  const revokedNote = h('div')
  const entries = h('section', { 'aria-label': 'Entries' })
  const devices = h('ul', { 'aria-label': 'Devices' })
  const peers = h('ul', { 'aria-label': 'Connected' })
  const save = h('button', { type: 'submit' }, 'Save') as HTMLButtonElement
  const fail = (err: unknown): void => { problems.replaceChildren(alertText(errorText(err))) }

  const remove = (k: string): void => {
    problems.replaceChildren()
    account.del(k).then(renderEntries, fail)
  }
  let revoked = device.revoked()
  const renderEntries = (): void => {
    entries.replaceChildren(h('h2', {}, 'Entries'), entriesTable(account.all(), revoked ? undefined : remove))
  }
  /** The revoked state, the devices and the peers: they change without a data change. */
  const renderStatus = (): void => {
    const now = device.revoked()
    if (now !== revoked) {
      revoked = now
      renderEntries()
    }
    revokedNote.replaceChildren(...(revoked ? [alertText('This device was revoked'), h('p', {}, 'The other devices no longer accept its writes, and it receives nothing written since.')] : []))
    save.disabled = revoked
    devices.replaceChildren(...account.devices().map((d) => h('li', {}, `${d.name} (${d.role}, ${d.status})${d.device === account.device ? ', this device' : ''}`)))
    const connected = device.node.libp2p.getPeers().map((p) => p.toString())
    peers.replaceChildren(...(connected.length > 0 ? connected.map((p) => h('li', {}, p)) : [h('li', {}, 'nobody')]))
  }
  const onSave = (event: Event): void => {
    event.preventDefault()
    problems.replaceChildren()
    try {
      const k = checkKey(key.value)
      const v = parseJsonValue(value.value)
      account.put(k, v).then(() => { value.value = ''; renderEntries() }, fail)
    } catch (err) {
      fail(err)
    }
  }

  // A sync brings changes in bursts: one render for each burst, not one per change. A
  // render builds the whole table, so with thousands of entries it is slow: the next one
  // waits RENDER_COST_FACTOR times as long as the last took, or a stream of changes would
  // keep the page rendering and leave the sync no time (measured: 2,000 puts one by one,
  // on top of 1,000 entries, stalled at ~1,400 after two minutes).
  let scheduled = false
  let lastRenderMs = 0
  const schedule = (): void => {
    if (scheduled) return
    scheduled = true
    setTimeout(() => {
      scheduled = false
      const started = performance.now()
      renderEntries()
      lastRenderMs = performance.now() - started
    }, Math.max(RENDER_BATCH_MS, RENDER_COST_FACTOR * lastRenderMs))
  }
  const unwatch = account.watch(schedule)
  const timer = setInterval(renderStatus, REFRESH_MS)
  renderEntries()
  renderStatus()
  const info = account.info()
  // How this page opened its data: from the state it saved (src/browser/state-idb.ts), or by reading its log.
  const opened = account.openStats()
  const element = h('section', { 'aria-labelledby': 'account-title' },
    h('h1', { id: 'account-title' }, 'Account'),
    h('p', {}, `This device: ${info.name} (${info.device})`),
    h('p', { 'data-testid': 'opened' }, opened.fromCheckpoint
      ? `Opened from its saved state${opened.applied > 0 ? ` and ${opened.applied} later log entries` : ''}`
      : `Opened by reading ${opened.applied} log entries`),
    revokedNote,
    entries,
    h('form', { 'aria-label': 'Save an entry', onsubmit: onSave },
      field('Key', key),
      field('Value', value),
      save),
    problems,
    h('h2', {}, 'Devices'), devices,
    h('h2', {}, 'Connected'), peers
  )
  return { element, stop: () => { unwatch(); clearInterval(timer) } }
}
