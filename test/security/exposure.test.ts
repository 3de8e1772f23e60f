/**
 * Exposure: /metrics behind a read token unless NATPLAN_METRICS_AUTH=none, /docs and
 * /graphiql behind one with NATPLAN_DOCS_AUTH=read, HOST accepting a bracketed IPv6 address,
 * and kube-proxy's clusterCIDR refused when it is not a CIDR.
 */
import { describe, expect, it } from 'vitest'
import { buildApp } from '../../src/app.js'
import { isLoopback, loadConfig } from '../../src/config.js'
import { openTestServices } from '../helpers/services.js'
import { smallEnvelope, startTestApp, uniqueName } from '../api/helpers.js'

const READ = 'reader-secret-0123456789'
const tokens = [{ name: 'reader', scope: 'read' as const, secret: READ }]
const bearer = { authorization: `Bearer ${READ}` }

describe('exposure settings', () => {
  it('defaults: /metrics needs a read token, /docs and /graphiql are open', async () => {
    const config = loadConfig({})
    expect(config.metricsAuth).toBe('read')
    expect(config.docsAuth).toBe('none')
    const t = await startTestApp({ tokens })
    try {
      expect((await t.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401)
      const ok = await t.app.inject({ method: 'GET', url: '/metrics', headers: bearer })
      expect(ok.statusCode).toBe(200)
      expect(ok.body).toContain('natplan_http_request_duration_seconds')
      expect((await t.app.inject({ method: 'GET', url: '/docs/json' })).statusCode).toBe(200)
      expect((await t.app.inject({ method: 'GET', url: '/graphiql' })).statusCode).toBe(200)
      expect((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
    } finally {
      await t.close()
    }
  })

  it('NATPLAN_METRICS_AUTH=none opens /metrics; NATPLAN_DOCS_AUTH=read closes /docs and /graphiql', async () => {
    const config = loadConfig({ NATPLAN_METRICS_AUTH: 'none', NATPLAN_DOCS_AUTH: 'read' })
    const t = await startTestApp({ tokens, metricsAuth: config.metricsAuth, docsAuth: config.docsAuth })
    try {
      expect((await t.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200)
      for (const url of ['/docs/json', '/docs', '/graphiql']) {
        const denied = await t.app.inject({ method: 'GET', url })
        expect(denied.statusCode, url).toBe(401)
        expect(denied.headers['content-type']).toMatch(/problem\+json/)
        expect((await t.app.inject({ method: 'GET', url, headers: bearer })).statusCode, url).toBeLessThan(400)
      }
    } finally {
      await t.close()
    }
    expect(() => loadConfig({ NATPLAN_METRICS_AUTH: 'maybe' })).toThrow(/NATPLAN_METRICS_AUTH/)
  })

  it('HOST=[::1] is the IPv6 loopback, bound as such', async () => {
    const config = loadConfig({ HOST: '[::1]', PORT: '0' })
    expect(config.host).toBe('::1')
    expect(isLoopback(config.host)).toBe(true)
    const { db, services } = await openTestServices({ poolSize: 1 })
    const app = await buildApp({ config: { ...config, rateLimit: null }, services, logger: false })
    try {
      const address = await app.listen({ host: config.host, port: config.port })
      expect(address).toMatch(/^http:\/\/\[::1\]:\d+$/)
      expect((await fetch(`${address}/healthz`)).status).toBe(200)
    } finally {
      app.server.closeAllConnections()
      await app.close()
      await db.close()
    }
  })

  it('clusterCIDR "not-a-cidr" and "10.0.0.0/99" are refused, in the body and in the query', async () => {
    const t = await startTestApp()
    try {
      const cluster = uniqueName('cidr')
      for (const bad of ['not-a-cidr', '10.0.0.0/99']) {
        const env = smallEnvelope()
        env.proxy.clusterCIDR = bad
        const body = await t.app.inject({ method: 'POST', url: `/v1/clusters/${cluster}/snapshots`, payload: env })
        expect(body.statusCode).toBe(400)
        expect(body.json().errors[0].pointer).toBe('/proxy/clusterCIDR')
        const query = await t.app.inject({
          method: 'POST',
          url: `/v1/clusters/${cluster}/snapshots?clusterCIDR=${encodeURIComponent(bad)}`,
          payload: smallEnvelope(),
        })
        expect(query.statusCode).toBe(400)
        expect(query.json().errors[0].pointer).toMatch(/^\/proxy\/clusterCIDR/)
      }
    } finally {
      await t.close()
    }
  })
})
