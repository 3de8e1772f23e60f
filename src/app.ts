/**
 * buildApp: the fastify instance used by the server, the tests and scripts/openapi.ts alike.
 * Layout as fastify/demo: external plugins (security headers, rate limit, swagger), the app's own plugins
 * (problem+json errors, auth, metrics, services), then routes (ops, REST under /v1, GraphQL).
 * The use-cases are injected, so the HTTP layer never opens a database itself.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { randomUUID } from 'node:crypto'
import type { Config } from './config.js'
import graphqlApi from './api/graphql/index.js'
import opsRoutes from './api/ops.js'
import growthRoutes from './api/rest/growth/index.js'
import inspectRoutes from './api/rest/inspect/index.js'
import restApi from './api/rest/index.js'
import auth from './plugins/app/auth.js'
import json from './plugins/app/json.js'
import metrics from './plugins/app/metrics.js'
import problem, { clientErrorHandler, frameworkError, makeProblem, sendProblem } from './plugins/app/problem.js'
import servicesPlugin from './plugins/app/services.js'
import helmet from './plugins/external/helmet.js'
import rateLimit from './plugins/external/rate-limit.js'
import swagger from './plugins/external/swagger.js'
import type { Services } from './services/contract.js'
import uiPlugin from './ui/plugin.js'

export interface BuildAppOptions {
  config: Config
  services: Services
  /** A pino logger to reuse (the server's), or false for none; default: pino at config.logLevel. */
  logger?: FastifyBaseLogger | false
}

/** Secrets never reach the logs, whatever a serializer or a debugging log line includes. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'request.headers.authorization',
  'headers.authorization',
  'authorization',
  '*.authorization',
]

export function loggerOptions(config: Config): NonNullable<FastifyServerOptions['logger']> {
  return { level: config.logLevel, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }
}

function fastifyOptions(opts: BuildAppOptions): FastifyServerOptions & { loggerInstance?: FastifyBaseLogger } {
  const { config } = opts
  const base: FastifyServerOptions = {
    bodyLimit: config.bodyLimit,
    trustProxy: config.trustProxy,
    // Honour a caller's X-Request-Id (load balancers set one) so logs join up across hops;
    // otherwise a UUID. Echoed back in the response header and in every problem body.
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    // Keep plugin start-up (embedded schema compilation) from tripping the default 10 s on 2 cores.
    pluginTimeout: 60_000,
    // Every 4xx is problem+json, also those answered before routing (bad percent-encoding, a
    // too-long path parameter) and by Node's HTTP parser (bad Content-Length, 431, 408).
    // Node's own default (300 s), which fastify turns off (requestTimeout 0): a client that
    // trickles a body in forever holds a socket and its buffers forever. Over it: 408.
    requestTimeout: config.requestTimeoutMs,
    frameworkErrors: frameworkError,
    clientErrorHandler,
  }
  if (opts.logger === false) return { ...base, logger: false }
  if (opts.logger) return { ...base, loggerInstance: opts.logger }
  return { ...base, logger: loggerOptions(config) }
}

export async function buildApp(opts: BuildAppOptions): Promise<FastifyInstance> {
  const { config, services } = opts
  const app = Fastify(fastifyOptions(opts)) as unknown as FastifyInstance

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id)
  })
  // Routes registered by libraries (Swagger UI, GraphiQL, mercurius) cannot take our route
  // config; set their auth needs here, before anything registers routes.
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/docs') || route.url.startsWith('/graphiql')) {
      // NATPLAN_DOCS_AUTH=read puts them behind a read token (GET's default scope).
      route.config = { ...route.config, public: config.docsAuth === 'none' }
      if (route.url.startsWith('/graphiql')) route.schema = { ...route.schema, hide: true }
    } else if (route.url === '/graphql') {
      // Queries need read; the ingest mutation checks for write itself.
      route.config = { ...route.config, scope: 'read' }
    }
  })

  // external plugins
  await app.register(helmet)
  await app.register(problem)
  await app.register(json, { limits: config.parseLimits })
  await app.register(auth, { tokens: config.tokens })
  await app.register(rateLimit, { rateLimit: config.rateLimit })
  await app.register(swagger)
  // app plugins
  await app.register(servicesPlugin, { services })
  await app.register(metrics, { services })
  // routes
  await app.register(opsRoutes, { metricsAuth: config.metricsAuth })
  await app.register(restApi, { prefix: '/v1', limits: config.parseLimits })
  // Growth and inspect (trace/drift/cleanup): own encapsulated scopes (zod compilers, text/plain drift bodies).
  await app.register(growthRoutes, { prefix: '/v1' })
  await app.register(inspectRoutes, { prefix: '/v1' })
  // The small UI at /ui (static files; its API calls carry the user's token).
  await app.register(uiPlugin)
  await app.register(graphqlApi, { services, graphiql: config.graphiql, limits: config.graphqlLimits })

  // Unknown routes are rate-limited like everything else, so probing for paths is throttled.
  app.setNotFoundHandler({ preHandler: config.rateLimit ? app.rateLimit() : undefined }, (request, reply) =>
    sendProblem(reply, makeProblem(request, 404, `no route ${request.method} ${request.url.split('?')[0]}`)),
  )
  return app
}
