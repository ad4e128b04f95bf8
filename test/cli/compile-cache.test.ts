/**
 * Node's compile cache holds code the next run executes, so it goes only where no other
 * user can swap it (issue 18, item 5): the effective user's home from the password
 * database (not $HOME, which `sudo -E` keeps), in directories that user alone owns and
 * can write to, made 0700; anything else means no cache.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { chmod, chown, lstat, mkdir, readdir, symlink } from 'node:fs/promises'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { createRequire } from 'node:module'
import { REPO } from './helpers.ts'
import { removeDir, tempDir } from '../helpers/device.ts'

// The launcher's plain-JavaScript helper (bin/compile-cache.cjs), as bin/start.cjs and the CLI's entry load it.
const { compileCacheDir } = createRequire(import.meta.url)('../../bin/compile-cache.cjs') as { compileCacheDir: (home: string, uid: number) => string | undefined }

const NOBODY = 65534
const uid = process.geteuid?.() ?? 0
const modeOf = async (p: string): Promise<number> => (await lstat(p)).mode & 0o777

describe('the compile cache', function () {
  this.timeout(60_000)
  let dirs: string[] = []
  const newHome = async (): Promise<string> => {
    const d = await tempDir('home')
    dirs.push(d)
    return d
  }
  afterEach(async () => {
    for (const d of dirs) await removeDir(d)
    dirs = []
  })

  it('is made 0700 under a home the user owns, and refused where another user owns or can write a directory on the way', async function () {
    if (process.platform === 'win32') this.skip()
    const home = await newHome()
    const made = compileCacheDir(home, uid)
    assert.equal(made, join(home, '.cache', 'orbit-account', 'compile-cache'))
    for (const p of ['.cache', '.cache/orbit-account', '.cache/orbit-account/compile-cache']) assert.equal(await modeOf(join(home, p)), 0o700, p)
    // Another user's home (`sudo -E` as root, with $HOME of the user): all of it belongs to someone else.
    assert.equal(compileCacheDir(home, uid + 1), undefined)

    const writable = await newHome()
    await mkdir(join(writable, '.cache', 'orbit-account', 'compile-cache'), { recursive: true })
    await chmod(join(writable, '.cache', 'orbit-account', 'compile-cache'), 0o777)
    assert.equal(compileCacheDir(writable, uid), undefined, 'a cache others can write to')
    await chmod(join(writable, '.cache', 'orbit-account', 'compile-cache'), 0o700)
    await chmod(join(writable, '.cache'), 0o775)
    assert.equal(compileCacheDir(writable, uid), undefined, 'a parent the group can write to (it could swap the cache)')

    const linked = await newHome()
    await symlink(await newHome(), join(linked, '.cache'))
    assert.equal(compileCacheDir(linked, uid), undefined, 'a link on the way')
    assert.equal(compileCacheDir(join(linked, 'missing'), uid), undefined, 'no home')
  })

  it('a cache directory owned by another user is not used', async function () {
    if (uid !== 0) this.skip()
    const home = await newHome()
    await mkdir(join(home, '.cache', 'orbit-account', 'compile-cache'), { recursive: true, mode: 0o700 })
    await chown(join(home, '.cache', 'orbit-account', 'compile-cache'), NOBODY, NOBODY)
    assert.equal(compileCacheDir(home, 0), undefined)
  })

  it('run as root with $HOME of another user (sudo -E), the launcher writes nothing there', async function () {
    if (uid !== 0 || process.platform === 'win32') this.skip()
    const theirs = await newHome()
    await chown(theirs, NOBODY, NOBODY)
    const { stdout } = await promisify(execFile)(process.execPath, [join(REPO, 'bin', 'orbit-account'), '--version'], { env: { ...process.env, HOME: theirs }, timeout: 30_000 })
    assert.match(stdout, /^orbit-account /)
    assert.deepEqual(await readdir(theirs), [], 'root wrote into the other user\'s home')
    // It went to root's own home, from the password database, owner-only.
    const own = join(userInfo().homedir, '.cache', 'orbit-account', 'compile-cache')
    const st = await lstat(own)
    assert.equal(st.uid, 0)
    assert.equal(st.mode & 0o022, 0)
  })
})
