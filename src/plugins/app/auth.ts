/**
 * Bearer-token authentication and scope checks.
 *
 * Tokens come from NATPLAN_TOKENS (src/config.ts). Scopes are ordered read < write < admin.
 * Each route states the scope it needs in `config.scope`; when it does not, safe methods
 * (GET/HEAD/OPTIONS) need `read` and everything else `write`. Routes with `config.public`
 * (health, metrics, docs) skip authentication. With no tokens configured the server is
 * loopback-only (src/config.ts assertSafeBinding) and every caller is `anonymous` with admin
 * rights.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { createHash, timingSafeEqual } from 'node:crypto'
import { SCOPE_RANK, type ApiToken, type Scope } from '../../config.js'
import { makeProblem, sendProblem } from './problem.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Scope a caller needs for this route (default: read for safe methods, write otherwise). */
    scope?: Scope
    /** No authentication at all (probes, metrics, API docs). */
    public?: boolean
  }
  interface FastifyRequest {
    /** The authenticated token, resolved once per request (also the rate-limit key). */
    principal: Principal | undefined
  }
}

export interface Principal {
  /** Token name, or 'anonymous' when the server runs without tokens. */
  actor: string
  scope: Scope
}

interface HashedToken {
  name: string
  scope: Scope
  digest: Buffer
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest()

export type Identification = { kind: 'ok'; principal: Principal } | { kind: 'missing' } | { kind: 'invalid' }

/**
 * Compares the presented secret with every configured one in constant time: both sides are
 * hashed first so timingSafeEqual sees equal lengths, and the loop never exits early, so timing
 * reveals neither which token matched nor how much of a secret was right.
 */
export function createIdentifier(tokens: ApiToken[]): (authorization: string | undefined) => Identification {
  const hashed: HashedToken[] = tokens.map((t) => ({ name: t.name, scope: t.scope, digest: sha256(t.secret) }))
  return (authorization) => {
    if (hashed.length === 0) return { kind: 'ok', principal: { actor: 'anonymous', scope: 'admin' } }
    if (!authorization) return { kind: 'missing' }
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization)
    if (!match) return { kind: 'invalid' }
    const presented = sha256(match[1]!)
    let found: HashedToken | undefined
    for (const token of hashed) {
      if (timingSafeEqual(token.digest, presented) && !found) found = token
    }
    return found ? { kind: 'ok', principal: { actor: found.name, scope: found.scope } } : { kind: 'invalid' }
  }
}

export function requiredScope(request: FastifyRequest): Scope {
  const configured = request.routeOptions.config?.scope
  if (configured) return configured
  return ['GET', 'HEAD', 'OPTIONS'].includes(request.method) ? 'read' : 'write'
}

export function hasScope(principal: Principal | undefined, needed: Scope): boolean {
  return principal !== undefined && SCOPE_RANK[principal.scope] >= SCOPE_RANK[needed]
}

async function authPlugin(app: FastifyInstance, opts: { tokens: ApiToken[] }): Promise<void> {
  const identify = createIdentifier(opts.tokens)
  app.decorateRequest('principal', undefined)

  /** Resolve the caller once; the rate limiter's key generator may ask first. */
  app.decorate('identify', (request: FastifyRequest): Identification => {
    const result = identify(request.headers.authorization)
    if (result.kind === 'ok') request.principal = result.principal
    return result
  })

  app.addHook('onRequest', async (request, reply) => {
    // Unmatched routes fall through to the (rate-limited) 404 handler without a token check, so a
    // 404 does not reveal whether a path exists behind authentication.
    if (request.routeOptions.config?.public || request.is404) return
    const result = request.principal ? { kind: 'ok' as const, principal: request.principal } : app.identify(request)
    if (result.kind === 'missing') return sendProblem(reply, makeProblem(request, 401, 'missing bearer token (Authorization: Bearer <secret>)'))
    if (result.kind === 'invalid') return sendProblem(reply, makeProblem(request, 401, 'invalid bearer token'))
    const needed = requiredScope(request)
    if (!hasScope(result.principal, needed)) {
      return sendProblem(
        reply,
        makeProblem(request, 403, `token "${result.principal.actor}" has scope ${result.principal.scope}; this request needs ${needed}`),
      )
    }
  })
}

declare module 'fastify' {
  interface FastifyInstance {
    identify(request: FastifyRequest): Identification
  }
}

export default fp(authPlugin, { name: 'auth', dependencies: ['problem'] })
