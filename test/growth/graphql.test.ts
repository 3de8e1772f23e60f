/** Growth and inspection through GraphQL: the same answers as REST, errors with pointers. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateSnapshot } from '../../src/planner/testing/generate.js'
import { inspectEnvelope, WEB_IP } from '../inspect/fixtures.js'
import { startGrowthApp, uniqueName, type GrowthTestApp } from './helpers.js'

let t: GrowthTestApp
const cluster = uniqueName('gql-growth')
const inspected = uniqueName('gql-inspect')

beforeAll(async () => {
  t = await startGrowthApp()
  for (const services of [2, 5, 9]) {
    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/clusters/${cluster}/snapshots`,
      payload: generateSnapshot({ services, namespaces: 2, seed: 11 }),
    })
    expect(res.statusCode).toBe(201)
  }
  expect((await t.app.inject({ method: 'POST', url: `/v1/clusters/${inspected}/snapshots`, payload: inspectEnvelope() })).statusCode).toBe(201)
})
afterAll(async () => {
  await t?.close()
})

async function gql(query: string, variables: Record<string, unknown> = {}) {
  const res = await t.app.inject({ method: 'POST', url: '/graphql', payload: { query, variables } })
  return res.json()
}

describe('GraphQL growth', () => {
  it('answers the same series as REST', async () => {
    const rest = (await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/growth?metric=rules,kubeServicesRules` })).json()
    const body = await gql(
      'query($c: String!) { growth(cluster: $c, metrics: ["rules", "kubeServicesRules"]) { cluster metrics { name unit } points { version createdAt values } } }',
      { c: cluster },
    )
    expect(body.errors).toBeUndefined()
    expect(body.data.growth.points).toEqual(rest.points)
    expect(body.data.growth.metrics.map((m: { name: string }) => m.name)).toEqual(['rules', 'kubeServicesRules'])
  })

  it('answers namespaces, top growers and the projection', async () => {
    const body = await gql(
      `query($c: String!) {
      growthNamespaces(cluster: $c) { version namespaces { namespace services rules } }
      topGrowers(cluster: $c, from: "1", to: "3", by: "services") { fromVersion toVersion growers { namespace delta { services } } }
      growthProjection(cluster: $c, metric: "services", threshold: 3) { status message }
    }`,
      { c: cluster },
    )
    expect(body.errors).toBeUndefined()
    expect(body.data.growthNamespaces.version).toBe(3)
    expect(body.data.growthNamespaces.namespaces.reduce((a: number, n: { services: number }) => a + n.services, 0)).toBe(9)
    expect(body.data.topGrowers.growers.reduce((a: number, g: { delta: { services: number } }) => a + g.delta.services, 0)).toBe(7)
    expect(body.data.growthProjection.status).toBe('reached')
  })

  it('reports a bad metric with the pointer, like problem+json', async () => {
    const body = await gql('query($c: String!) { growth(cluster: $c, metrics: ["nope"]) { cluster } }', { c: cluster })
    expect(body.errors[0].extensions).toMatchObject({ status: 400, errors: [{ pointer: '/metric' }] })
  })
})

describe('GraphQL inspection', () => {
  it('traces, checks drift and lists cleanup items', async () => {
    const script = (await t.app.inject({ method: 'GET', url: `/v1/clusters/${inspected}/versions/1/restore-script` })).body
    const body = await gql(
      `query($c: String!, $s: String!, $ip: String!) {
      trace(cluster: $c, version: "latest", packet: { source: "10.0.0.2", destination: $ip, port: 80 }) { verdict masqueraded endpoints { endpoint probability } rulesMatched { table chain } }
      drift(cluster: $c, version: "1", saveText: $s) { inSync summary }
      cleanup(cluster: $c, version: "1") { summary items }
    }`,
      { c: inspected, s: script, ip: WEB_IP },
    )
    expect(body.errors).toBeUndefined()
    expect(body.data.trace.verdict).toBe('DNAT')
    expect(body.data.trace.endpoints).toHaveLength(4)
    expect(body.data.drift.inSync).toBe(true)
    expect(body.data.cleanup.summary['no-endpoints']).toBe(1)
  })

  it('rejects a bad packet with pointers', async () => {
    const body = await gql(
      'query($c: String!) { trace(cluster: $c, version: "1", packet: { source: "x", destination: "10.0.0.1", port: 80, protocol: "icmp" }) { verdict } }',
      { c: inspected },
    )
    const pointers = body.errors[0].extensions.errors.map((e: { pointer: string }) => e.pointer)
    expect(pointers).toEqual(expect.arrayContaining(['/source', '/protocol']))
  })
})
