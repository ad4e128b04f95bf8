/**
 * `web [--port <n>]`: serves the web app on 127.0.0.1 until SIGINT/SIGTERM. A page at
 * http://127.0.0.1 is a secure context (camera, WebCrypto); for a phone, put the same
 * static files on an HTTPS host (README, "On a phone or in a browser").
 * From the package it serves dist/web; from the sources it builds the app with esbuild
 * first when the build is missing or older than the sources.
 */
import { createServer, type Server } from 'node:http'
import { readFile, readdir, stat } from 'node:fs/promises'
import { extname, join, normalize, sep } from 'node:path'
import type { ParsedArgs } from './args.ts'
import type { Output } from './output.ts'
import { untilSignal } from './local.ts'
import { InvalidArgumentError } from '../errors.ts'
import { FROM_SOURCES, PACKAGE_ROOT } from './package-root.ts'

/** dist/web of the checkout, or of the installed package. */
const appDir = join(PACKAGE_ROOT, 'dist/web')

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json'
}
/** The page loads only its own script; it talks to daemons over WebSockets and WebRTC. */
const CSP = "default-src 'self'; script-src 'self'; connect-src 'self' ws: wss:; media-src 'self' blob: mediastream:; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

const parsePort = (text: string | undefined): number => {
  if (text === undefined) return 0
  const port = Number(text)
  if (!/^\d+$/.test(text) || port > 65535) throw new InvalidArgumentError(`--port must be a number from 0 to 65535, not '${text}'`)
  return port
}

/** The newest modification time under `dir` (ms). */
const newest = async (dir: string): Promise<number> => {
  let latest = 0
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) latest = Math.max(latest, (await stat(join(entry.parentPath, entry.name))).mtimeMs)
  }
  return latest
}

const builtAt = async (): Promise<number> => await stat(join(appDir, 'app.js')).then((s) => s.mtimeMs, () => 0)

/** From the sources: builds the app when dist/web is missing or older than web/, src/ or identity/. */
const ensureBuilt = async (out: Output): Promise<void> => {
  const built = await builtAt()
  if (!FROM_SOURCES) {
    if (built === 0) throw new InvalidArgumentError(`the web app is not built (${appDir} is missing): run \`npm run build\``)
    return
  }
  const sources = Math.max(...await Promise.all(['web', 'src', 'identity', 'acl'].map(async (d) => await newest(join(PACKAGE_ROOT, d)))))
  if (built >= sources) return
  out.note('building the web app')
  // A computed path: the package ships the built app and not its builder.
  const builder = join(PACKAGE_ROOT, 'web/build.ts')
  const { buildWeb } = await import(builder) as { buildWeb: (outdir: string) => Promise<unknown> }
  await buildWeb(appDir)
}

const serveFiles = (): Server => createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname
  const file = normalize(join(appDir, path === '/' ? 'index.html' : decodeURIComponent(path)))
  if (!file.startsWith(appDir + sep) || (req.method !== 'GET' && req.method !== 'HEAD')) {
    res.writeHead(404).end()
    return
  }
  readFile(file).then((body) => {
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'cache-control': 'no-cache',
      'content-security-policy': CSP,
      'x-content-type-options': 'nosniff'
    })
    res.end(req.method === 'HEAD' ? undefined : body)
  }, () => { res.writeHead(404).end() })
})

export const runWeb = async (args: ParsedArgs, out: Output): Promise<void> => {
  const port = parsePort(args.options.port as string | undefined)
  await ensureBuilt(out)
  const server = serveFiles()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    // Loopback only: the page holds device keys, and a LAN address is no secure context anyway.
    server.listen(port, '127.0.0.1', resolve)
  })
  const address = server.address()
  const url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : port}/`
  const stopped = untilSignal()
  out.result('web', { url })
  try {
    await stopped
  } finally {
    server.closeAllConnections()
    await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  }
}
