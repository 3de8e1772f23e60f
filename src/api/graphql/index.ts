/**
 * GraphQL at /graphql (GraphiQL at /graphiql), the same capabilities as REST. SDL is split per
 * type under ./types; resolvers and loaders live in ./resolvers.ts.
 */
import type { FastifyInstance } from 'fastify'
import mercurius from 'mercurius'
import { DomainError } from '../../errors.js'
import { isDatabaseUnavailable } from '../../plugins/app/problem.js'
import type { Services } from '../../services/contract.js'
import { loaders, resolvers } from './resolvers.js'
import { typeDefs as growth, withGrowthResolvers } from './growth.js'
import { typeDefs as history, withHistoryResolvers } from './history.js'
import { typeDefs as cluster } from './types/cluster.js'
import { typeDefs as query } from './types/query.js'
import { typeDefs as scalars } from './types/scalars.js'
import { typeDefs as version } from './types/version.js'

export const schema = [scalars, query, cluster, version, history, growth].join('\n')

interface GraphQLErrorLike {
  message: string
  originalError?: unknown
  toJSON(): Record<string, unknown>
}

/**
 * Domain errors keep their message and gain `extensions.status`/`errors` (the same pointers as
 * problem+json); anything else is reported as "Internal Server Error" and logged, never leaked.
 */
export function formatError(error: GraphQLErrorLike, log: FastifyInstance['log']): Record<string, unknown> {
  const json = error.toJSON()
  const original = error.originalError
  if (original instanceof DomainError) {
    return { ...json, extensions: { code: original.name, status: original.status, ...(original.issues.length ? { errors: original.issues } : {}) } }
  }
  if (original === undefined || (original as { locations?: unknown }).locations !== undefined) return json
  if (isDatabaseUnavailable(original)) {
    return { ...json, message: 'The database is unavailable; retry shortly.', extensions: { code: 'UnavailableError', status: 503 } }
  }
  log.error({ err: original }, 'graphql resolver failed')
  return { ...json, message: 'Internal Server Error', extensions: { code: 'INTERNAL', status: 500 } }
}

export default async function graphqlApi(app: FastifyInstance, opts: { services: Services; graphiql: boolean }): Promise<void> {
  await app.register(mercurius, {
    schema,
    resolvers: withGrowthResolvers(withHistoryResolvers(resolvers)),
    loaders,
    graphiql: opts.graphiql,
    // Deeply nested queries (version.source.source...) are bounded.
    queryDepth: 10,
    context: (request) => ({ services: opts.services, principal: request.principal }),
    errorFormatter: (execution, context) => {
      const log = (context as { reply?: { log: FastifyInstance['log'] } }).reply?.log ?? app.log
      const errors = execution.errors.flatMap((e) => {
        const nested = (e.originalError as { errors?: unknown } | undefined)?.errors
        // mercurius wraps query validation failures; report each one.
        return Array.isArray(nested) ? (nested as GraphQLErrorLike[]) : [e as unknown as GraphQLErrorLike]
      })
      const formatted = errors.map((e) => (typeof e.toJSON === 'function' ? formatError(e, log) : { message: e.message }))
      const statusCode = execution.data ? 200 : ((execution as { statusCode?: number }).statusCode ?? 200)
      return { statusCode, response: { data: execution.data ?? null, errors: formatted as never } }
    },
  })
}
