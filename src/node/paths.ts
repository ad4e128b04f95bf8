/** Where an account directory keeps its files. */
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'

export interface AccountPaths {
  dir: string
  keystore: string
  config: string
  lock: string
  socket: string
  node: string
  orbitdb: string
  peers: string
  /** Private mode: the swarm key this device (or replica) uses. */
  swarm: string
  /** What the device derives from its logs, sealed (src/node/state-files.ts). */
  state: string
}

export const defaultDir = (env: Record<string, string | undefined> = process.env): string =>
  env.ORBIT_ACCOUNT_DIR !== undefined && env.ORBIT_ACCOUNT_DIR !== '' ? env.ORBIT_ACCOUNT_DIR : join(homedir(), '.orbit-account')

export const accountPaths = (dir: string): AccountPaths => {
  const d = resolve(dir)
  return {
    dir: d,
    keystore: join(d, 'keys.json'),
    config: join(d, 'account.json'),
    lock: join(d, 'LOCK'),
    socket: join(d, 'daemon.sock'),
    node: join(d, 'node'),
    orbitdb: join(d, 'orbitdb'),
    peers: join(d, 'peers.json'),
    swarm: join(d, 'swarm.json'),
    state: join(d, 'state')
  }
}
