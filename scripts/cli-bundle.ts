/**
 * The command as the package runs it: src/cli/main.ts and everything it imports, its
 * dependencies included, bundled by esbuild into dist/src/cli/orbit-account.js and
 * chunks beside it that load on demand (libp2p, Helia and OrbitDB only for a command
 * that opens the store). Node then reads a few files instead of ~1,400 modules: a
 * daemon is ready in about half the time (measured: ~0.7 against ~1.2-1.5 s), and a
 * command through the daemon starts faster too.
 *
 * Beside the modules tsc compiles (dist/src/cli/main.js...), so that paths the code
 * finds from its own file (the web app, package.json, the launcher's compile cache)
 * are the same. Packages with native code stay outside, loaded from node_modules: they are
 * dependencies of the package of their own (classic-level, node-datachannel), so they
 * are found from dist/ however npm lays out node_modules; the build fails if the bundle
 * imports any other package.
 */
import { build } from 'esbuild'
import { readFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { join } from 'node:path'

/** Native addons: found by their own files at run time, so not bundled. */
const EXTERNAL = ['classic-level', 'node-datachannel', '@node-datachannel/*', '*.node']
/** Native speed-ups `ws` tries to load and does without (not installed): not dependencies. */
export const OPTIONAL = ['bufferutil', 'utf-8-validate']

export const CLI_BUNDLE = 'orbit-account.js'

/** A Node built-in, named with `node:` or without ('events', 'fs/promises'). */
export const isBuiltin = (spec: string): boolean => spec.startsWith('node:') || builtinModules.includes(spec.split('/')[0] as string)
/** The package a bare specifier names ('@scope/name/deep.js' -> '@scope/name'). */
export const packageOf = (spec: string): string => spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/')

export interface CliBundle {
  /** Bytes of the entry, and of the chunks it loads on demand. */
  bytes: number
  chunkBytes: number
  /** The packages (not built-ins) the bundle loads from node_modules. */
  external: string[]
}

/** Bundles the command into `outdir`; fails when it would load a package that is not a dependency. */
export const buildCliBundle = async (root: string, outdir: string): Promise<CliBundle> => {
  const result = await build({
    entryPoints: { 'orbit-account': join(root, 'src/cli/main.ts') },
    outdir,
    splitting: true,
    chunkNames: 'orbit-account-[hash]',
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    external: EXTERNAL,
    // CommonJS dependencies call require(): an ES module has none of its own.
    banner: { js: 'import { createRequire as __orbitAccountRequire } from \'node:module\'; const require = __orbitAccountRequire(import.meta.url);' },
    // No source maps: several times the bundle's size; the compiled modules beside it keep theirs.
    sourcemap: false,
    metafile: true,
    logLevel: 'warning'
  })
  const outputs = Object.entries(result.metafile.outputs)
  const external = [...new Set(outputs.flatMap(([, o]) => o.imports.filter((i) => i.external && !isBuiltin(i.path)).map((i) => packageOf(i.path))))].sort()
  const dependencies = Object.keys((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies)
  const missing = external.filter((p) => !dependencies.includes(p) && !OPTIONAL.includes(p))
  if (missing.length > 0) throw new Error(`the CLI bundle loads ${missing.join(', ')} from node_modules: make each a dependency, or bundle it`)
  return {
    bytes: outputs.find(([file]) => file.endsWith(`/${CLI_BUNDLE}`))?.[1].bytes ?? 0,
    chunkBytes: outputs.filter(([file]) => !file.endsWith(`/${CLI_BUNDLE}`)).reduce((n, [, o]) => n + o.bytes, 0),
    external
  }
}
