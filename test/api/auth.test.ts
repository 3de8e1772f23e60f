/** Tokens, scopes, rate limits and what reaches the logs. */
import pino from 'pino'
import { Writable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseTokens } from '../../src/config.js'
import { smallEnvelope, startTestApp, uniqueName, type TestApp } from './helpers.js'

const READ = 'read-secret-0123456789'
const WRITE = 'write-secret-0123456789'
const tokens = parseTokens(`ci:write:${WRITE},dash:read:${READ}`)

const logLines: string[] = []
const sink = new Writable({
  write(chunk, _enc, done) {
    logLines.push(...chunk.toString().split('\n').filter(Boolean))
    done()
  },
})

let t: TestApp
beforeAll(async () => {
  const logger = pino({ level: 'info', redact: { paths: (await import('../../src/app.js')).REDACT_PATHS, censor: '[redacted]' } }, sink)
  t = await startTestApp({ tokens, rateLimit: { max: 1000, windowMs: 60_000 } }, logger)
})
afterAll(async () => {
  await t?.close()
})

const bearer = (s: string) => ({ authorization: `Bearer ${s}` })

describe('authentication', () => {
  const cluster = uniqueName('auth')

  it('401s a missing or wrong token, with WWW-Authenticate', async () => {
    for (const headers of [{}, bearer('wrong-secret-0123456789'), { authorization: 'Basic abc' }, bearer(READ + 'x')]) {
      const res = await t.app.inject({ method: 'GET', url: '/v1/clusters', headers })
      expect(res.statusCode).toBe(401)
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/)
      expect(res.json()).toMatchObject({ status: 401, title: 'Unauthorized' })
    }
  })

  it('403s a read token writing; a write token writes and reads', async () => {
    const denied = await t.app.inject({ method: 'POST', url: `/v1/clusters/${cluster}/snapshots`, headers: bearer(READ), payload: smallEnvelope() })
    expect(denied.statusCode).toBe(403)
    const ok = await t.app.inject({ method: 'POST', url: `/v1/clusters/${cluster}/snapshots`, headers: bearer(WRITE), payload: smallEnvelope() })
    expect(ok.statusCode).toBe(201)
    expect(ok.json().version.actor).toBe('ci')
    const read = await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/versions/latest`, headers: bearer(READ) })
    expect(read.statusCode).toBe(200)
  })

  it('applies the same scopes to GraphQL', async () => {
    const mutation = {
      query: 'mutation($d: JSON!) { ingestSnapshot(cluster: "' + cluster + '", document: $d) { created } }',
      variables: { d: smallEnvelope({ port: 99 }) },
    }
    expect((await t.app.inject({ method: 'POST', url: '/graphql', payload: mutation })).statusCode).toBe(401)
    const denied = await t.app.inject({ method: 'POST', url: '/graphql', headers: bearer(READ), payload: mutation })
    expect(denied.json().errors[0].extensions).toMatchObject({ status: 403 })
    const ok = await t.app.inject({ method: 'POST', url: '/graphql', headers: bearer(WRITE), payload: mutation })
    expect(ok.json().data.ingestSnapshot.created).toBe(true)
  })

  it('leaves probes and docs open; metrics need a read token by default (NATPLAN_METRICS_AUTH=read)', async () => {
    for (const url of ['/healthz', '/docs/json']) {
      expect((await t.app.inject({ method: 'GET', url })).statusCode, url).toBe(200)
    }
    expect((await t.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401)
    expect((await t.app.inject({ method: 'GET', url: '/metrics', headers: bearer(READ) })).statusCode).toBe(200)
  })

  it('never logs the Authorization header, and logs request ids', async () => {
    await t.app.inject({ method: 'GET', url: '/v1/clusters', headers: { ...bearer(WRITE), 'x-request-id': 'trace-me-123' } })
    const all = logLines.join('\n')
    expect(all).not.toContain(WRITE)
    expect(all).not.toContain(READ)
    const entries = logLines.map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(entries.some((e) => e.reqId === 'trace-me-123')).toBe(true)
  })

  it('logs 5xx with request headers, Authorization redacted, and answers a generic problem', async () => {
    const lines: string[] = []
    const capture = new Writable({
      write(chunk, _enc, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean))
        done()
      },
    })
    const { buildApp, REDACT_PATHS } = await import('../../src/app.js')
    const { defaultConfig } = await import('../../src/config.js')
    const logger = pino({ level: 'info', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, capture)
    const app = await buildApp({ config: defaultConfig({ tokens, rateLimit: null }), services: t.services, logger })
    // A route that fails the way a bug would: the error handler must not leak it.
    app.get('/boom', async () => {
      throw new Error('secret internals: table xyz is on fire')
    })
    try {
      const res = await app.inject({ method: 'GET', url: '/boom', headers: bearer(WRITE) })
      expect(res.statusCode).toBe(500)
      expect(res.json()).toMatchObject({ status: 500, detail: 'Internal Server Error' })
      expect(res.body).not.toContain('on fire')
      const failure = lines.map((l) => JSON.parse(l)).find((e) => e.msg === 'request failed')
      expect(failure?.err?.message).toContain('on fire')
      expect(failure?.request?.headers?.authorization).toBe('[redacted]')
      expect(lines.join('\n')).not.toContain(WRITE)
    } finally {
      await app.close()
    }
  })
})

describe('rate limits', () => {
  it('limits per token and per IP, the 404 handler included, with problem+json 429', async () => {
    const limited = await startTestApp({ tokens, rateLimit: { max: 3, windowMs: 60_000 } })
    try {
      const statuses = async (url: string, headers: Record<string, string>) => {
        const out: number[] = []
        for (let i = 0; i < 4; i++) out.push((await limited.app.inject({ method: 'GET', url, headers })).statusCode)
        return out
      }
      expect(await statuses('/v1/clusters', bearer(READ))).toEqual([200, 200, 200, 429])
      // Another token has its own budget.
      expect(await statuses('/v1/clusters', bearer(WRITE))).toEqual([200, 200, 200, 429])
      // Unknown routes, anonymous: keyed by IP, a separate budget, still limited.
      const notFound = await statuses('/no/such/route', { 'x-forwarded-for': '1.2.3.4' })
      expect(notFound).toEqual([404, 404, 404, 429])
      const res = await limited.app.inject({ method: 'GET', url: '/v1/clusters', headers: bearer(READ) })
      expect(res.headers['content-type']).toMatch(/problem\+json/)
      expect(res.headers['retry-after']).toBeDefined()
      expect(res.json()).toMatchObject({ status: 429, title: 'Too Many Requests' })
    } finally {
      await limited.close()
    }
  })
})
