/**
 * The WebRTC-direct certificate of a node (Node.js file adapter). A browser dials a
 * WebRTC-direct address by the hash of this certificate (the /certhash/ in the
 * multiaddr), so it is kept in the node's directory (owner-only) and reused at every
 * start: the addresses in invites and in other devices' memories stay valid across
 * restarts. It is replaced, with a new key, at a start when fewer than RENEW_WITHIN_MS
 * remain before it expires (its certhash then changes; the peer id does not).
 *
 * The certificate only carries the DTLS handshake: who the node is, is proven by the
 * libp2p Noise handshake inside it (which binds both certhashes). Its key is kept
 * owner-only all the same, like the peer key.
 */
import 'reflect-metadata' // @peculiar/x509 needs it loaded first
import { readFile, rename, writeFile, chmod } from 'node:fs/promises'
import { join } from 'node:path'
import { BasicConstraintsExtension, X509Certificate, X509CertificateGenerator } from '@peculiar/x509'
import { base64url } from 'multiformats/bases/base64'
import { sha256 } from 'multiformats/hashes/sha2'

/** What `webRTCDirect({ certificate })` takes (@libp2p/webrtc's TransportCertificate). */
export interface WebRTCCertificate {
  /** PKCS#8 PEM of the ECDSA P-256 key. */
  privateKey: string
  /** PEM of the self-signed certificate. */
  pem: string
  /** Multibase base64url of the sha2-256 multihash of the certificate (DER). */
  certhash: string
  notAfter: Date
}

export interface CertificateOptions {
  /** Current time, unix ms (default Date.now()). */
  now?: number
  /** How long a new certificate is valid (ms). */
  lifespanMs?: number
  /** A stored certificate with less than this left (ms) is replaced. */
  renewWithinMs?: number
}

const DAY_MS = 86_400_000
/** A year: a certhash that changes seldom, since every change makes stored addresses stale. */
export const CERT_LIFESPAN_MS = 365 * DAY_MS
export const RENEW_WITHIN_MS = 30 * DAY_MS
export const CERT_FILE = 'webrtc-direct.json'

interface Stored { version: 1, privateKey: string, pem: string }

const toPem = (label: string, der: ArrayBuffer): string => {
  const b64 = btoa(String.fromCharCode(...new Uint8Array(der)))
  return [`-----BEGIN ${label}-----`, ...(b64.match(/.{1,64}/g) ?? []), `-----END ${label}-----`].join('\n')
}

const fromPem = (pem: string): Uint8Array<ArrayBuffer> =>
  Uint8Array.from(atob(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '')), (c) => c.charCodeAt(0))

const certhashOf = async (cert: X509Certificate): Promise<string> =>
  base64url.encode((await sha256.digest(new Uint8Array(cert.rawData))).bytes)

/** A new ECDSA P-256 key and a self-signed certificate for it (P-256: what Chromium accepts). */
export const createWebRTCCertificate = async (now: number, lifespanMs: number): Promise<WebRTCCertificate> => {
  const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])
  // Whole seconds: X.509 times have no milliseconds.
  const notBefore = new Date(Math.floor(now / 1000) * 1000)
  const notAfter = new Date(notBefore.getTime() + lifespanMs)
  const serial = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, '0')).join('')
  const cert = await X509CertificateGenerator.createSelfSigned({
    // A positive serial (first bit clear).
    serialNumber: `0${serial.slice(1)}`,
    name: 'CN=orbit-account',
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [new BasicConstraintsExtension(false, undefined, true)]
  }, crypto)
  return {
    privateKey: toPem('PRIVATE KEY', await crypto.subtle.exportKey('pkcs8', keys.privateKey)),
    pem: cert.toString('pem'),
    certhash: await certhashOf(cert),
    notAfter: cert.notAfter
  }
}

/** The stored certificate if it is whole and its key is the certificate's; undefined otherwise. */
const readStored = async (path: string): Promise<WebRTCCertificate | undefined> => {
  let stored: Partial<Stored>
  try {
    stored = JSON.parse(await readFile(path, 'utf8')) as Partial<Stored>
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || err instanceof SyntaxError) return undefined
    throw err
  }
  if (stored.version !== 1 || typeof stored.privateKey !== 'string' || typeof stored.pem !== 'string') return undefined
  try {
    const cert = new X509Certificate(stored.pem)
    const key = await crypto.subtle.importKey('pkcs8', fromPem(stored.privateKey), { name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign'])
    const fromKey = await crypto.subtle.exportKey('jwk', key)
    const fromCert = await crypto.subtle.exportKey('jwk', await cert.publicKey.export({ name: 'ECDSA', namedCurve: 'P-256' }, ['verify'], crypto))
    if (fromKey.x !== fromCert.x || fromKey.y !== fromCert.y) return undefined
    return { privateKey: stored.privateKey, pem: stored.pem, certhash: await certhashOf(cert), notAfter: cert.notAfter }
  } catch {
    // A damaged file costs only the certhash: a new certificate replaces it.
    return undefined
  }
}

const writeStored = async (path: string, cert: WebRTCCertificate): Promise<void> => {
  const stored: Stored = { version: 1, privateKey: cert.privateKey, pem: cert.pem }
  const tmp = `${path}.tmp`
  await writeFile(tmp, JSON.stringify(stored, null, 2) + '\n', { mode: 0o600 })
  await rename(tmp, path)
  await chmod(path, 0o600)
}

/**
 * The node's WebRTC-direct certificate from `directory`: the stored one while more than
 * `renewWithinMs` of it remain, else a new one, stored (owner-only) before it is used.
 */
export const loadWebRTCCertificate = async (directory: string, options: CertificateOptions = {}): Promise<WebRTCCertificate> => {
  const now = options.now ?? Date.now()
  const lifespanMs = options.lifespanMs ?? CERT_LIFESPAN_MS
  const renewWithinMs = options.renewWithinMs ?? RENEW_WITHIN_MS
  const path = join(directory, CERT_FILE)
  const stored = await readStored(path)
  if (stored !== undefined && stored.notAfter.getTime() - now > renewWithinMs) return stored
  const fresh = await createWebRTCCertificate(now, lifespanMs)
  await writeStored(path, fresh)
  return fresh
}
