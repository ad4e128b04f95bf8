/**
 * The largest log entries, in bytes as encoded (browser-ready). Every peer refuses an
 * entry over its log's cap before it stores, joins or decodes it, and our own writer
 * refuses to write one, so no writer, admitted or not, can make a peer hold or wait for
 * a larger block. A peer cannot tell a data entry's kind (the payload is ciphertext),
 * so one cap serves every data entry: a put, a del, a snapshot part and a carried part
 * (the rotation cuts parts to at most the bytes of one put, src/rotation/rotate.ts).
 */
import { MAX_OP_JSON } from '../store/limits.ts'

/**
 * The largest data entry an honest writer makes, with room to spare:
 * - public mode stores the op as CBOR, at most 9/4 of its JSON (a float is 9 bytes in
 *   dag-cbor, "0.5," is 4 in JSON); encrypted mode stores the JSON padded to a Padmé
 *   bucket (at most 1/32 more at this size) plus a nonce and tag: less than public;
 * - the entry around the payload (log id, clock, key, identity, signature, 16 refs and
 *   the `next` of up to ~128 concurrent heads, ~52 bytes each): 8 KiB;
 * - then 15% and 4 KiB of headroom, so a change of padding or encoding does not make
 *   honest writes of today's limits refused by peers running this version.
 * About 683 KiB with the limits of src/store/limits.ts.
 */
export const DATA_ENTRY_MAX_BYTES = Math.ceil((MAX_OP_JSON * 9 / 4 + 8 * 1024) * 1.15) + 4 * 1024

/**
 * A registry op is small (the largest, a rotation, holds a lockbox of ~170 bytes per
 * device): 256 KiB is over a thousand devices.
 */
export const REGISTRY_ENTRY_MAX_BYTES = 256 * 1024

/** The largest entry any log takes: bytes over it are refused before they are decoded. */
export const MAX_ENTRY_BYTES = Math.max(DATA_ENTRY_MAX_BYTES, REGISTRY_ENTRY_MAX_BYTES)
