/**
 * Runs one request against an open account, emitting result frames. The daemon runs
 * it for socket clients; a command with no daemon runs it in its own process.
 */
import type { NodeAccount } from '../node/account-dir.ts'
import type { Frame, Question, Request } from './protocol.ts'
import { equalBytes } from '../crypto/bytes.ts'
import { InvalidOperationError } from '../errors.ts'
import { swarmKeyHex } from '../network/swarm-guard.ts'

export const statusOf = (account: NodeAccount): Record<string, unknown> => {
  const info = account.info()
  return { account: info.account, device: info.device, name: info.name, mode: info.mode, epoch: info.epoch, peers: account.peers() }
}

/**
 * Executes `request`. Resolves when the request is done; `watch` runs until `signal`
 * aborts. Throws typed errors (the caller turns them into an error frame).
 */
export const execute = async (account: NodeAccount, request: Request, emit: (frame: Frame) => void, signal?: AbortSignal, ask?: (q: Question) => Promise<boolean>): Promise<void> => {
  switch (request.cmd) {
    case 'put':
      await account.put(request.key, request.value)
      emit({ out: { key: request.key, value: request.value } })
      return
    case 'get':
      emit({ out: { key: request.key, value: account.get(request.key) ?? null } })
      return
    case 'del': {
      const existed = await account.del(request.key)
      emit({ out: { key: request.key, deleted: existed } })
      return
    }
    case 'list':
      emit({ out: { entries: account.all(request.prefix !== undefined ? { prefix: request.prefix } : {}) } })
      return
    case 'status':
      emit({ out: statusOf(account) })
      return
    case 'devices':
      emit({ out: { devices: account.devices() } })
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
    case 'revoke': {
      const result = await account.revoke(request.device, {
        onProgress: (p) => emit({ note: p.phase === 'snapshot' ? `re-encrypting the live data into the new epoch: part ${p.done} of ${p.total}` : 'new epoch recorded in the registry' })
      })
      emit({ out: { revoked: result.revoked, epoch: result.epoch } })
      return
    }
    case 'invite': {
      const confirm = request.confirm
        ? async (q: Question): Promise<boolean> => {
          emit({ out: { confirm: q } })
          return ask !== undefined && await ask(q)
        }
        : undefined
      const open = await account.invite({ ttlMs: request.ttlMs, role: request.role, ...(confirm !== undefined ? { confirm } : {}) })
      emit({ out: { invite: open.text, expires: open.expires.toISOString() } })
      const onAbort = (): void => open.cancel()
      signal?.addEventListener('abort', onAbort, { once: true })
      try {
        const admitted = await open.admitted
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
