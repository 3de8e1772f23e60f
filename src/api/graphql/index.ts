/**
 * GraphQL at /graphql (GraphiQL at /graphiql), the same capabilities as REST. SDL is split per
 * type under ./types; resolvers and loaders live in ./resolvers.ts.
 */
import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit'
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases'
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { GraphQLError, type ValidationContext, type ValidationRule } from 'graphql'
import mercurius from 'mercurius'
import type { GraphqlLimits } from '../../config.js'
import { BadRequestError, DomainError } from '../../errors.js'
import { isDatabaseUnavailable, makeProblem, problemType, sendProblem, toProblem, type ProblemIssueOut } from '../../plugins/app/problem.js'
import type { Services } from '../../services/contract.js'
import graphiqlPage from '../../ui/graphiql.js'
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
  // GraphQL's own errors (a variable's or an argument's value that does not coerce) are the
  // client's, with their message.
  if (original === undefined || original instanceof GraphQLError || (original as { locations?: unknown }).locations !== undefined) return json
  if (isDatabaseUnavailable(original)) {
    return { ...json, message: 'The database is unavailable; retry shortly.', extensions: { code: 'UnavailableError', status: 503 } }
  }
  log.error({ err: original }, 'graphql resolver failed')
  return { ...json, message: 'Internal Server Error', extensions: { code: 'INTERNAL', status: 500 } }
}

export interface LimitInfo {
  name: string
  value: number
  env: string
}

const LIMIT_ENV: Record<string, string> = {
  graphqlMaxAliases: 'NATPLAN_GRAPHQL_MAX_ALIASES',
  graphqlMaxDepth: 'NATPLAN_GRAPHQL_MAX_DEPTH',
  graphqlMaxCost: 'NATPLAN_GRAPHQL_MAX_COST',
  graphqlMaxTokens: 'NATPLAN_GRAPHQL_MAX_TOKENS',
}

/**
 * graphql-armor's rules (max-aliases, max-depth, cost-limit), reporting through the validation
 * context instead of throwing out of graphql's validate(), each error carrying the limit it hit.
 */
export function limitRules(limits: GraphqlLimits): ValidationRule[] {
  const report = (name: string, value: number) => ({
    exposeLimits: true,
    propagateOnRejection: false,
    onReject: [
      (context: ValidationContext | null, error: GraphQLError) => {
        const limit: LimitInfo = { name, value, env: LIMIT_ENV[name]! }
        context?.reportError(new GraphQLError(`${error.message.replace(/^Syntax Error: /, '')} (${limit.env})`, { extensions: { limit } }))
      },
    ],
  })
  return [
    maxAliasesRule({ n: limits.maxAliases, ...report('graphqlMaxAliases', limits.maxAliases) }) as ValidationRule,
    maxDepthRule({ n: limits.maxDepth, ...report('graphqlMaxDepth', limits.maxDepth) }) as ValidationRule,
    costLimitRule({ maxCost: limits.maxCost, ...report('graphqlMaxCost', limits.maxCost) }) as ValidationRule,
  ]
}

interface RequestLevelError {
  message?: string
  code?: string
  statusCode?: number
  errors?: unknown[]
  validation?: unknown[]
  extensions?: { limit?: LimitInfo }
}

/**
 * A request that never reached execution — not JSON, not an operation (`"query": 5`, an empty
 * query, a batched array), a syntax or validation error, variables that do not coerce, a limit —
 * is a 400 problem+json with one errors[] entry per GraphQL error (pointer /query or
 * /variables/NAME), and `limit` when a limit refused it. mercurius hands these to the route's
 * errorHandler (lib/routes.js); errors of resolvers still answer as GraphQL responses.
 */
export function graphqlRequestProblem(request: FastifyRequest, error: unknown, limits: GraphqlLimits) {
  if (error instanceof DomainError) return toProblem(request, error)
  const e = (error ?? {}) as RequestLevelError
  const clientSide =
    error instanceof GraphQLError ||
    (typeof e.code === 'string' && e.code.startsWith('MER_ERR_')) ||
    Array.isArray(e.validation) ||
    (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500)
  if (!clientSide) return toProblem(request, error)
  const inner = (Array.isArray(e.errors) && e.errors.length > 0 ? e.errors : [error]) as RequestLevelError[]
  const location: ProblemIssueOut['location'] = request.method === 'GET' ? 'query' : 'body'
  let limit: LimitInfo | undefined
  const errors: ProblemIssueOut[] = inner.map((x) => {
    let detail = typeof x.message === 'string' && x.message ? x.message : 'invalid GraphQL request'
    if (x.extensions?.limit) limit ??= x.extensions.limit
    const tokens = /more that (\d+) tokens/.exec(detail)
    if (tokens) {
      limit ??= { name: 'graphqlMaxTokens', value: limits.maxTokens, env: LIMIT_ENV.graphqlMaxTokens! }
      detail = `the document has more than ${limits.maxTokens} tokens (NATPLAN_GRAPHQL_MAX_TOKENS); pass large inputs as variables`
    }
    const variable = /^Variable "\$([A-Za-z_][A-Za-z0-9_]*)"/.exec(detail)
    const ajv = x as { instancePath?: string; message?: string }
    const pointer = variable ? `/variables/${variable[1]}` : typeof ajv.instancePath === 'string' ? ajv.instancePath : '/query'
    return { pointer, detail: ajv.instancePath !== undefined ? `body${ajv.instancePath} ${detail}` : detail, location }
  })
  const first = errors[0]!.detail
  return makeProblem(request, 400, limit ? `refused: ${first}` : `invalid GraphQL request: ${first}`, {
    type: problemType(limit ? 'limit-exceeded' : 'graphql-request'),
    errors,
    ...(limit ? { limit } : {}),
  })
}

export default async function graphqlApi(app: FastifyInstance, opts: { services: Services; graphiql: boolean; limits: GraphqlLimits }): Promise<void> {
  const limits = opts.limits
  // mercurius hands a non-string `query` to graphql's validate() ("Must provide document"): a
  // 500. What is not an operation is the client's mistake.
  app.addHook('preValidation', async (request) => {
    if (request.method !== 'POST' || request.routeOptions.url !== '/graphql') return
    const body = request.body as { query?: unknown } | null
    if (body && typeof body === 'object' && !Array.isArray(body) && typeof body.query !== 'string') {
      throw new BadRequestError('a GraphQL request needs "query", a string holding the operation', [
        { pointer: '/query', detail: `expected a string, got ${body.query === undefined ? 'nothing' : typeof body.query}` },
      ])
    }
  })
  await app.register(mercurius, {
    schema,
    resolvers: withGrowthResolvers(withHistoryResolvers(resolvers)),
    loaders,
    // mercurius's GraphiQL loads React and GraphiQL from a CDN; natplan serves its own
    // (src/ui/graphiql.ts), registered below.
    graphiql: false,
    // Tokens are counted by graphql's own parser while it parses (parse's maxTokens option);
    // aliases, depth (version.source.source…) and cost by graphql-armor's validation rules.
    graphql: { parseOptions: { maxTokens: limits.maxTokens } },
    validationRules: limitRules(limits),
    errorHandler: async (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
      const problem = graphqlRequestProblem(request, error, limits)
      if (problem.status >= 500) request.log.error({ err: error }, 'graphql request failed')
      else request.log.info({ status: problem.status, detail: problem.detail }, 'client error')
      sendProblem(reply, problem)
    },
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
  if (opts.graphiql) await app.register(graphiqlPage)
}
