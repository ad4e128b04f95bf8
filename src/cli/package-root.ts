/**
 * Where the package is, from this file: src/cli/ in a checkout (the TypeScript runs), or
 * dist/src/cli/ in the package (the compiled modules, and the bundle's chunks beside them).
 */
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = fileURLToPath(import.meta.url)
/** Running the TypeScript sources of a checkout. */
export const FROM_SOURCES = here.endsWith('.ts')
/** The package's root directory (the checkout's, or the installed package's). */
export const PACKAGE_ROOT = join(dirname(here), FROM_SOURCES ? '../..' : '../../..')
