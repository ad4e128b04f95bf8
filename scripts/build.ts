/**
 * `npm run build` (and `prepare`, so `npm pack` and `npm install` in a checkout run it):
 * compiles src/, acl/ and identity/ to JavaScript, .d.ts and source maps in dist/
 * (tsconfig.build.json). Only the package needs dist/: development runs the TypeScript.
 * dist/ is emptied first, so a module removed from src/ is not shipped from an old build.
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
process.exit(result.status ?? 1)
