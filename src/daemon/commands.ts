/**
 * Runs one request against an open account, emitting result frames. The daemon runs
 * it for socket clients; a command with no daemon runs it in its own process.
 */
import type { NodeAccount } from '../node/account-dir.ts'
import type { Frame, Question, Request } from './protocol.ts'
import { equalBytes } from '../crypto/bytes.ts'
import { DeviceRevokedError, InvalidOperationError, NotAuthorizedError } from '../errors.ts'
import { swarmKeyHex } from '../network/swarm-key.ts'
import { REVOKED_NOTE } from './notes.ts'

/** This device's record in the registry: 'active' or 'revoked'. */
export const deviceStatus = (account: NodeAccount): string => account.devices().find((d) => d.device === account.device)?.status ?? 'active'

export { REVOKED_NOTE }

/** A connected peer: the device of this account it proved to be, or none (a blind replica, any other peer). */
export interface PeerRow { peerId: string, device: string | null, name: string | null, status?: string }

/** The connected peers, each with the device it is (peers that just synced are given a moment to say). */
const peerRows = async (account: NodeAccount): Promise<PeerRow[]> => {
  await account.settlePeers(1000)
  return account.peers().map((peerId) => {
    const d = account.peerDevice(peerId)
    return d !== undefined ? { peerId, device: d.device, name: d.name, status: d.status } : { peerId, device: null, name: null }
  })
}

export const statusOf = async (account: NodeAccount): Promise<Record<string, unknown>> => {
  const info = account.info()
  return { account: info.account, device: info.device, name: info.name, status: deviceStatus(account), mode: info.mode, epoch: info.epoch, peers: await peerRows(account) }
}

/** Only an active admin admits devices: say so before an invite is shown, not when someone uses it. */
export const checkCanInvite = (account: NodeAccount): void => {
  const me = account.devices().find((d) => d.device === account.device)
  if (me?.role !== 'admin') throw new NotAuthorizedError(`only an admin device can invite; this one is a ${me?.role ?? 'member'}: run \`invite\` on an admin device`)
}

const WRITES = new Set(['put', 'import', 'del', 'revoke', 'invite', 'recovery', 'replica'])

/**
 * Executes `request`. Resolves when the request is done; `watch` runs until `signal`
 * aborts. Throws typed errors (the caller turns them into an error frame).
 */
export const execute = async (account: NodeAccount, request: Request, emit: (frame: Frame) => void, signal?: AbortSignal, ask?: (q: Question) => Promise<boolean>): Promise<void> => {
  if (deviceStatus(account) === 'revoked') {
    if (WRITES.has(request.cmd)) throw new DeviceRevokedError(REVOKED_NOTE)
    emit({ note: REVOKED_NOTE })
  }
  switch (request.cmd) {
    case 'put':
      await account.put(request.key, request.value)
      emit({ out: { key: request.key, value: request.value } })
      return
    case 'import':
      await account.putMany(request.entries)
      emit({ out: { imported: Object.keys(request.entries).length } })
      return
    case 'get': {
      // A stored null and an absent key differ: `found` tells them apart.
      const value = account.get(request.key)
      emit({ out: { key: request.key, value: value ?? null, found: value !== undefined } })
      return
    }
    case 'del': {
      // Deleting what is not set writes nothing (and so tells no watcher anything).
      const existed = account.get(request.key) !== undefined && await account.del(request.key)
      emit({ out: { key: request.key, deleted: existed } })
      return
    }
    case 'list':
      emit({ out: { entries: account.all(request.prefix !== undefined ? { prefix: request.prefix } : {}) } })
      return
    case 'status':
      emit({ out: await statusOf(account) })
      return
    case 'devices':
      emit({ out: { device: account.device, devices: account.devices() } })
      return
    case 'swarm-key': {
      const swarm = account.swarm()
      const key = account.node.swarm?.key()
      if (account.info().mode !== 'private' || key === undefined) throw new InvalidOperationError(`only a private account has a swarm key; this one is ${account.info().mode}`)
      // A key given by hand (`daemon --swarm-key`) has no known epoch until the account derives the same one.
      emit({ out: { swarmKey: swarmKeyHex(key), epoch: swarm !== undefined && equalBytes(swarm.key, key) ? swarm.epoch : null } })
      return
    }
    case 'watch': {
      if (signal?.aborted === true) return
      await new Promise<void>((resolve) => {
        const stop = account.watch((change) => emit({ out: { key: change.key, value: change.value, op: change.op } }))
        emit({ note: `watching ${account.address}` })
        signal?.addEventListener('abort', () => { stop(); resolve() }, { once: true })
      })
      return
    }
    case 'recovery': {
      const { recoveryKeysFromWords } = await import('../account/recovery-words.ts')
      const next = recoveryKeysFromWords(request.next).descriptor
      if (request.action === 'add') await account.setRecovery(next)
      else await account.replaceRecovery(recoveryKeysFromWords(request.current ?? ''), next)
      emit({ out: { recoveryKey: next.device, epoch: account.info().epoch } })
      return
    }
    case 'replica': {
      if (request.action === 'add') {
        const peer = await account.addReplica(request.target)
        emit({ out: { replica: peer, addrs: account.state().replicas[peer]?.addrs ?? [] } })
      } else {
        await account.removeReplica(request.target)
        emit({ out: { removed: request.target } })
      }
      return
    }
    case 'revoke': {
      const result = await account.revoke(request.device, {
        onProgress: (p) => emit({ note: p.phase === 'snapshot' ? `re-encrypting the live data into the new epoch: part ${p.done} of ${p.total}` : 'new epoch recorded in the registry' })
      })
      emit({ out: { revoked: result.revoked, epoch: result.epoch } })
      return
    }
    case 'invite': {
      checkCanInvite(account)
      const confirm = request.confirm
        ? async (q: Question): Promise<boolean> => {
          emit({ out: { confirm: q } })
          return ask !== undefined && await ask(q)
        }
        : undefined
      const open = await account.invite({ ttlMs: request.ttlMs, role: request.role, ...(confirm !== undefined ? { confirm } : {}) })
      emit({ out: { invite: open.text, expires: open.expires.toISOString() } })
      // Detached: recorded in the registry, answered by this device's daemon (or another device) until it expires.
      if (request.detach === true) return
      const onAbort = (): void => open.cancel()
      signal?.addEventListener('abort', onAbort, { once: true })
      try {
        let admitted
        try {
          admitted = await open.admitted
        } catch (err) {
          // Withdrawn by the person (Ctrl-C): not an error; the caller says so.
          if (signal?.aborted === true) return
          throw err
        }
        emit({ out: { admitted } })
      } finally {
        signal?.removeEventListener('abort', onAbort)
      }
      return
    }
    default: {
      const never: never = request
      throw new Error(`unhandled request ${JSON.stringify(never)}`)
    }
  }
}
