/**
 * Recovery words: a 256-bit recovery key shown once as 24 BIP39 English words, from
 * which a signing key and an X25519 key derive (HKDF-SHA256 with a domain label), so the
 * words alone bring the account back. Browser-ready; the words are never stored.
 */
import { entropyToMnemonic, mnemonicToEntropy, validateMnemonic } from '@scure/bip39'
import { wordlist } from '@scure/bip39/wordlists/english.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import type { RecoveryDescriptor } from '../../acl/types.ts'
import { boxPublicKey, deviceIdFromSigningKey, signingPublicKey, type DeviceKeys } from '../../identity/keys.ts'
import { base64urlEncode, randomBytes, utf8Encode } from '../crypto/bytes.ts'
import { InvalidRecoveryWordsError } from '../errors.ts'

export const RECOVERY_WORD_COUNT = 24
const SALT = utf8Encode('orbit-account/recovery/v1')

export interface RecoveryKeys extends DeviceKeys {
  /** The public half, as the registry records it. */
  descriptor: RecoveryDescriptor
}

/** New recovery words: 256 random bits as 24 words. */
export const generateRecoveryWords = (): string => entropyToMnemonic(randomBytes(32), wordlist)

/** Words as a person may type or paste them: any case, extra spaces, line breaks. */
export const normalizeWords = (input: string): string => input.normalize('NFKD').toLowerCase().trim().split(/\s+/u).join(' ')

/**
 * The recovery key pairs of `words`.
 * @throws InvalidRecoveryWordsError when they are not 24 words of the list, or their checksum fails.
 */
export const recoveryKeysFromWords = (input: string): RecoveryKeys => {
  const words = normalizeWords(input)
  const count = words === '' ? 0 : words.split(' ').length
  if (count !== RECOVERY_WORD_COUNT) throw new InvalidRecoveryWordsError(`recovery words must be ${RECOVERY_WORD_COUNT} words, got ${count}`)
  const unknown = words.split(' ').filter((w) => !wordlist.includes(w))
  if (unknown.length > 0) throw new InvalidRecoveryWordsError(`not recovery words: ${unknown.length} word(s) are not in the BIP39 English list (the ${ordinal(words.split(' ').indexOf(unknown[0] as string) + 1)} is "${(unknown[0] as string).slice(0, 20)}")`)
  if (!validateMnemonic(words, wordlist)) throw new InvalidRecoveryWordsError('the recovery words do not check out (a word is wrong or out of order)')
  const entropy = mnemonicToEntropy(words, wordlist)
  const signingSecret = hkdf(sha256, entropy, SALT, utf8Encode('signing key'), 32)
  const boxSecret = hkdf(sha256, entropy, SALT, utf8Encode('box key'), 32)
  const signing = { secretKey: signingSecret, publicKey: signingPublicKey(signingSecret) }
  const box = { secretKey: boxSecret, publicKey: boxPublicKey(boxSecret) }
  return {
    signing,
    box,
    descriptor: { device: deviceIdFromSigningKey(signing.publicKey), signingKey: base64urlEncode(signing.publicKey), boxKey: base64urlEncode(box.publicKey) }
  }
}

const ordinal = (n: number): string => `${n}${n % 10 === 1 && n !== 11 ? 'st' : n % 10 === 2 && n !== 12 ? 'nd' : n % 10 === 3 && n !== 13 ? 'rd' : 'th'}`
