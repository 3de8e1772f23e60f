/** GraphQL on the real services: queries, the mutation, errors, and the cost of lists. */
import pg from 'pg'
import YAML from 'yaml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { normaliseRestore } from '../../src/planner/index.js'
import { fixture, smallEnvelope, startTestApp, uniqueName, type TestApp } from './helpers.js'

/** Counts every SQL statement any pg client in this process sends. */
let statements = 0
const originalQuery = pg.Client.prototype.query
beforeAll(() => {
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    statements++
    return (originalQuery as (...a: unknown[]) => unknown).apply(this, args)
  } as typeof pg.Client.prototype.query
})
afterAll(() => {
  pg.Client.prototype.query = originalQuery
})

let t: TestApp
beforeAll(async () => {
  t = await startTestApp()
})
afterAll(async () => {
  await t?.close()
})

async function gql(query: string, variables?: Record<string, unknown>) {
  const res = await t.app.inject({ method: 'POST', url: '/graphql', payload: { query, variables } })
  return { status: res.statusCode, body: res.json() as { data: any; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> } }
}

async function statementsFor(query: string): Promise<number> {
  const before = statements
  const { body } = await gql(query)
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined()
  return statements - before
}

async function ingest(cluster: string, document: unknown) {
  const { body } = await gql('mutation($c: String!, $d: JSON!) { ingestSnapshot(cluster: $c, document: $d) { created version { version } } }', {
    c: cluster,
    d: document,
  })
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined()
  return body.data.ingestSnapshot as { created: boolean; version: { version: number } }
}

describe('graphql', () => {
  it('ingests through the mutation and reads the version back', async () => {
    const cluster = uniqueName('gql')
    const { snapshot, expected } = fixture('TestNodePorts__ipv4_localhost-nodeports_enabled')
    expect(await ingest(cluster, snapshot)).toEqual({ created: true, version: { version: 1 } })
    expect((await ingest(cluster, snapshot)).created).toBe(false)
    const { body } = await gql(`{ cluster(name: "${cluster}") {
      name versionCount latestVersion
      latest { version kind actor counts { services endpoints scriptBytes } warnings { code } plan { families { family tables { table chains rules } } } }
      version(ref: "1") { restoreScript }
    } }`)
    expect(body.errors).toBeUndefined()
    const c = body.data.cluster
    expect(c).toMatchObject({ name: cluster, versionCount: 1, latestVersion: 1 })
    expect(c.latest).toMatchObject({ version: 1, kind: 'snapshot', actor: 'anonymous' })
    expect(c.latest.plan.families[0].family).toBe('IPv4')
    expect(normaliseRestore(c.version.restoreScript)).toBe(expected)
  })

  it('ingests YAML and JSON text as the REST route does (the same version), and says where malformed YAML breaks', async () => {
    const cluster = uniqueName('gqlyaml')
    const { snapshot } = fixture('TestNodePorts__ipv4_localhost-nodeports_enabled')
    const rest = await t.app.inject({
      method: 'POST',
      url: `/v1/clusters/${cluster}/snapshots`,
      payload: YAML.stringify(snapshot),
      headers: { 'content-type': 'application/yaml' },
    })
    expect(rest.statusCode).toBe(201)
    // The same state as YAML text, as JSON text and as several YAML documents: one version.
    expect(await ingest(cluster, YAML.stringify(snapshot))).toEqual({ created: false, version: { version: 1 } })
    expect(await ingest(cluster, JSON.stringify(snapshot))).toEqual({ created: false, version: { version: 1 } })
    const bad = await gql('mutation($d: JSON!) { ingestSnapshot(cluster: "x", document: $d) { created } }', { d: 'kind: List\nitems: [\n' })
    expect(bad.body.errors?.[0]?.extensions).toMatchObject({ status: 400 })
    expect(bad.body.errors?.[0]?.message).toMatch(/malformed YAML in document 0/)
  })

  it('returns null for unknown clusters and versions, and errors for bad arguments', async () => {
    const cluster = uniqueName('gqlnull')
    await ingest(cluster, smallEnvelope())
    const { body } = await gql(`{ nope: cluster(name: "${uniqueName('none')}") { name } c: cluster(name: "${cluster}") { version(ref: "42") { version } } }`)
    expect(body.data).toEqual({ nope: null, c: { version: null } })
    const bad = await gql(`{ cluster(name: "${cluster}") { latest { restoreScript(table: "mangle") } } }`)
    expect(bad.body.errors?.[0]?.extensions).toMatchObject({ status: 400 })
    const invalid = await gql('mutation { ingestSnapshot(cluster: "x", document: {resources: {items: [{kind: "Service"}]}}) { created } }')
    expect(invalid.body.errors?.[0]?.extensions).toMatchObject({ status: 400 })
    expect((invalid.body.errors?.[0]?.extensions?.errors as unknown[]).length).toBeGreaterThan(0)
  })

  it('lists versions with plan summaries in a constant number of SQL statements', async () => {
    const small = uniqueName('n2')
    const large = uniqueName('n8')
    for (let i = 0; i < 2; i++) await ingest(small, smallEnvelope({ port: 200 + i }))
    for (let i = 0; i < 8; i++) await ingest(large, smallEnvelope({ port: 300 + i }))
    // Rollbacks give versions a `source`, resolved through the batching loader: one rollback in
    // the small cluster, four in the large one, and still the same number of statements.
    const history = t.services.history!
    await history.rollback({ cluster: small, toVersion: 1, reason: 'bench', actor: 'test' })
    for (const v of [1, 2, 3, 4]) await history.rollback({ cluster: large, toVersion: v, reason: 'bench', actor: 'test' })
    const query = (c: string) => `{ cluster(name: "${c}") { versions(limit: 50) { items {
      version createdAt counts { services servicePorts endpoints scriptBytes }
      plan { scriptBytes families { family tables { table chains rules } } }
      source { version counts { services } } } } } }`
    const a = await statementsFor(query(small))
    const b = await statementsFor(query(large))
    const sources = (await gql(query(large))).body.data.cluster.versions.items.filter((v: { source: unknown }) => v.source !== null)
    expect(sources.map((v: { source: { version: number } }) => v.source.version)).toEqual([4, 3, 2, 1])
    expect(a).toBeGreaterThan(0)
    expect(b).toBe(a)
  })

  it('batches the latest version of many clusters through one loader call', async () => {
    const prefix = uniqueName('batch')
    for (let i = 0; i < 6; i++) await ingest(`${prefix}-${i}`, smallEnvelope({ port: 400 + i }))
    const query = (limit: number) => `{ clusters(limit: ${limit}) { items { name latest { version plan { scriptBytes } } } } }`
    const two = await statementsFor(query(2))
    const six = await statementsFor(query(6))
    expect(two).toBeGreaterThan(0)
    expect(six).toBe(two)
  })

  it('serves GraphiQL', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/graphiql' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/text\/html/)
  })
})
