/**
 * The auth matrix: every operation of openapi/openapi.json and every GraphQL mutation, against
 * no credential, six kinds of bad credential, a token one scope too small and the right token.
 * Bad credentials are 401 problem+json with WWW-Authenticate everywhere, a too-small scope 403,
 * the right token gets past authentication (whatever the request then answers). A new route or
 * mutation without an entry here fails the test, so its scope is a decision someone made.
 */
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseTokens } from '../../src/config.js'
import { startTestApp, type TestApp } from '../api/helpers.js'

const SECRETS = { read: 'matrix-read-0123456789ab', write: 'matrix-write-0123456789a', admin: 'matrix-admin-0123456789a' }
type Scope = keyof typeof SECRETS

/** The scope each operation needs; reads unless listed. */
const NEEDS: Record<string, Scope> = {
  'POST /v1/clusters/{cluster}/snapshots': 'write',
  'POST /v1/clusters/{cluster}/rollbacks': 'write',
  'POST /v1/clusters/{cluster}/backups': 'write',
  'POST /v1/backups/import': 'write',
  'POST /v1/clusters/{cluster}/prune': 'admin',
  'DELETE /v1/clusters/{cluster}': 'admin',
  'GET /v1/retention': 'admin',
}
/** POSTs that only read (they send a packet or a dump to compare, nothing is stored). */
const READ_POSTS = [/\/trace$/, /\/drift$/, /^\/graphql$/]

const MUTATIONS: Record<string, { scope: Scope; call: string }> = {
  ingestSnapshot: { scope: 'write', call: 'ingestSnapshot(cluster: "matrix", document: {}) { created }' },
  rollback: { scope: 'write', call: 'rollback(cluster: "matrix", toVersion: 1, reason: "m") { replaced }' },
  createBackup: { scope: 'write', call: 'createBackup(cluster: "matrix") { id }' },
  importBackup: { scope: 'write', call: 'importBackup(cluster: "matrix", archiveBase64: "AAAA") { cluster }' },
  prune: { scope: 'admin', call: 'prune(cluster: "matrix", keep: 1, dryRun: true) { pruned }' },
  deleteCluster: { scope: 'admin', call: 'deleteCluster(cluster: "matrix") { versions }' },
}

const BAD: Array<[string, Record<string, string>]> = [
  ['no Authorization', {}],
  ['an empty Bearer', { authorization: 'Bearer ' }],
  ['a scheme alone', { authorization: 'Bearer' }],
  ['another scheme', { authorization: `Basic ${Buffer.from(`x:${SECRETS.admin}`).toString('base64')}` }],
  ['two words', { authorization: `Bearer ${SECRETS.admin} extra` }],
  ['a wrong secret', { authorization: 'Bearer matrix-wrong-0123456789a' }],
  ['a right secret with one more character', { authorization: `Bearer ${SECRETS.admin}x` }],
]
const SMALLER: Record<Scope, Scope | undefined> = { read: undefined, write: 'read', admin: 'write' }
const bearer = (scope: Scope) => ({ authorization: `Bearer ${SECRETS[scope]}` })

const spec = JSON.parse(readFileSync(new URL('../../openapi/openapi.json', import.meta.url), 'utf8')) as { paths: Record<string, Record<string, unknown>> }
const PARAMS: Record<string, string> = { cluster: 'matrix', version: '1', node: 'node-a', id: '00000000-0000-4000-8000-000000000000', namespace: 'default' }
const operations = Object.entries(spec.paths).flatMap(([path, ops]) =>
  Object.keys(ops)
    .filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
    .map((m) => {
      const method = m.toUpperCase()
      const key = `${method} ${path}`
      const scope: Scope = NEEDS[key] ?? (method === 'GET' || READ_POSTS.some((re) => re.test(path)) ? 'read' : 'write')
      const url = path.replace(/\{(\w+)\}/g, (_, name: string) => PARAMS[name] ?? 'x') + (path === '/v1/backups/import' ? '?cluster=matrix' : '')
      return { key, method, url, scope }
    }),
)

let t: TestApp
beforeAll(async () => {
  t = await startTestApp({
    tokens: parseTokens(
      Object.entries(SECRETS)
        .map(([scope, secret]) => `m-${scope}:${scope}:${secret}`)
        .join(','),
    ),
    rateLimit: null,
  })
})
afterAll(async () => t?.close())

describe('auth matrix', () => {
  it('covers every operation of the OpenAPI document and nothing unknown', () => {
    expect(operations.length).toBeGreaterThan(30)
    for (const key of Object.keys(NEEDS))
      expect(
        operations.map((o) => o.key),
        key,
      ).toContain(key)
  })

  it('every operation: 401 for each bad credential, 403 one scope too small, through with the right one', async () => {
    let cases = 0
    for (const op of operations) {
      const send = (headers: Record<string, string>) =>
        t.app.inject({
          method: op.method as 'GET',
          url: op.url,
          headers: { ...headers, 'content-type': 'application/json' },
          ...(op.method === 'GET' || op.method === 'DELETE' ? {} : { payload: '{}' }),
        })
      for (const [what, headers] of BAD) {
        const res = await send(headers)
        expect(res.statusCode, `${op.key} with ${what}`).toBe(401)
        expect(res.headers['content-type'], op.key).toMatch(/^application\/problem\+json/)
        expect(res.headers['www-authenticate'], op.key).toMatch(/^Bearer/)
        cases++
      }
      const smaller = SMALLER[op.scope]
      if (smaller) {
        const res = await send(bearer(smaller))
        expect(res.statusCode, `${op.key} with a ${smaller} token`).toBe(403)
        expect(res.json().detail, op.key).toContain(`needs ${op.scope}`)
        cases++
      }
      const right = await send(bearer(op.scope))
      expect([401, 403], `${op.key} with a ${op.scope} token: ${right.body.slice(0, 200)}`).not.toContain(right.statusCode)
      cases++
    }
    expect(cases).toBeGreaterThan(operations.length * 8)
  })

  it('every GraphQL mutation: 401 without a valid token, a 403 error one scope too small, through with the right one', async () => {
    const introspect = await t.app.inject({
      method: 'POST',
      url: '/graphql',
      headers: bearer('read'),
      payload: { query: '{ __schema { mutationType { fields { name } } } }' },
    })
    const names = (introspect.json().data.__schema.mutationType.fields as Array<{ name: string }>).map((f) => f.name).sort()
    expect(names).toEqual(Object.keys(MUTATIONS).sort())
    for (const [name, { scope, call }] of Object.entries(MUTATIONS)) {
      const send = (headers: Record<string, string>) => t.app.inject({ method: 'POST', url: '/graphql', headers, payload: { query: `mutation { ${call} }` } })
      for (const [what, headers] of BAD) expect((await send(headers)).statusCode, `${name} with ${what}`).toBe(401)
      const smaller = SMALLER[scope]!
      const denied = (await send(bearer(smaller))).json()
      expect(denied.errors?.[0]?.extensions?.status, `${name} with a ${smaller} token`).toBe(403)
      const right = (await send(bearer(scope))).json()
      expect(right.errors?.[0]?.extensions?.status ?? 200, `${name} with a ${scope} token: ${JSON.stringify(right.errors)}`).not.toBe(403)
    }
  })
})
