/** POST /v1/clusters/{cluster}/snapshots through the real app, services and PostgreSQL. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import { fixture, smallEnvelope, startTestApp, uniqueName, type TestApp } from './helpers.js'

let t: TestApp
beforeAll(async () => {
  t = await startTestApp()
})
afterAll(async () => {
  await t?.close()
})

const post = (cluster: string, payload: string | object, contentType = 'application/json', query = '') =>
  t.app.inject({
    method: 'POST',
    url: `/v1/clusters/${cluster}/snapshots${query}`,
    headers: { 'content-type': contentType },
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
  })

describe('ingest', () => {
  it('creates version 1 with counts, warnings and links, then 200 for an identical snapshot', async () => {
    const cluster = uniqueName('ingest')
    const { snapshot } = fixture('TestBadIPs')
    const first = await post(cluster, snapshot)
    expect(first.statusCode).toBe(201)
    const body = first.json()
    expect(body.created).toBe(true)
    expect(body.version.version).toBe(1)
    expect(body.version.cluster).toBe(cluster)
    expect(body.version.counts.services).toBe(1)
    expect(body.version.counts.families.IPv4.nat.rules).toBeGreaterThan(0)
    expect(Array.isArray(body.version.warnings)).toBe(true)
    expect(body.links.restoreScript).toBe(`/v1/clusters/${cluster}/versions/1/restore-script`)
    expect(first.headers.location).toBe(`/v1/clusters/${cluster}/versions/1`)

    const again = await post(cluster, snapshot)
    expect(again.statusCode).toBe(200)
    expect(again.json().created).toBe(false)
    expect(again.json().version.version).toBe(1)

    const changed = await post(cluster, smallEnvelope())
    expect(changed.statusCode).toBe(201)
    expect(changed.json().version.version).toBe(2)
  })

  it('accepts YAML, single and multi-document, under every YAML media type', async () => {
    const env = smallEnvelope({ port: 81 })
    for (const type of ['application/yaml', 'text/yaml', 'application/x-yaml']) {
      const cluster = uniqueName('yaml')
      const res = await post(cluster, stringify(env), type)
      expect(res.statusCode, res.body).toBe(201)
      expect(res.json().version.counts.servicePorts).toBe(1)
    }
    // Multi-document: the objects one after another, proxy settings from the query.
    const cluster = uniqueName('multidoc')
    const docs = env.resources.items.map((o: unknown) => stringify(o)).join('---\n')
    const res = await post(cluster, docs, 'application/yaml', '?nodeName=node-a&nodeIPs=192.168.0.2&clusterCIDR=10.0.0.0/8')
    expect(res.statusCode, res.body).toBe(201)
    expect(res.json().version.counts.endpoints).toBe(1)
  })

  it('takes proxy settings from query parameters for a bare List', async () => {
    const cluster = uniqueName('bare')
    const env = smallEnvelope()
    const res = await post(cluster, env.resources, 'application/json', '?nodeName=node-a&nodeIPs=192.168.0.2&masqueradeAll=true&masqueradeBit=13')
    expect(res.statusCode, res.body).toBe(201)
    const snap = await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/versions/1/snapshot` })
    expect(snap.statusCode).toBe(200)
    expect(snap.json().proxy).toMatchObject({ nodeName: 'node-a', masqueradeAll: true, masqueradeBit: 13 })
  })

  it('rejects an invalid object with a pointer to the item and field', async () => {
    const env = smallEnvelope()
    env.resources.items[0].spec.ports[0].port = 'eighty'
    const res = await post(uniqueName('invalid'), env)
    expect(res.statusCode).toBe(400)
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
    const problem = res.json()
    expect(problem).toMatchObject({ status: 400, title: 'Bad Request' })
    expect(problem.errors.map((e: { pointer: string }) => e.pointer)).toContain('/resources/items/0/spec/ports/0/port')
  })

  it('maps fastify and parser failures to problem+json', async () => {
    const cluster = uniqueName('errors')
    const cases: Array<[string, string, number]> = [
      ['{"proxy": ', 'application/json', 400],
      ['a: [unclosed', 'application/yaml', 400],
      // Found by the fuzz test: parses, but the alias cannot be resolved when building values.
      ['*a', 'text/yaml', 400],
      ['a: &x [*x, *x]\nb: *y', 'application/yaml', 400],
      ['just text', 'text/plain', 415],
      ['<xml/>', 'application/xml', 415],
      ['"a string"', 'application/json', 400],
      ['', 'application/json', 400],
    ]
    for (const [payload, type, status] of cases) {
      const res = await post(cluster, payload, type)
      expect(res.statusCode, `${type} ${payload}: ${res.body}`).toBe(status)
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
      const p = res.json()
      expect(p).toMatchObject({
        status,
        type: expect.any(String),
        title: expect.any(String),
        detail: expect.any(String),
        instance: `/v1/clusters/${cluster}/snapshots`,
      })
    }
    const list = await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/versions` })
    expect(list.statusCode).toBe(404)
  })

  it('validates cluster names as DNS labels', async () => {
    for (const bad of ['Upper', '-lead', 'trail-', 'a'.repeat(64), 'dots.no']) {
      const res = await post(bad, smallEnvelope())
      expect(res.statusCode, bad).toBe(400)
      expect(res.json().errors[0]).toMatchObject({ pointer: '/cluster', location: 'path' })
    }
  })

  it('answers 413 over the body limit', async () => {
    const small = await startTestApp({ bodyLimit: 2048 })
    try {
      const env = smallEnvelope({ endpoints: Array.from({ length: 60 }, (_, i) => `10.1.0.${i + 1}`) })
      const res = await small.app.inject({
        method: 'POST',
        url: `/v1/clusters/${uniqueName('limit')}/snapshots`,
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(env),
      })
      expect(res.statusCode).toBe(413)
      expect(res.json().status).toBe(413)
    } finally {
      await small.close()
    }
  })

  it('numbers concurrent ingests without gaps or collisions', async () => {
    const cluster = uniqueName('concurrent')
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => post(cluster, smallEnvelope({ port: 1000 + i }))))
    expect(results.map((r) => r.statusCode)).toEqual(Array(8).fill(201))
    const versions = results.map((r) => r.json().version.version).sort((a, b) => a - b)
    expect(versions).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
  })
})
