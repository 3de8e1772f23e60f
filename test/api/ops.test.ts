/**
 * /healthz, /readyz, /metrics, and what happens when PostgreSQL goes away: requests get a 503
 * problem+json, the process survives, and service resumes when the database returns. The outage
 * is real: the app reaches PostgreSQL through a TCP relay that the test cuts (every connection
 * reset, new ones refused) and then restores.
 */
import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../../src/app.js'
import { defaultConfig } from '../../src/config.js'
import { openDatabase } from '../../src/db/index.js'
import { createServices } from '../../src/services/index.js'
import { testDatabaseUrl } from '../helpers/db.js'
import { smallEnvelope, startTestApp, uniqueName, type TestApp } from './helpers.js'

/** A TCP relay to PostgreSQL that can be cut and restored. */
class Relay {
  private server = net.createServer((client) => this.accept(client))
  private sockets = new Set<net.Socket>()
  private cut = false
  port = 0
  constructor(private target: { host: string; port: number }) {}

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.port = (this.server.address() as net.AddressInfo).port
  }
  private accept(client: net.Socket): void {
    if (this.cut) return void client.destroy()
    const upstream = net.connect(this.target)
    for (const s of [client, upstream]) {
      this.sockets.add(s)
      s.on('error', () => {})
      s.on('close', () => this.sockets.delete(s))
    }
    client.pipe(upstream).pipe(client)
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  }
  down(): void {
    this.cut = true
    for (const s of this.sockets) s.destroy()
  }
  up(): void {
    this.cut = false
  }
  async close(): Promise<void> {
    this.down()
    await new Promise((resolve) => this.server.close(resolve))
  }
}

let t: TestApp
const cluster = uniqueName('ops')
beforeAll(async () => {
  t = await startTestApp()
  expect((await t.app.inject({ method: 'POST', url: `/v1/clusters/${cluster}/snapshots`, payload: smallEnvelope() })).statusCode).toBe(201)
})
afterAll(async () => {
  await t?.close()
})

describe('security headers', () => {
  it("sends helmet's headers on JSON, problem and script responses, and leaves /ui its own CSP", async () => {
    for (const url of ['/healthz', '/v1/clusters/nope', `/v1/clusters/${cluster}/versions/latest/restore`]) {
      const res = await t.app.inject({ method: 'GET', url })
      expect(res.headers['x-content-type-options'], url).toBe('nosniff')
      expect(res.headers['x-frame-options'], url).toBe('SAMEORIGIN')
      expect(res.headers['referrer-policy'], url).toBe('no-referrer')
      expect(res.headers['cross-origin-resource-policy'], url).toBe('same-origin')
      expect(res.headers['strict-transport-security'], url).toBeUndefined()
    }
    const ui = await t.app.inject({ method: 'GET', url: '/ui/' })
    expect(ui.headers['content-security-policy']).toMatch(/script-src 'self'/)
    expect(ui.headers['x-content-type-options']).toBe('nosniff')
  })
})

describe('probes and metrics', () => {
  it('reports health and readiness', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' })
    const ready = await t.app.inject({ method: 'GET', url: '/readyz' })
    expect(ready.statusCode).toBe(200)
    expect(ready.json().status).toBe('ready')
  })

  it('exposes request histograms and per-cluster plan gauges', async () => {
    await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/versions/latest` })
    const res = await t.app.inject({ method: 'GET', url: '/metrics' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^text\/plain/)
    const text = res.body
    expect(text).toMatch(
      /natplan_http_request_duration_seconds_count\{method="GET",route="\/v1\/clusters\/:cluster\/versions\/:version",status_code="200"\} [1-9]/,
    )
    const rules = new RegExp(`natplan_plan_rules\\{cluster="${cluster}",family="IPv4",table="nat"\\} ([0-9]+)`).exec(text)
    expect(rules, text.slice(0, 2000)).not.toBeNull()
    const latest = (await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/versions/latest` })).json()
    expect(Number(rules![1])).toBe(latest.counts.families.IPv4.nat.rules)
    expect(text).toMatch(new RegExp(`natplan_plan_chains\\{cluster="${cluster}",family="IPv4",table="filter"\\} [0-9]+`))
    expect(text).toContain('natplan_database_up 1')
  })
})

describe('database outage', () => {
  it('answers 503 problem+json while PostgreSQL is unreachable and recovers after', async () => {
    const url = new URL(testDatabaseUrl())
    const relay = new Relay({ host: url.hostname, port: Number(url.port || 5432) })
    await relay.start()
    url.hostname = '127.0.0.1'
    url.port = String(relay.port)
    const db = await openDatabase({ databaseUrl: url.toString(), poolSize: 2 })
    const app = await buildApp({ config: defaultConfig({ rateLimit: null }), services: createServices(db), logger: false })
    try {
      const c = uniqueName('outage')
      expect((await app.inject({ method: 'POST', url: `/v1/clusters/${c}/snapshots`, payload: smallEnvelope() })).statusCode).toBe(201)

      relay.down()
      for (const req of [
        { method: 'GET' as const, url: `/v1/clusters/${c}/versions/latest` },
        { method: 'GET' as const, url: `/v1/clusters/${c}/versions/1/restore-script` },
        { method: 'POST' as const, url: `/v1/clusters/${c}/snapshots`, payload: smallEnvelope({ port: 82 }) },
        { method: 'GET' as const, url: '/readyz' },
      ]) {
        const res = await app.inject(req)
        expect(res.statusCode, `${req.url}: ${res.body}`).toBe(503)
        expect(res.headers['content-type']).toMatch(/problem\+json/)
        expect(res.headers['retry-after']).toBeDefined()
      }
      expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
      const metrics = await app.inject({ method: 'GET', url: '/metrics' })
      expect(metrics.statusCode).toBe(200)
      expect(metrics.body).toContain('natplan_database_up 0')

      relay.up()
      // The pool reconnects on demand; allow it a few attempts.
      let status = 0
      for (let i = 0; i < 20 && status !== 200; i++) {
        status = (await app.inject({ method: 'GET', url: `/v1/clusters/${c}/versions/latest` })).statusCode
        if (status !== 200) await new Promise((r) => setTimeout(r, 250))
      }
      expect(status).toBe(200)
      // Nothing partial was stored by the failed POST: the next change is version 2.
      const next = await app.inject({ method: 'POST', url: `/v1/clusters/${c}/snapshots`, payload: smallEnvelope({ port: 82 }) })
      expect(next.statusCode).toBe(201)
      expect(next.json().version.version).toBe(2)
      expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200)
    } finally {
      await app.close()
      await db.close()
      await relay.close()
    }
  })
})
