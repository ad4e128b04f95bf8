/**
 * Invitations in the registry (browser-ready, pure). An admin records an invitation: its
 * id and an Ed25519 public key derived from the invite's secret. Whoever holds the secret
 * signs the admission it asks for (its device and the role) with that key; the `add` op
 * that admits it carries the signature, so any active device can write that admission
 * (no secret needed) and every peer can check that the holder of the invite asked for
 * exactly this device, while a device without the secret cannot use the invitation.
 */
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { signBytes, signingPublicKey, verifyBytes } from '../identity/keys.ts'
import { base64urlDecode, base64urlEncode, utf8Encode } from '../src/crypto/bytes.ts'
import type { Role } from '../src/types.ts'
import type { DeviceDescriptor } from './types.ts'

const KEY_INFO = utf8Encode('orbit-account/invitation-key/v1')
const ADMISSION_LABEL = 'orbit-account/invited-admission/v1'

/** The invitation's signing key pair, derived from the invite secret. */
export const invitationKeys = (secret: Uint8Array): { secretKey: Uint8Array, publicKey: Uint8Array } => {
  const secretKey = hkdf(sha256, secret, undefined, KEY_INFO, 32)
  return { secretKey, publicKey: signingPublicKey(secretKey) }
}

/** The invitation's public key, base64url: what the registry records. */
export const invitationPublicKey = (secret: Uint8Array): string => base64urlEncode(invitationKeys(secret).publicKey)

/** What the holder of an invite signs: the invitation, the device it asks to admit, and the role. */
const admissionBytes = (invitation: string, device: DeviceDescriptor, role: Role): Uint8Array => utf8Encode(JSON.stringify([
  ADMISSION_LABEL, invitation, device.device, device.name, device.signingKey, device.boxKey, role
]))

/** The proof an `add` naming `invitation` carries (base64url signature). */
export const signAdmission = (secret: Uint8Array, invitation: string, device: DeviceDescriptor, role: Role): string =>
  base64urlEncode(signBytes(invitationKeys(secret).secretKey, admissionBytes(invitation, device, role)))

/** True when `proof` is the invitation key's signature of this admission; false for anything malformed. */
export const verifyAdmission = (key: string, proof: string, invitation: string, device: DeviceDescriptor, role: Role): boolean => {
  try {
    return verifyBytes(base64urlDecode(proof, 'proof'), base64urlDecode(key, 'key'), admissionBytes(invitation, device, role))
  } catch {
    return false
  }
}
