/**
 * Liveness and readiness: unauthenticated, for probes. Prometheus metrics: behind a read token
 * unless NATPLAN_METRICS_AUTH=none (their labels name every cluster).
 */
import type { FastifyInstance } from 'fastify'
import { makeProblem, sendProblem } from '../plugins/app/problem.js'

export default async function opsRoutes(app: FastifyInstance, opts: { metricsAuth?: 'read' | 'none' }): Promise<void> {
  const hidden = { hide: true }
  const config = { public: true }

  // The process is up and serving: nothing else is checked, so a database outage does not get
  // the pod restarted (that is what /readyz is for).
  app.get('/healthz', { config, schema: hidden }, async () => ({ status: 'ok' }))

  app.get('/readyz', { config, schema: hidden }, async (request, reply) => {
    let result: { ok: boolean; detail: string }
    try {
      result = await app.services.readiness()
    } catch (err) {
      request.log.warn({ err }, 'readiness check failed')
      result = { ok: false, detail: 'readiness check failed' }
    }
    if (result.ok) return { status: 'ready', detail: result.detail }
    return sendProblem(reply, makeProblem(request, 503, `not ready: ${result.detail}`))
  })

  const metricsConfig = opts.metricsAuth === 'none' ? { public: true } : { scope: 'read' as const }
  app.get('/metrics', { config: { ...metricsConfig, rateLimit: false }, schema: hidden }, async (_request, reply) => {
    const body = await app.metrics.metrics()
    return reply.type(app.metrics.contentType).send(body)
  })
}
