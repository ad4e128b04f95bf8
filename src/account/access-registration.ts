/** Registers the account's access controller types with OrbitDB (once per process). */
import { DataAccessController, RegistryAccessController } from '../../acl/access.ts'
import { useAccessController } from '../orbit/orbitdb.ts'

let registered = false

export const useAccountAccessControllers = (): void => {
  if (registered) return
  useAccessController(RegistryAccessController)
  useAccessController(DataAccessController)
  registered = true
}
