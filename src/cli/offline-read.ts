/** Which requests a command with no daemon answers from the saved state (src/cli/offline.ts), without loading it. */
import type { Request } from '../daemon/protocol.ts'

export const isOfflineRead = (request: Request): boolean =>
  request.cmd === 'get' || request.cmd === 'list' || request.cmd === 'status' || request.cmd === 'devices'
