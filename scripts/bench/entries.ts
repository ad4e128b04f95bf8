/**
 * The processes the daemon and CLI rows start, as each side's user would run them:
 * ours, the command as the package ships it (the bundle scripts/cli-bundle.ts writes,
 * which `bench.ts` builds from the sources first); plain, its ready script as plain
 * JavaScript (plain-ready.ts with the bench's own modules inlined, every package loaded
 * from node_modules as a Node app loads OrbitDB), so neither side pays for Node's type
 * stripping.
 */
import { build } from 'esbuild'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CLI_BUNDLE } from '../cli-bundle.ts'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..', '..')

/** Our command, as installed. */
export const OUR_CLI = join(root, 'dist', 'src', 'cli', CLI_BUNDLE)
/** Plain's ready process, built by `buildPlainReady` (under node_modules, so that its imports resolve). */
export const PLAIN_READY = join(root, 'node_modules', '.cache', 'orbit-account-bench', 'plain-ready.mjs')

export const buildPlainReady = async (): Promise<void> => {
  await build({
    entryPoints: [join(here, 'plain-ready.ts')],
    outfile: PLAIN_READY,
    bundle: true,
    packages: 'external',
    format: 'esm',
    platform: 'node',
    target: 'node22',
    logLevel: 'warning'
  })
}
