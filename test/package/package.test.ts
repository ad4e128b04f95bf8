/**
 * The package as a user gets it: `npm pack`, then a plain `npm install <tarball>` into a
 * fresh project, where the README's example, the CLI from node_modules/.bin, a strict
 * TypeScript consumer and a browser bundle of `orbit-account/core` must work from what
 * was installed alone (nothing of this checkout's src/). One pack (which builds dist/)
 * and one install are shared by the specs: about a minute.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { builtinModules, createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build, type Metafile, type Plugin } from 'esbuild'
import { CLI_BUNDLE, isBuiltin, OPTIONAL, packageOf } from '../../scripts/cli-bundle.ts'

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const TSC = join(REPO, 'node_modules/typescript/bin/tsc')

interface Run { code: number | null, stdout: string, stderr: string }

/** The environment of every child: this Node first on PATH, nothing of an enclosing `npm test`. */
const childEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.toLowerCase().startsWith('npm_') && !k.startsWith('ORBIT_ACCOUNT_')) env[k] = v
  }
  env.PATH = `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`
  return env
}

/** Runs a command to completion (stdin closed); killed at the deadline. */
const run = async (cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<Run> =>
  await new Promise<Run>((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s })
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`timed out after ${timeoutMs} ms: ${cmd} ${args.join(' ')}\n${stdout}\n${stderr}`))
    }, timeoutMs)
    child.on('error', (err) => { clearTimeout(timer); reject(err) })
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })

const ok = async (cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<string> => {
  const r = await run(cmd, args, cwd, timeoutMs)
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')} failed (${String(r.code)}):\n${r.stdout}\n${r.stderr}`)
  return r.stdout
}

const bytesUnder = async (dir: string): Promise<number> => {
  let total = 0
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += (await stat(join(e.parentPath, e.name))).size
  }
  return total
}


/**
 * Every package that the shipped JavaScript and .d.ts files import, built-ins aside. The
 * command's bundle (dist/src/cli/orbit-account*.js, scripts/cli-bundle.ts) holds the code
 * of its dependencies, comments and all: only its import statements and esbuild's require
 * calls are its own, less the native speed-ups `ws` tries and does without.
 */
const importedPackages = async (dist: string): Promise<string[]> => {
  const found = new Set<string>()
  // Statements only: an import or export at the start of a line up to its `from` (no quote
  // on the way, so never inside a string), a bare `import '...'`, or a dynamic `import('...')`.
  const specifiers = /^\s*(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"./][^'"]*)['"]|^\s*import\s*['"]([^'"./][^'"]*)['"]|\bimport\(\s*['"]([^'"./][^'"]*)['"]\s*\)/gm
  const bundleSpecifiers = /^\s*import\b[^;'"]*?\bfrom\s*"([^"./][^"]*)"|^\s*import\s*"([^"./][^"]*)"|\b__require\("([^"./][^"]*)"\)/gm
  for (const e of await readdir(dist, { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || !/\.(js|d\.ts)$/.test(e.name)) continue
    // The web app (dist/web) is one bundle: it imports nothing but its own chunks, and its minified text has `from"..."` in strings.
    if (relative(dist, e.parentPath).split(sep)[0] === 'web') continue
    const bundle = relative(dist, e.parentPath) === join('src', 'cli') && e.name.startsWith(CLI_BUNDLE.replace(/\.js$/, ''))
    for (const m of (await readFile(join(e.parentPath, e.name), 'utf8')).matchAll(bundle ? bundleSpecifiers : specifiers)) {
      const spec = (m[1] ?? m[2] ?? m[3]) as string
      // Built for Node, the bundle names built-ins without `node:` ('events'); elsewhere a bare 'events' is the npm package (the browser's).
      if (bundle ? !isBuiltin(spec) && !OPTIONAL.includes(spec) : !spec.startsWith('node:')) found.add(packageOf(spec))
    }
  }
  return [...found].sort()
}

interface BuiltinImport { path: string, importer: string, resolved: string | undefined }

/**
 * Records every import of a `node:` module or of a Node built-in's name, and where it
 * resolved for a browser. A name is fine only when an npm package of that name serves it
 * (the `events` package for `events`); a Node built-in is not.
 */
const builtinImports = (seen: BuiltinImport[]): Plugin => ({
  name: 'record-node-builtins',
  setup (b) {
    const names = builtinModules.filter((n) => !n.startsWith('node:')).map((n) => n.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))
    const filter = new RegExp(`^(node:|(${names.join('|')})(/|$))`)
    const again = Symbol('again')
    b.onResolve({ filter }, async (args) => {
      if (args.pluginData === again) return undefined
      const r = await b.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: again })
      seen.push({ path: args.path, importer: args.importer, resolved: r.errors.length === 0 ? r.path : undefined })
      return undefined
    })
  }
})

const servedByPackage = (i: BuiltinImport): boolean =>
  !i.path.startsWith('node:') && i.resolved !== undefined && i.resolved.includes(`${sep}node_modules${sep}${packageOf(i.path)}${sep}`)

/** The README's "Use it in your app" example, exactly as printed there. */
const readmeExample = async (): Promise<string> => {
  const readme = await readFile(join(REPO, 'README.md'), 'utf8')
  const section = readme.split(/^## /m).find((s) => s.startsWith('Use it in your app'))
  const code = section?.match(/```js\n([\s\S]*?)```/)?.[1]
  assert.ok(code !== undefined, 'README has a "Use it in your app" section with a js example')
  return code
}

const CONSUMER_TS = `import { createAccount, OrbitAccountError, type JsonValue, type NodeAccount } from 'orbit-account'
import { createAccountCore, parseInvite, reduce, type Account } from 'orbit-account/core'

export const remember = async (dir: string, key: string, value: JsonValue): Promise<JsonValue | undefined> => {
  const account: NodeAccount = await createAccount({ dir, name: 'laptop' })
  try {
    await account.put(key, value)
    // @ts-expect-error: a value is JSON, not a function (fails as unused if the types were any)
    await account.put(key, () => 1)
    return account.get(key)
  } catch (err) {
    if (err instanceof OrbitAccountError && err.code === 'VALUE_TOO_LARGE') return undefined
    throw err
  } finally {
    await account.close()
  }
}

export const core: [typeof createAccountCore, typeof parseInvite, typeof reduce] = [createAccountCore, parseInvite, reduce]
export const address = (account: Account): string => account.address
`

/** Strict, nodenext; the app's own Node types (libp2p's types name node:events), nothing of this checkout's sources. */
const CONSUMER_TSCONFIG = {
  compilerOptions: {
    target: 'ES2023',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    lib: ['ES2023', 'DOM'],
    typeRoots: [join(REPO, 'node_modules/@types')],
    types: ['node'],
    strict: true,
    noEmit: true,
    skipLibCheck: false
  },
  files: ['consumer.ts']
}

describe('the npm package, installed from its tarball in a fresh project', function () {
  this.timeout(240_000)
  let root: string
  let app: string
  let installed: string
  let packed: { filename: string, size: number, unpackedSize: number, files: Array<{ path: string }> }

  before(async function () {
    this.timeout(400_000)
    root = await mkdtemp(join(tmpdir(), 'oa-pkg-'))
    app = join(root, 'app')
    installed = join(app, 'node_modules/orbit-account')
    const out = await ok('npm', ['pack', '--json', '--pack-destination', root], REPO, 180_000)
    packed = (JSON.parse(out) as Array<typeof packed>)[0] as typeof packed
    await mkdir(app)
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'consumer-app', version: '1.0.0', private: true, type: 'module' }))
    await ok('npm', ['install', join(root, packed.filename), '--prefer-offline', '--no-audit', '--no-fund'], app, 180_000)
    const kb = (n: number): string => `${Math.round(n / 1024)} KiB`
    console.log(`      packed ${kb(packed.size)}, unpacked ${kb(packed.unpackedSize)}, installed node_modules/orbit-account ${kb(await bytesUnder(installed))}, the app's node_modules ${kb(await bytesUnder(join(app, 'node_modules')))}`)
  })

  after(async () => {
    if (root !== undefined) await rm(root, { recursive: true, force: true, maxRetries: 3 })
  })

  it('ships what runs: dist/, the launcher, the README; no tests, sources or fixtures', () => {
    const paths = packed.files.map((f) => f.path)
    for (const p of paths) assert.match(p, /^(dist\/|bin\/|package\.json$|README\.md$|LICENSE$)/, `${p} is shipped`)
    for (const p of paths) assert.doesNotMatch(p, /(^|\/)(test|fixtures|bench)(\/|\.)|\.test\.|(?<!\.d)\.ts$/, `${p} is shipped`)
    for (const p of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/core.js', 'dist/src/core.d.ts', 'dist/src/cli/main.js', 'dist/src/cli/main.js.map', `dist/src/cli/${CLI_BUNDLE}`, 'bin/orbit-account', 'bin/start.cjs', 'bin/compile-cache.cjs']) {
      assert.ok(paths.includes(p), `${p} is missing from the package`)
    }
  })

  it('depends on exactly the packages its shipped code imports, and not on the node package', async () => {
    const manifest = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }
    assert.deepEqual(await importedPackages(join(installed, 'dist')), Object.keys(manifest.dependencies).sort())
    assert.equal(manifest.dependencies.node, undefined)
  })

  it('runs the README example: creates the account, then opens it again (put, get, close)', async () => {
    const example = join(app, 'example')
    await mkdir(example)
    await writeFile(join(example, 'app.mjs'), await readmeExample())
    const first = await ok(process.execPath, ['app.mjs'], example, 60_000)
    const second = await ok(process.execPath, ['app.mjs'], example, 60_000)
    const address = first.match(/^visit 1 of (\/orbitdb\/\w+)\n$/)?.[1]
    assert.ok(address !== undefined, `first run printed: ${first}`)
    assert.equal(second, `visit 2 of ${address}\n`)
  })

  it('the command\'s bundle finds the native packages it loads, from where npm put them', () => {
    const bundle = join(installed, 'dist/src/cli', CLI_BUNDLE)
    for (const name of ['classic-level', 'node-datachannel']) {
      assert.ok(createRequire(bundle).resolve(name).startsWith(join(app, 'node_modules')), `${name} resolves in the app's node_modules`)
    }
  })

  it('runs the CLI from node_modules/.bin: create, put, get', async () => {
    const cli = join(app, 'node_modules/.bin/orbit-account')
    const dir = join(root, 'a')
    const json = async (args: string[]): Promise<Record<string, unknown>> => JSON.parse(await ok(cli, [...args, '--dir', dir, '--json'], app, 60_000)) as Record<string, unknown>
    const created = await json(['create', '--name', 'laptop'])
    assert.match(String(created.account), /^\/orbitdb\//)
    assert.equal(created.name, 'laptop')
    const put = await json(['put', 'settings/theme', '"dark"'])
    assert.deepEqual([put.key, put.value], ['settings/theme', 'dark'])
    const got = await json(['get', 'settings/theme'])
    assert.deepEqual([got.key, got.value], ['settings/theme', 'dark'])
  })

  it('the CLI says which Node it needs when this one is older than 22', async () => {
    const older = join(root, 'node-20.cjs')
    await writeFile(older, "Object.defineProperty(process, 'versions', { value: { ...process.versions, node: '20.11.0' } })\n")
    const r = await run(process.execPath, ['--require', older, join(app, 'node_modules/.bin/orbit-account'), 'get', 'k', '--json'], app, 30_000)
    assert.equal(r.code, 1)
    assert.equal(r.stdout, '')
    assert.match(r.stderr, /^orbit-account: needs Node\.js 22 or newer; this is Node 20\.11\.0 /)
  })

  it('type-checks a strict nodenext TypeScript consumer against the installed package alone', async () => {
    await writeFile(join(app, 'consumer.ts'), CONSUMER_TS)
    await writeFile(join(app, 'tsconfig.json'), JSON.stringify(CONSUMER_TSCONFIG, null, 2))
    const files = (await ok(process.execPath, [TSC, '-p', 'tsconfig.json', '--listFiles'], app, 120_000)).split('\n')
    for (const entry of ['index.d.ts', 'core.d.ts']) assert.ok(files.includes(join(installed, 'dist/src', entry)), `the types of ${entry} came from the installed package`)
    const ours = files.filter((f) => ['src', 'acl', 'identity'].some((d) => f.startsWith(join(REPO, d) + sep)))
    assert.deepEqual(ours, [], 'nothing of the checkout\'s sources is read')
  })

  it('bundles orbit-account/core for a browser with no Node built-in in it', async () => {
    const seen: BuiltinImport[] = []
    const result = await build({
      stdin: { contents: 'export * from \'orbit-account/core\'\n', resolveDir: app, loader: 'js' },
      absWorkingDir: app,
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
      plugins: [builtinImports(seen)]
    }).catch((err: unknown) => err)
    const builtins = seen.filter((i) => !servedByPackage(i)).map((i) => `${i.path} (from ${i.importer})`)
    assert.deepEqual(builtins, [], 'Node built-ins in the browser bundle')
    assert.ok(!(result instanceof Error), `the bundle failed: ${String(result)}`)
    const inputs = Object.keys((result as { metafile: Metafile }).metafile.inputs)
    assert.ok(inputs.includes('node_modules/orbit-account/dist/src/core.js'), 'the installed package was bundled')
    assert.ok(!inputs.some((f) => f.includes('node_modules/orbit-account/dist/src/node/')), 'no Node adapter was bundled')
  })
})
