/**
 * Builds the web app (web/main.ts and index.html) into static files with esbuild:
 * minified ES modules (app.js, and chunks it loads on demand: the QR decoder, and what
 * libraries import lazily) and the page. `npm run build` puts them in dist/web;
 * `orbit-account web` builds them on start when it runs from the sources.
 */
import { copyFile, mkdir, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const here = dirname(fileURLToPath(import.meta.url))

/** `bytes`: app.js, what a page loads first; `chunkBytes`: the chunks loaded on demand (the QR decoder...). */
export interface WebBuild { outdir: string, bytes: number, chunkBytes: number }

export const buildWeb = async (outdir: string): Promise<WebBuild> => {
  await rm(outdir, { recursive: true, force: true })
  await mkdir(outdir, { recursive: true })
  const result = await build({
    entryPoints: { app: join(here, 'main.ts') },
    outdir,
    // The QR decoder is a chunk of its own, fetched when the camera opens.
    splitting: true,
    chunkNames: 'chunk-[hash]',
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    // No source maps: they would be five times the app's size in the package.
    sourcemap: false,
    metafile: true,
    logLevel: 'silent'
  })
  await copyFile(join(here, 'index.html'), join(outdir, 'index.html'))
  const scripts = Object.entries(result.metafile.outputs).filter(([file]) => file.endsWith('.js'))
  return {
    outdir,
    bytes: scripts.find(([file]) => file.endsWith('app.js'))?.[1].bytes ?? 0,
    chunkBytes: scripts.filter(([file]) => !file.endsWith('app.js')).reduce((n, [, o]) => n + o.bytes, 0)
  }
}
