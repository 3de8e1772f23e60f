/**
 * @fastify/rate-limit keyed by the caller: the token name when a valid token is presented
 * (so replicas of one client behind NAT share a budget per token, not per IP), else the client
 * IP (so guessing secrets is throttled too). The 404 handler uses the same limiter (src/app.ts).
 */
import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { RateLimitConfig } from '../../config.js'

export default fp(
  async function rateLimitPlugin(app: FastifyInstance, opts: { rateLimit: RateLimitConfig | null }) {
    const limit = opts.rateLimit
    await app.register(rateLimit, {
      global: limit !== null,
      max: limit?.max ?? 1_000_000,
      timeWindow: limit?.windowMs ?? 60_000,
      keyGenerator: (request) => {
        const id = request.principal ? { kind: 'ok' as const, principal: request.principal } : app.identify(request)
        return id.kind === 'ok' && id.principal.actor !== 'anonymous' ? `token:${id.principal.actor}` : `ip:${request.ip}`
      },
      // An Error with a statusCode: the central error handler renders it as problem+json.
      errorResponseBuilder: (_request, context) => {
        const error = new Error(`rate limit of ${context.max} requests per ${context.after} exceeded; retry in ${Math.ceil(context.ttl / 1000)}s`)
        return Object.assign(error, { statusCode: context.statusCode })
      },
    })
  },
  { name: 'rate-limit-config', dependencies: ['auth'] },
)
