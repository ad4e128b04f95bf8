/** Devices of one account, each a real node on loopback with its own directory. */
import { createAccount, joinAccount, openAccount, type NodeAccount } from '../../src/node/account-dir.ts'
import { multiaddr } from '@multiformats/multiaddr'
import type { Mode, Role } from '../../src/types.ts'
import { removeDir, tempDir } from '../helpers/device.ts'

export const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']

export class Devices {
  /** Options every device of this set is created, joined and opened with. */
  readonly extra: { swarmGraceMs?: number }
  constructor (extra: { swarmGraceMs?: number } = {}) { this.extra = extra }
  readonly dirs = new Map<string, string>()
  readonly open = new Map<string, NodeAccount>()

  async dir (name: string): Promise<string> {
    let dir = this.dirs.get(name)
    if (dir === undefined) {
      dir = await tempDir(name)
      this.dirs.set(name, dir)
    }
    return dir
  }

  get (name: string): NodeAccount {
    const account = this.open.get(name)
    if (account === undefined) throw new Error(`${name} is not open`)
    return account
  }

  async create (name: string, mode: Mode = 'encrypted'): Promise<NodeAccount> {
    const account = await createAccount({ dir: await this.dir(name), name, listen: LOOPBACK, mode, ...this.extra })
    this.open.set(name, account)
    return account
  }

  /** `inviter` invites, `name` joins. */
  async join (name: string, inviter: string, role: Role = 'member'): Promise<NodeAccount> {
    const invite = await this.get(inviter).invite({ ttlMs: 60_000, role })
    const account = await joinAccount({ dir: await this.dir(name), invite: invite.text, name, listen: LOOPBACK, ...this.extra })
    await invite.admitted
    this.open.set(name, account)
    return account
  }

  async stop (name: string): Promise<void> {
    await this.open.get(name)?.close()
    this.open.delete(name)
  }

  async start (name: string, options: { swarmKey?: Uint8Array } = {}): Promise<NodeAccount> {
    const account = await openAccount({ dir: await this.dir(name), listen: LOOPBACK, ...this.extra, ...options })
    this.open.set(name, account)
    return account
  }

  /**
   * Dials `to` from `from` and waits until they have synced. A dial that fails is tried once
   * more a second later: every test device is on 127.0.0.1, and libp2p refuses more than 5
   * inbound connections a second from one host (inboundConnectionThreshold), which devices
   * on machines of their own never share.
   */
  async connect (from: string, to: string, log: 'registry' | 'data' = 'data'): Promise<void> {
    const target = this.get(to)
    for (const pause of [0, 1100]) {
      if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause))
      const reached = await this.get(from).syncWith(target.addrs(), 15_000, log)
      if (reached.includes(target.peerId())) return
    }
    // Say why: the dial's own error.
    const why = await this.get(from).node.libp2p.dial(multiaddr(`${target.addrs()[0] ?? ''}`), { signal: AbortSignal.timeout(5000) })
      .then(() => 'two dials failed, a third connects', (err: Error) => `${err.name}: ${err.message}`)
    throw new Error(`${from} could not reach ${to} (${why})`)
  }

  async cleanup (): Promise<void> {
    for (const name of [...this.open.keys()]) await this.stop(name).catch(() => {})
    for (const dir of this.dirs.values()) await removeDir(dir)
  }
}

/** What devices must agree on once they converge: epoch, registry and values. */
export const accountView = (a: NodeAccount): { epoch: number, devices: Array<[string, string]>, values: Record<string, unknown> } => ({
  epoch: a.info().epoch,
  devices: a.devices().map((x) => [x.name, x.status]),
  values: a.all()
})
