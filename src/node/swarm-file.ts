/**
 * Private mode on a node: the swarm key file (owner-only, next to the device keys) and
 * the switch to a new key while the node runs. New connections use the new key at once;
 * connections made with the old one stay open for a grace period, so the devices that
 * are online get the rotation that names the new key, then they are closed and the
 * peers redialled: those that moved reconnect, a revoked device cannot.
 */
import { readFile, rename, writeFile } from 'node:fs/promises'
import type { Account } from '../account/account.ts'
import type { Swarm } from '../account/swarm.ts'
import { equalBytes } from '../crypto/bytes.ts'
import { InvalidArgumentError } from '../errors.ts'
import type { StartedNode } from '../network/node.ts'
import { parseSwarmKey, swarmKeyHex } from '../network/swarm-key.ts'

/** How long connections made with a replaced swarm key stay open. */
export const SWARM_GRACE_MS = 15_000

export const readSwarmFile = async (path: string): Promise<Swarm | undefined> => {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  let parsed: { epoch?: unknown, key?: unknown }
  try {
    parsed = JSON.parse(text) as { epoch?: unknown, key?: unknown }
  } catch {
    throw new InvalidArgumentError(`${path} is not valid JSON: restore it, or pass the swarm key again`)
  }
  if (typeof parsed.epoch !== 'number' || !Number.isInteger(parsed.epoch) || typeof parsed.key !== 'string') {
    throw new InvalidArgumentError(`${path} is not a swarm key file`)
  }
  return { epoch: parsed.epoch, key: parseSwarmKey(parsed.key) }
}

export const writeSwarmFile = async (path: string, swarm: Swarm): Promise<void> => {
  const tmp = `${path}.tmp`
  await writeFile(tmp, JSON.stringify({ epoch: swarm.epoch, key: swarmKeyHex(swarm.key) }) + '\n', { mode: 0o600 })
  await rename(tmp, path)
}

/**
 * Keeps the node's swarm key (and its file) on the account's; returns a stop function.
 * `pinned`: the node was started with a key given by hand (a device that was away during
 * a revocation): keep it until the account learns a swarm newer than the one it had.
 */
export const followSwarm = (node: StartedNode, account: Account, path: string, options: { graceMs?: number | undefined, pinned?: boolean } = {}): () => void => {
  const guard = node.swarm
  if (guard === undefined) return () => {}
  const graceMs = options.graceMs ?? SWARM_GRACE_MS
  const floor = options.pinned === true ? (account.swarm()?.epoch ?? -1) : -Infinity
  const timers = new Set<ReturnType<typeof setTimeout>>()
  let written: Swarm | undefined
  const apply = (swarm: Swarm): void => {
    if (swarm.epoch <= floor) return
    if (written === undefined || written.epoch !== swarm.epoch || !equalBytes(written.key, swarm.key)) {
      written = swarm
      void writeSwarmFile(path, swarm).catch(() => {})
    }
    if (equalBytes(guard.key(), swarm.key)) return
    const libp2p = node.libp2p
    const old = libp2p.getConnections()
    guard.setKey(swarm.key)
    const timer = setTimeout(() => {
      timers.delete(timer)
      void Promise.all(old.filter((c) => c.status === 'open').map(async (c) => {
        await c.close().catch(() => {})
        await libp2p.dial(c.remotePeer, { signal: AbortSignal.timeout(5000) }).catch(() => {})
      }))
    }, graceMs)
    timers.add(timer)
  }
  const now = account.swarm()
  if (now !== undefined) apply(now)
  const stop = account.onSwarm(apply)
  return () => {
    stop()
    for (const t of timers) clearTimeout(t)
    timers.clear()
  }
}
