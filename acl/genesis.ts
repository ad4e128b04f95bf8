/**
 * The genesis seal: the account's parameters name a one-time key (`genesisKey`) that
 * signs the one genesis at creation and is then dropped. The founder's signing key alone
 * (stolen, say) cannot make a second genesis that counts: without the seal, the first
 * genesis in the causal order would win, and a back-dated one with an early clock would
 * take every honest op's genesis away. Browser-ready.
 */
import { signBytes, verifyBytes } from '../identity/keys.ts'
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

/** True when the account names no genesis key, or `op` carries its valid seal. */
export const isSealed = (params: AccountParams, op: GenesisOp): boolean => {
  if (params.genesisKey === undefined) return true
  if (op.seal === undefined) return false
  try {
    return verifyBytes(base64urlDecode(op.seal, 'seal'), base64urlDecode(params.genesisKey, 'genesisKey'), genesisBytes(op))
  } catch {
    return false
  }
}
