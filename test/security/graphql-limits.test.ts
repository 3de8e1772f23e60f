/**
 * GraphQL limits and malformed requests: aliases, depth, tokens and cost each refuse
 * an operation with a 400 problem naming the limit before anything executes; requests that are
 * not GraphQL operations are 400s, never HTTP 200 with "Internal Server Error".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultConfig } from '../../src/config.js'
import { smallEnvelope, startTestApp, uniqueName, type TestApp } from '../api/helpers.js'

const READ = 'reader-secret-0123456789'
const WRITE = 'writer-secret-0123456789'
let t: TestApp
let url: string
let cluster: string
beforeAll(async () => {
  t = await startTestApp({
    tokens: [
      { name: 'reader', scope: 'read', secret: READ },
      { name: 'writer', scope: 'write', secret: WRITE },
    ],
  })
  url = await t.app.listen({ host: '127.0.0.1', port: 0 })
  cluster = uniqueName('gqlim')
  for (const port of [80, 81]) {
    const r = await t.app.inject({
      method: 'POST',
      url: `/v1/clusters/${cluster}/snapshots`,
      payload: smallEnvelope({ port }),
      headers: { authorization: `Bearer ${WRITE}` },
    })
    expect(r.statusCode).toBe(201)
  }
})
afterAll(async () => {
  t?.app.server.closeAllConnections()
  await t?.close()
})

async function gql(body: string, contentType = 'application/json') {
  const res = await fetch(`${url}/graphql`, { method: 'POST', body, headers: { 'content-type': contentType, authorization: `Bearer ${READ}` } })
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: (await res.json()) as any }
}

function expectLimit(r: Awaited<ReturnType<typeof gql>>, name: string) {
  expect(r.status, JSON.stringify(r.body)).toBe(400)
  expect(r.type).toMatch(/^application\/problem\+json/)
  expect(r.body.type).toBe('urn:natplan:problem:limit-exceeded')
  expect(r.body.limit.name).toBe(name)
  expect(r.body.detail).toContain(r.body.limit.env)
  expect(r.body.errors.length).toBeGreaterThan(0)
}

const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `d${i}: diff(cluster: "${cluster}", from: "1", to: "2") { unified }`).join(' ')} }`

describe('GraphQL limits', () => {
  it('an ordinary query still answers', async () => {
    const r = await gql(JSON.stringify({ query: `{ a: diff(cluster: "${cluster}", from: "1", to: "2") { unified } }` }))
    expect(r.status).toBe(200)
    expect(r.body.data.a.unified).toMatch(/^---/m)
  })

  it('1,000 aliases of diff { unified } from a read token are refused fast, without running a diff', async () => {
    const started = performance.now()
    const r = await gql(JSON.stringify({ query: aliases(1000) }))
    const ms = performance.now() - started
    // the document is refused while it is parsed (tokens) — before validation, before execution
    expectLimit(r, 'graphqlMaxTokens')
    console.log(`1,000-alias attack refused in ${ms.toFixed(1)} ms`)
    // And the server is not held up: a REST request right after answers.
    const health = await fetch(`${url}/healthz`)
    expect(health.status).toBe(200)
  })

  it('aliases over NATPLAN_GRAPHQL_MAX_ALIASES (15) are refused by validation', async () => {
    expectLimit(await gql(JSON.stringify({ query: aliases(16) })), 'graphqlMaxAliases')
    const ok = await gql(JSON.stringify({ query: aliases(2) }))
    expect(ok.status).toBe(200)
  })

  it('depth over NATPLAN_GRAPHQL_MAX_DEPTH is refused', async () => {
    let q = 'version'
    for (let i = 0; i < 12; i++) q = `source { ${q} }`
    expectLimit(await gql(JSON.stringify({ query: `{ cluster(name: "${cluster}") { latest { ${q} } } }` })), 'graphqlMaxDepth')
  })

  it('cost over NATPLAN_GRAPHQL_MAX_COST is refused', async () => {
    // The default (5,000) is out of reach of a query within the other limits; a server with a
    // small budget shows the rule at work.
    const small = await startTestApp({ graphqlLimits: { ...defaultConfig().graphqlLimits, maxCost: 40 } })
    try {
      const sel = 'version kind createdAt actor reason counts { services endpoints servicePorts scriptBytes }'
      const res = await small.app.inject({
        method: 'POST',
        url: '/graphql',
        payload: { query: `{ cluster(name: "${cluster}") { latest { ${sel} source { ${sel} } } } }` },
      })
      expectLimit({ status: res.statusCode, type: String(res.headers['content-type']), body: res.json() }, 'graphqlMaxCost')
      const ok = await small.app.inject({ method: 'POST', url: '/graphql', payload: { query: `{ cluster(name: "${cluster}") { latest { version } } }` } })
      expect(ok.statusCode).toBe(200)
    } finally {
      await small.close()
    }
  })
})

describe('malformed GraphQL requests are 400 problems', () => {
  const cases: Array<[string, string, string?]> = [
    ['an empty query', JSON.stringify({ query: '' })],
    ['"query": 5', JSON.stringify({ query: 5 })],
    ['no query at all', JSON.stringify({})],
    ['wrongly typed variables', JSON.stringify({ query: 'query($n: Int) { clusters(limit: $n) { next } }', variables: { n: 'x' } })],
    ['variables that are not an object', JSON.stringify({ query: '{ clusters { next } }', variables: 5 })],
    ['a body that is not JSON', 'hello'],
    ['a batched array', JSON.stringify([{ query: '{ clusters { next } }' }])],
    ['a syntax error', JSON.stringify({ query: '{ clusters { ' })],
    ['an unknown field', JSON.stringify({ query: '{ nope }' })],
  ]
  for (const [label, body, type] of cases) {
    it(label, async () => {
      const r = await gql(body, type)
      expect(r.status, JSON.stringify(r.body)).toBe(400)
      expect(r.type).toMatch(/^application\/problem\+json/)
      expect(r.body.errors.length).toBeGreaterThan(0)
      expect(JSON.stringify(r.body)).not.toMatch(/Internal Server Error/)
    })
  }

  it('a GET without a query is a 400 too; variables of the wrong type point at the variable', async () => {
    const res = await fetch(`${url}/graphql`, { headers: { authorization: `Bearer ${READ}` } })
    expect(res.status).toBe(400)
    expect(res.headers.get('content-type')).toMatch(/problem\+json/)
    const r = await gql(JSON.stringify({ query: 'query($n: Int) { clusters(limit: $n) { next } }', variables: { n: 'x' } }))
    expect(r.body.errors[0].pointer).toBe('/variables/n')
  })
})
