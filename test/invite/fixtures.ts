/** Shared fixtures for the invite tests: valid values, a seeded PRNG and a raw invite builder. */
import * as dagCbor from '@ipld/dag-cbor'
import { sha256 } from '@noble/hashes/sha2.js'
import { base58btc } from 'multiformats/bases/base58'
import { CID } from 'multiformats/cid'
import { sha256 as sha256Hasher } from 'multiformats/hashes/sha2'
import { base32LowerEncode, concatBytes, utf8Encode } from '../../src/crypto/bytes.ts'
import type { Invite } from '../../src/invite/invite.ts'
import type { AccountAddress } from '../../src/types.ts'

/** An Ed25519 peer id (identity multihash). */
export const ED25519_PEER = '12D3KooWC89PS6em33SHos2ubwK4eZi28XiLB5mzNWgto2e1wHpR'
/** An RSA-style peer id (sha2-256 multihash). */
export const RSA_PEER = 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N'

export const accountFor = async (seed: string): Promise<AccountAddress> => {
  const cid = CID.create(1, 0x71, await sha256Hasher.digest(utf8Encode(seed)))
  return ('/orbitdb/' + cid.toString(base58btc)) as AccountAddress
}

export const LOOPBACK_ADDRS = ['/ip4/127.0.0.1/tcp/4001', '/ip4/127.0.0.1/tcp/4002/ws']

/** Eight realistic addresses: LAN and public ip4, ip6, dns4/dns6, tcp, ws and wss. */
export const EIGHT_ADDRS = [
  '/ip4/192.168.178.23/tcp/40123',
  '/ip4/192.168.178.23/tcp/40124/ws',
  '/ip6/2001:db8:85a3::8a2e:370:7334/tcp/40123',
  '/ip6/2001:db8:85a3::8a2e:370:7334/tcp/40124/ws',
  '/ip4/203.0.113.77/tcp/40123',
  '/dns4/laptop-7f3a.example.net/tcp/443/wss',
  '/dns6/laptop-7f3a.example.net/tcp/443/wss',
  '/ip6/::1/tcp/40123'
]

export const bytesOf = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill)

export const baseInvite = (account: AccountAddress, overrides: Partial<Invite> = {}): Invite => ({
  v: 1,
  account,
  peerId: ED25519_PEER,
  addrs: LOOPBACK_ADDRS,
  secret: Uint8Array.from({ length: 16 }, (_, i) => i * 7 + 1),
  expires: 1_900_000_000,
  mode: 'encrypted',
  ...overrides
})

/** 'OA1' + base32 of arbitrary cbor bytes with a correct checksum: gets past the checksum to the content checks. */
export const rawInvite = (cbor: Uint8Array): string =>
  'OA1' + base32LowerEncode(concatBytes(cbor, sha256(cbor).subarray(0, 4))).toUpperCase()

export const rawInviteOf = (value: unknown): string => rawInvite(dagCbor.encode(value))

export { prng } from '../helpers/random.ts'
