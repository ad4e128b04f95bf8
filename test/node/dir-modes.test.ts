/**
 * An account directory is owner-only: one made by hand (or by an older version) with
 * mode 0755 and files 0644 is closed at create and at every open, the stores' own files
 * (orbitdb/, node/blocks, node/datastore) are created owner-only whatever the umask, a
 * link out of the directory is not followed, and another user gets a typed error.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { chmod, lstat, mkdir, readdir, symlink, writeFile } from 'node:fs/promises'
import { dirname, join, relative, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { createAccount, openAccount, type NodeAccount } from '../../src/node/account-dir.ts'
import { serveReplica, type ServedReplica } from '../../src/node/replica-dir.ts'
import { removeDir, tempDir } from '../helpers/device.ts'

/** A valid account address nobody serves: the replica opens its directory and keeps waiting. */
const ADDRESS = '/orbitdb/zdpuAqYLgkZ8DkRqjZeQ4dSHNYHtgBhvYMxqgvkhELUxMVsfQ'
/** The umask most users have: under it the stores would create 0644 files and 0755 directories. */
const USUAL_UMASK = 0o022
const NOBODY = 65534

/**
 * The directories from / down to each of `paths`. For `nobody` to run Node and this
 * checkout's sources, each needs its execute bit for others: a checkout in a private
 * temporary folder (a CI clone) may lack it. Gives it where missing; returns the undo.
 */
const openTheWay = async (paths: string[]): Promise<() => Promise<void>> => {
  const dirs = new Set<string>()
  for (const p of paths) for (let d = resolve(p); ; d = dirname(d)) { dirs.add(d); if (d === dirname(d)) break }
  const changed: Array<[string, number]> = []
  for (const d of [...dirs].sort()) {
    const mode = (await lstat(d)).mode & 0o7777
    if ((mode & 0o001) === 0) {
      changed.push([d, mode])
      await chmod(d, mode | 0o001)
    }
  }
  return async () => { for (const [d, mode] of changed.reverse()) await chmod(d, mode) }
}

interface Entry { path: string, mode: number, dir: boolean }

/** `lstat`, or undefined for an entry that went between the listing and the look (a renamed temporary file). */
const lstatIfThere = async (path: string): Promise<Awaited<ReturnType<typeof lstat>> | undefined> => {
  try {
    return await lstat(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

/**
 * Every entry under `dir` (itself included), symbolic links left out as the code leaves them. An open
 * account writes while the walk runs (its state files go through a temporary file and a rename), so an
 * entry gone by the time it is looked at is left out: it has no mode to check.
 */
const walk = async (dir: string, root = dir): Promise<Entry[]> => {
  const st = await lstatIfThere(dir)
  if (st === undefined) return []
  const here: Entry = { path: relative(root, dir) || '.', mode: Number(st.mode) & 0o777, dir: st.isDirectory() }
  if (!here.dir) return [here]
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  const below = await Promise.all(names.map(async (name) => {
    const path = join(dir, name)
    return (await lstatIfThere(path))?.isSymbolicLink() === false ? await walk(path, root) : []
  }))
  return [here, ...below.flat()]
}

/** The entries other users could read, write or enter, and the directories that are not exactly 0700. */
const openEntries = (entries: Entry[]): string[] => entries
  .filter((e) => (e.mode & 0o077) !== 0 || (e.dir && e.mode !== 0o700))
  .map((e) => `${e.path} ${e.mode.toString(8)}`)

const assertOwnerOnly = async (dir: string, mustHave: string[]): Promise<void> => {
  const entries = await walk(dir)
  assert.deepEqual(openEntries(entries), [])
  const paths = new Set(entries.map((e) => e.path))
  for (const p of mustHave) assert.ok(paths.has(p), `${p} missing from the walk`)
}

/** What an older version (or `chmod -R a+rX`) leaves: directories 0755, files 0644. */
const loosen = async (dir: string): Promise<void> => {
  for (const e of await walk(dir)) await chmod(join(dir, e.path), e.dir ? 0o755 : 0o644)
}

/** A directory made by hand before the account: 0755, with a 0644 file, a 0755 subdirectory and a link out. */
const handMade = async (dir: string, outside: string): Promise<void> => {
  await chmod(dir, 0o755)
  await writeFile(join(dir, 'notes.txt'), 'mine')
  await chmod(join(dir, 'notes.txt'), 0o644)
  await mkdir(join(dir, 'extra'))
  await chmod(join(dir, 'extra'), 0o755)
  await writeFile(join(dir, 'extra', 'more.txt'), 'more')
  await chmod(join(dir, 'extra', 'more.txt'), 0o644)
  await symlink(outside, join(dir, 'link'))
}

const STORES = ['orbitdb', 'node/blocks', 'node/datastore', 'keys.json', 'account.json']

describe('account directory modes', function () {
  this.timeout(60_000)
  let umask: number
  let dirs: string[] = []
  let laptop: NodeAccount | undefined
  let replica: ServedReplica | undefined

  const newDir = async (label: string): Promise<string> => {
    const d = await tempDir(label)
    dirs.push(d)
    return d
  }

  beforeEach(() => { umask = process.umask(USUAL_UMASK) })
  afterEach(async () => {
    await laptop?.close()
    await replica?.close()
    laptop = undefined
    replica = undefined
    for (const d of dirs) await removeDir(d)
    dirs = []
    process.umask(umask)
  })

  it('closes a 0755 account directory at create and again at open; the stores create owner-only files', async () => {
    const dir = await newDir('modes')
    const outside = join(await newDir('outside'), 'shared.txt')
    await writeFile(outside, 'not the account\'s')
    await chmod(outside, 0o644)
    await handMade(dir, outside)

    laptop = await createAccount({ dir, name: 'laptop' })
    await assertOwnerOnly(dir, ['.', 'notes.txt', 'extra', 'extra/more.txt', ...STORES])
    // Files the stores create while the account is open (a block, LevelDB logs) too.
    await laptop.put('theme', 'dark')
    await laptop.close()
    laptop = undefined
    await assertOwnerOnly(dir, STORES)
    // The link was not followed out of the directory.
    assert.equal((await lstat(outside)).mode & 0o777, 0o644)
    assert.ok((await lstat(join(dir, 'link'))).isSymbolicLink())

    await loosen(dir)
    process.umask(USUAL_UMASK)
    assert.notDeepEqual(openEntries(await walk(dir)), [])
    laptop = await openAccount({ dir })
    await assertOwnerOnly(dir, STORES)
    assert.equal(laptop.get('theme'), 'dark')
    await laptop.put('theme', 'light')
    await laptop.close()
    laptop = undefined
    await assertOwnerOnly(dir, STORES)
    assert.equal((await lstat(outside)).mode & 0o777, 0o644)
  })

  it('closes a 0755 replica directory each time serve starts; its stores create owner-only files', async () => {
    const dir = await newDir('replica-modes')
    const outside = join(await newDir('outside'), 'shared.txt')
    await writeFile(outside, 'not the replica\'s')
    await chmod(outside, 0o644)
    await handMade(dir, outside)
    // No device serves the address: the replica's OrbitDB opens no log, so orbitdb/ is not made yet.
    const made = ['.', 'notes.txt', 'extra', 'extra/more.txt', 'node/blocks', 'node/datastore', 'node/peer.key', 'keys.json']
    replica = await serveReplica({ dir, address: ADDRESS, listen: [] })
    await assertOwnerOnly(dir, made)
    await replica.close()
    replica = undefined

    await loosen(dir)
    process.umask(USUAL_UMASK)
    replica = await serveReplica({ dir, address: ADDRESS, listen: [] })
    await assertOwnerOnly(dir, made)
    assert.equal((await lstat(outside)).mode & 0o777, 0o644)
  })

  it('refuses another user\'s directory with UNSAFE_PERMISSIONS (open to others) or PERMISSION_DENIED (closed)', async function () {
    // Needs a second user: as root, the attempt runs as nobody against directories root owns.
    if (process.getuid?.() !== 0) this.skip()
    const base = await newDir('others')
    await chmod(base, 0o755)
    const loose = join(base, 'loose')
    const closed = join(base, 'closed')
    for (const [d, mode] of [[loose, 0o755], [closed, 0o700]] as const) {
      await mkdir(d)
      await writeFile(join(d, 'account.json'), '{}')
      await chmod(join(d, 'account.json'), mode === 0o755 ? 0o644 : 0o600)
      await chmod(d, mode)
    }
    const src = (p: string): string => pathToFileURL(join(import.meta.dirname, '../../src/node', p)).href
    const script = `
      import { openAccount } from '${src('account-dir.ts')}'
      import { readConfig } from '${src('config.ts')}'
      import { accountPaths } from '${src('paths.ts')}'
      const codeOf = (p) => p.then(() => 'no error', (e) => e.code ?? String(e))
      const [loose, closed] = process.argv.slice(1)
      console.log(JSON.stringify([await codeOf(openAccount({ dir: loose })), await codeOf(openAccount({ dir: closed })), await codeOf(readConfig(accountPaths(closed)))]))`
    const undo = await openTheWay([join(import.meta.dirname, '../../src/node'), join(import.meta.dirname, '../../node_modules'), dirname(process.execPath)])
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script, loose, closed], { uid: NOBODY, gid: NOBODY, cwd: '/', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (b: Buffer) => { stdout += b.toString() })
      child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
      child.on('error', reject)
      child.on('close', (code) => { code === 0 ? resolve(stdout) : reject(new Error(`child exited ${code}: ${stderr}`)) })
    }).finally(undo)
    assert.deepEqual(JSON.parse(out.trim().split('\n').at(-1) ?? ''), ['UNSAFE_PERMISSIONS', 'PERMISSION_DENIED', 'PERMISSION_DENIED'])
    // Nothing of the other user's was changed.
    assert.equal((await lstat(loose)).mode & 0o777, 0o755)
    assert.equal((await lstat(join(loose, 'account.json'))).mode & 0o777, 0o644)
  })
})
