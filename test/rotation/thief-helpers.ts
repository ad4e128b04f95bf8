/**
 * The thief: someone who copied a device's keystore (keys.json) and runs a node of their
 * own with its real keys. What it can do with them: sign entries and announce them on a
 * log's topic, fetch the logs' entries as any peer can, and open every lockbox sealed to
 * the stolen device.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { bindAccessContext } from '../../acl/access.ts'
import type { AccountState } from '../../acl/types.ts'
import { decodeKeystore } from '../../identity/keystore.ts'
import { base64urlDecode } from '../../src/crypto/bytes.ts'
import { lockboxAad, openBox } from '../../src/crypto/lockbox.ts'
import type { NodeAccount } from '../../src/node/account-dir.ts'
import { Entry, IPFSBlockStorage, type BaseDatabase, type LogEntry } from '../../src/orbit/orbitdb.ts'
import { ManagedDatabase } from '../../src/orbit/database.ts'
import { encryptedCodec } from '../../src/store/codec.ts'
import { startDevice, type TestDevice } from '../helpers/device.ts'
import type { Devices } from '../join/helpers.ts'

/** Starts the thief's node with the keys in `name`'s keystore and dials `peers`. */
export const stealDevice = async (d: Devices, name: string, peers: NodeAccount[]): Promise<TestDevice> => {
  const secrets = await decodeKeystore(await readFile(join(await d.dir(name), 'keys.json'), 'utf8'))
  const thief = await startDevice('thief', { secrets, listen: true })
  for (const peer of peers) await thief.node.libp2p.dial(multiaddr(peer.addrs()[0] as string))
  return thief
}

/** One above the highest clock time of `next`: what an honest writer would stamp. */
export const clockAfter = async (thief: TestDevice, next: string[]): Promise<number> => {
  const storage = await IPFSBlockStorage({ ipfs: thief.node.helia, pin: false, timeout: 5000 })
  let time = 0
  for (const hash of next) {
    const bytes = await storage.get(hash)
    if (bytes === undefined) throw new Error(`the thief could not fetch entry ${hash}`)
    time = Math.max(time, (await Entry.decode(bytes)).clock.time)
  }
  return time + 1
}

/** Signs an entry with the thief's keys and announces it on the log's topic. */
export const announce = async (thief: TestDevice, log: string, payload: unknown, next: string[], time = 1): Promise<LogEntry> => {
  const entry = await Entry.create(thief.identity, log, payload, undefined, { id: thief.identity.publicKey, time }, next)
  const { hash, bytes } = await Entry.encode(entry)
  const pubsub = thief.node.libp2p.services.pubsub as { publish: (topic: string, data: Uint8Array) => Promise<unknown> }
  // Repeat for a while: a pubsub mesh takes a heartbeat to form.
  for (let i = 0; i < 5; i++) {
    await pubsub.publish(log, bytes).catch(() => {})
    await new Promise((resolve) => setTimeout(resolve, 300))
  }
  return { ...entry, hash }
}

/**
 * Opens a data log on the thief's node as a plain peer whose own checks accept any
 * writer (the thief runs whatever code it likes): it keeps every entry it is sent.
 */
export const spyOn = async (thief: TestDevice, dataLog: string): Promise<BaseDatabase> => {
  bindAccessContext(thief.identity, { isAdmitted: () => true, canWriteData: () => true })
  return await thief.orbitdb.open(dataLog, { Database: ManagedDatabase })
}

/** Every epoch key the thief opens from a lockbox sealed to its device, in any epoch `states` know of. */
export const stolenKeys = (thief: TestDevice, address: string, states: AccountState[]): Map<number, Uint8Array> => {
  const keys = new Map<number, Uint8Array>()
  const device = thief.secrets.device
  for (const state of states) {
    const boxes: Array<[number, string | undefined]> = [
      ...[...state.epochs, ...state.supersededEpochs].map((e): [number, string | undefined] => [e.epoch, e.lockboxes[device]]),
      ...Object.entries(state.addedLockboxes).map(([epoch, boxes]): [number, string | undefined] => [Number(epoch), boxes[device]])
    ]
    for (const [epoch, box] of boxes) {
      if (box === undefined) continue
      try {
        keys.set(epoch, openBox(thief.secrets.box.secretKey, base64urlDecode(box), lockboxAad(address, epoch, device)))
      } catch {}
    }
  }
  return keys
}

/** The plaintext of every entry of `entries` that one of `keys` decrypts, under any epoch's associated data up to `maxEpoch`. */
export const decryptAll = (keys: Map<number, Uint8Array>, address: string, entries: LogEntry[], maxEpoch: number): Array<{ hash: string, text: string }> => {
  const read: Array<{ hash: string, text: string }> = []
  for (const entry of entries) {
    for (const key of keys.values()) {
      for (let epoch = 0; epoch <= maxEpoch; epoch++) {
        try {
          read.push({ hash: entry.hash, text: JSON.stringify(encryptedCodec(key, address, epoch).decode(entry.payload)) })
        } catch {}
      }
    }
  }
  return read
}
