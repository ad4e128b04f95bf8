/**
 * The genesis seal: the account's parameters name a one-time key (`genesisKey`) that
 * signs the one genesis at creation and is then dropped. The founder's signing key alone
 * (stolen, say) cannot make a second genesis that counts: without the seal, the first
 * genesis in the causal order would win, and a back-dated one with an early clock would
 * take every honest op's genesis away. Browser-ready.
 */
import { signBytes, verifyBytes } from '../identity/keys.ts'
import { verify as fastVerify } from '../identity/fast-ed25519.ts'
import { base64urlDecode, base64urlEncode, utf8Encode } from '../src/crypto/bytes.ts'
import type { AccountParams, GenesisOp } from './types.ts'

/** What the seal signs: every field of the genesis but the seal, in a fixed order. */
export const genesisBytes = (op: GenesisOp): Uint8Array => utf8Encode(JSON.stringify([
  'orbit-account/genesis/v1', op.mode, op.founder.device, op.founder.name, op.founder.signingKey, op.founder.boxKey, op.dataLog,
  Object.keys(op.lockboxes).sort().map((d) => [d, op.lockboxes[d]]),
  op.recovery === undefined ? null : [op.recovery.device, op.recovery.signingKey, op.recovery.boxKey]
]))

/** Seals `op` with the one-time key's secret (the caller drops the secret afterwards). */
export const sealGenesis = (op: GenesisOp, secretKey: Uint8Array): GenesisOp =>
  ({ ...op, seal: base64urlEncode(signBytes(secretKey, genesisBytes(op))) })

/**
 * Seals found valid by `preverifySeals`, by seal, key and signed text. The reducer is
 * synchronous, so it would check a seal with the JavaScript Ed25519, whose first use in a
 * process costs ~40 ms (at every start: the genesis is in every registry).
 */
const verifiedSeals = new Set<string>()
const MAX_VERIFIED_SEALS = 1000
const sealId = (seal: string, key: string, bytes: Uint8Array): string => `${seal}|${key}|${base64urlEncode(bytes)}`

/** Checks the seals of the genesis ops among `payloads` (anything: they come from the log) natively, where the platform can, before a reduce. */
export const preverifySeals = async (params: AccountParams, payloads: unknown[]): Promise<void> => {
  const key = params.genesisKey
  if (key === undefined) return
  for (const p of payloads) {
    const op = p as GenesisOp
    if (typeof p !== 'object' || p === null || op.type !== 'genesis' || typeof op.seal !== 'string') continue
    try {
      const bytes = genesisBytes(op)
      const id = sealId(op.seal, key, bytes)
      if (verifiedSeals.has(id) || !await fastVerify(base64urlDecode(op.seal, 'seal'), base64urlDecode(key, 'genesisKey'), bytes)) continue
      if (verifiedSeals.size >= MAX_VERIFIED_SEALS) verifiedSeals.clear()
      verifiedSeals.add(id)
    } catch {}
  }
}

/** True when the account names no genesis key, or `op` carries its valid seal. */
export const isSealed = (params: AccountParams, op: GenesisOp): boolean => {
  if (params.genesisKey === undefined) return true
  if (op.seal === undefined) return false
  try {
    const bytes = genesisBytes(op)
    if (verifiedSeals.has(sealId(op.seal, params.genesisKey, bytes))) return true
    return verifyBytes(base64urlDecode(op.seal, 'seal'), base64urlDecode(params.genesisKey, 'genesisKey'), bytes)
  } catch {
    return false
  }
}
