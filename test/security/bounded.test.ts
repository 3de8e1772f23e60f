/**
 * Bounded parsing: JSON and YAML bodies are limited in depth and (YAML) aliases
 * before values are built, a NUL or an out-of-range version number is a 400, and after every
 * hostile body the process still serves.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jsonTooDeepAt } from './bounded-helpers.js'
import { smallEnvelope, startTestApp, uniqueName, type TestApp } from '../api/helpers.js'

let t: TestApp
let cluster: string
beforeAll(async () => {
  t = await startTestApp()
  cluster = uniqueName('bounded')
  const r = await t.app.inject({ method: 'POST', url: `/v1/clusters/${cluster}/snapshots`, payload: smallEnvelope() })
  expect(r.statusCode).toBe(201)
})
afterAll(async () => {
  await t?.close()
})

const post = (payload: string, contentType: string, url = `/v1/clusters/${cluster}/snapshots`) =>
  t.app.inject({ method: 'POST', url, payload, headers: { 'content-type': contentType } })

function expectLimit(res: { statusCode: number; headers: Record<string, unknown>; json(): any }, name: string) {
  expect(res.statusCode).toBe(400)
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
  const body = res.json()
  expect(body.type).toBe('urn:natplan:problem:limit-exceeded')
  expect(body.limit.name).toBe(name)
  expect(body.errors.length).toBeGreaterThan(0)
  return body
}

async function alive() {
  const res = await t.app.inject({ method: 'GET', url: '/healthz' })
  expect(res.statusCode).toBe(200)
}

describe('bounded parsing', () => {
  it('2,000 `[` then 2,000 `]` as YAML, twice: 400 naming the depth limit, the process alive', async () => {
    const body = '['.repeat(2000) + ']'.repeat(2000)
    for (let i = 0; i < 2; i++) {
      const p = expectLimit(await post(body, 'application/yaml'), 'maxDepth')
      expect(p.detail).toMatch(/deeper than 64 levels.*NATPLAN_MAX_DEPTH/)
    }
    await alive()
  })

  it('YAML block nesting (`- - - …` and indentation) is bounded too', async () => {
    expectLimit(await post('- '.repeat(3000) + 'x\n', 'text/yaml'), 'maxDepth')
    let indented = ''
    for (let i = 0; i < 200; i++) indented += `${' '.repeat(i)}k${i}:\n`
    expectLimit(await post(indented + ' '.repeat(200) + 'x: 1\n', 'application/x-yaml'), 'maxDepth')
    await alive()
  })

  it('YAML aliases past NATPLAN_YAML_MAX_ALIASES are refused before expansion (billion laughs)', async () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    for (let i = 1; i < 12; i++)
      lines.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(',')}]`,
      )
    const p = expectLimit(await post(lines.join('\n'), 'application/yaml'), 'yamlMaxAliases')
    expect(p.detail).toMatch(/NATPLAN_YAML_MAX_ALIASES/)
    // Few aliases that expand exponentially are stopped by the expansion count.
    const few = [
      'a: &a [x,x,x,x,x,x,x,x,x,x]',
      'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]',
      'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]',
      'd: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]',
    ]
    const res = await post(few.join('\n'), 'application/yaml')
    expect(res.statusCode).toBe(400)
    await alive()
  })

  it("the kube-proxy ConfigMap's config.conf nested deep (brackets or `- - -`) is a 400 pointing at it", async () => {
    for (const conf of ['clusterCIDR: ' + '['.repeat(3000) + ']'.repeat(3000), 'x:\n' + '- '.repeat(3000) + 'y\n']) {
      const env = smallEnvelope({ port: 84 })
      env.resources.items.push({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'kube-proxy', namespace: 'kube-system' },
        data: { 'config.conf': conf },
      })
      const res = await post(JSON.stringify(env), 'application/json')
      expect(res.statusCode).toBe(400)
      expect(res.json().errors[0].pointer).toBe('/resources/items/2/data/config.conf')
      expect(res.json().errors[0].detail).toMatch(/nests deeper than 32/)
    }
    await alive()
  })

  it('labels nested 10,000 deep in JSON: 400 naming the limit, not a 500', async () => {
    const body = '{"proxy":{},"resources":{"items":[{"kind":"Service","metadata":{"labels":' + '{"a":'.repeat(10000) + '1' + '}'.repeat(10000) + '}}]}}'
    const p = expectLimit(await post(body, 'application/json'), 'maxDepth')
    expect(p.detail).toMatch(/JSON body nests deeper than 64/)
    // GraphQL variables go through the same parser.
    const gql =
      '{"query":"mutation($d: JSON!){ingestSnapshot(cluster:\\"x\\",document:$d){created}}","variables":{"d":' + '['.repeat(5000) + ']'.repeat(5000) + '}}'
    expectLimit(await post(gql, 'application/json', '/graphql'), 'maxDepth')
    await alive()
  })

  it('brackets inside JSON strings do not count; a realistic snapshot passes', async () => {
    const env = smallEnvelope({ port: 81 })
    env.resources.items[0].metadata.annotations = { note: '[[[[{{{{'.repeat(100) + '\\"' }
    const res = await post(JSON.stringify(env), 'application/json')
    expect(res.statusCode, res.body).toBe(201)
    expect(jsonTooDeepAt('"[[[[[["', 2)).toBe(-1)
    expect(jsonTooDeepAt('[[["\\"[["]]]', 3)).toBe(-1)
    expect(jsonTooDeepAt('[[[[', 3)).toBe(3)
    // an escaped backslash ends before the quote that closes the string
    expect(jsonTooDeepAt('["a\\\\",[[[', 3)).toBe(9)
    expect(jsonTooDeepAt('["a\\"[[[[[",[[', 3)).toBe(-1)
    expect(jsonTooDeepAt('["unterminated [[[[', 1)).toBe(-1)
  })

  it('a NUL in a name, an annotation or a query parameter is a 400, never a PostgreSQL 500', async () => {
    for (const where of ['name', 'annotation'] as const) {
      const env = smallEnvelope({ port: 82 })
      if (where === 'name') env.resources.items[0].metadata.name = 'we\u0000b'
      else env.resources.items[0].metadata.annotations = { a: 'x\u0000' }
      const res = await post(JSON.stringify(env), 'application/json')
      expect(res.statusCode).toBe(400)
      expect(res.json().errors[0].pointer).toMatch(/^\/resources\/items\/0\/metadata\//)
    }
    const yaml = await post('kind: List\nitems:\n- kind: Service\n  metadata: {name: "a\\0b"}\n', 'application/yaml')
    expect(yaml.statusCode).toBe(400)
    expect(yaml.json().errors[0].pointer).toBe('/items/0/metadata/name')
    const zone = await t.app.inject({ method: 'POST', url: `/v1/clusters/${cluster}/snapshots?zone=%00`, payload: smallEnvelope({ port: 83 }) })
    expect(zone.statusCode).toBe(400)
    expect(zone.json().errors.length).toBeGreaterThan(0)
    const reason = await t.app.inject({ method: 'POST', url: `/v1/clusters/${cluster}/rollbacks`, payload: { toVersion: 1, reason: 'why\u0000' } })
    expect(reason.statusCode).toBe(400)
    await alive()
  })

  it('a rollback to version 99999999999 is a 400 (out of range), not a 500', async () => {
    const res = await t.app.inject({ method: 'POST', url: `/v1/clusters/${cluster}/rollbacks`, payload: { toVersion: 99999999999, reason: 'x' } })
    expect(res.statusCode).toBe(400)
    expect(res.json().errors[0]).toMatchObject({ pointer: '/toVersion' })
    const backup = await t.app.inject({ method: 'POST', url: `/v1/clusters/${cluster}/backups`, payload: { fromVersion: 99999999999 } })
    expect(backup.statusCode).toBe(400)
  })

  it('empty and malformed JSON bodies are 400s with errors[]', async () => {
    for (const body of ['', '{x', '{"__proto__":{"a":1}}']) {
      const res = await post(body, 'application/json')
      expect(res.statusCode).toBe(400)
      expect(res.headers['content-type']).toMatch(/problem\+json/)
      expect(res.json().errors.length).toBeGreaterThan(0)
    }
  })
})
