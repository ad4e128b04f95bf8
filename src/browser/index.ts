/**
 * The browser adapters (`orbit-account/browser`): a device of the account in a web page,
 * its keys and what it remembers in IndexedDB, a libp2p node that dials WebSockets and
 * WebRTC-direct. What the web app (web/) is built on; an app of its own can use it too.
 */
export { hasDevice, joinInBrowser, openInBrowser, type BrowserConfig, type BrowserDevice, type BrowserJoinOptions } from './device.ts'
export { startBrowserNode, ownPeersGater, type BrowserNode } from './node.ts'
