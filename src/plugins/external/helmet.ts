/**
 * Security headers on every response (@fastify/helmet): `X-Content-Type-Options: nosniff`,
 * `X-Frame-Options`, `Referrer-Policy: no-referrer`, the cross-origin opener and resource
 * policies, and the rest of helmet's defaults.
 *
 * Two are left to others. The Content-Security-Policy: natplan's JSON, YAML and restore scripts
 * need none, `/ui` and `/graphiql` set their own (src/ui/plugin.ts, src/ui/graphiql.ts), and Swagger UI
 * comes with its own scripts. Strict-Transport-Security: natplan listens on plain HTTP, and whatever
 * terminates TLS in front of it is the one to promise HTTPS for the host.
 */
import helmet from '@fastify/helmet'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

export default fp(
  async (app: FastifyInstance) => {
    await app.register(helmet, { contentSecurityPolicy: false, hsts: false })
  },
  { name: 'natplan-helmet' },
)
