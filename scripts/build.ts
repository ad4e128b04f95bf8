/**
 * `npm run build` (and `prepare`, so `npm pack` and `npm install` in a checkout run it):
 * compiles src/, acl/ and identity/ to JavaScript, .d.ts and source maps in dist/
 * (tsconfig.build.json). Only the package needs dist/: development runs the TypeScript.
 * dist/ is emptied first, so a module removed from src/ is not shipped from an old build.
 * Then the command is bundled (scripts/cli-bundle.ts: dist/src/cli/orbit-account.js, what
 * the launcher runs in the package) and the web app (web/) is built into dist/web.
 */
import { spawnSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')

rmSync(join(root, 'dist'), { recursive: true, force: true })
const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root })
if (result.status !== 0) process.exit(result.status ?? 1)
const { buildCliBundle } = await import('./cli-bundle.ts')
const cli = await buildCliBundle(root, join(root, 'dist/src/cli'))
// The web app, as static files for `orbit-account web` or any HTTPS host.
const { buildWeb } = await import('../web/build.ts')
const web = await buildWeb(join(root, 'dist/web'))
// On stderr: `npm pack --json` prints its JSON on stdout, after this.
console.error(`dist/src/cli: orbit-account.js ${(cli.bytes / 1024).toFixed(0)} KiB, chunks ${(cli.chunkBytes / 1024).toFixed(0)} KiB`)
console.error(`dist/web: app.js ${(web.bytes / 1024).toFixed(0)} KiB, chunks ${(web.chunkBytes / 1024).toFixed(0)} KiB`)
