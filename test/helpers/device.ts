/**
 * A real device for tests: a libp2p/Helia node on loopback (or dial-only), an OrbitDB
 * instance with the device's Ed25519 identity, and its secrets. Every device a test
 * starts is stopped by `stop()`; temp dirs are removed.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startNode, type StartedNode } from '../../src/network/node.ts'
import { createOrbitDB, type OrbitDB, type OrbitIdentity } from '../../src/orbit/orbitdb.ts'
import { createDeviceIdentities } from '../../identity/identities.ts'
import { deviceIdFromSigningKey, generateDeviceKeys } from '../../identity/keys.ts'
import type { DeviceSecrets } from '../../identity/keystore.ts'
import { useAccountAccessControllers } from '../../src/account/access-registration.ts'

export interface TestDevice {
  name: string
  dir: string
  node: StartedNode
  orbitdb: OrbitDB
  identity: OrbitIdentity
  secrets: DeviceSecrets
  stop: () => Promise<void>
}

export const makeSecrets = (name: string): DeviceSecrets => {
  const keys = generateDeviceKeys()
  return { version: 1, device: deviceIdFromSigningKey(keys.signing.publicKey), name, signing: keys.signing, box: keys.box }
}

export const tempDir = async (label: string): Promise<string> => await mkdtemp(join(tmpdir(), `oa-${label}-`))

export const startDevice = async (name: string, options: { dir?: string, secrets?: DeviceSecrets, listen?: boolean } = {}): Promise<TestDevice> => {
  useAccountAccessControllers()
  const dir = options.dir ?? await tempDir(name)
  const secrets = options.secrets ?? makeSecrets(name)
  const node = await startNode({ directory: join(dir, 'node'), listen: options.listen === true ? ['/ip4/127.0.0.1/tcp/0'] : [] })
  const { identities, identity } = await createDeviceIdentities({ ipfs: node.helia, signing: secrets.signing })
  if (identity === undefined) throw new Error('no identity')
  const orbitdb = await createOrbitDB({ ipfs: node.helia, identities, identity, directory: join(dir, 'orbitdb') })
  let stopped = false
  return {
    name,
    dir,
    node,
    orbitdb,
    identity,
    secrets,
    stop: async () => {
      if (stopped) return
      stopped = true
      await orbitdb.stop()
      await node.stop()
    }
  }
}

export const removeDir = async (dir: string): Promise<void> => { await rm(dir, { recursive: true, force: true }) }

/** Polls `check` until it returns true, or fails after `ms`. */
export const waitFor = async (check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> => {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** Every byte of every file under `dir`, to look for plaintext that must not be there. */
export const allBytes = async (dir: string): Promise<Buffer> => {
  const parts: Buffer[] = []
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) parts.push(await readFile(join(entry.parentPath, entry.name)).catch(() => Buffer.alloc(0)))
  }
  return Buffer.concat(parts)
}
