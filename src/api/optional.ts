/**
 * The use-case groups a deployment may leave out (Services.history, growth, inspect are
 * optional): REST and GraphQL alike answer 501 when the one a request needs is absent.
 */
import { DomainError } from '../errors.js'
import type { Services } from '../services/contract.js'

type Optional = 'history' | 'growth' | 'inspect'

export function serviceOf<K extends Optional>(services: Pick<Services, K>, name: K): NonNullable<Services[K]> {
  const s = services[name]
  if (!s) throw new DomainError(501, 'Not Implemented', `${name} is not available in this deployment`)
  return s as NonNullable<Services[K]>
}
