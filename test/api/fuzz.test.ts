/**
 * Property: whatever arrives at the ingest endpoint — a valid snapshot with fields retyped,
 * deleted or replaced, structural damage, random bytes, wrong content types — the answer is a
 * 2xx or a 4xx problem+json, never a 5xx, and the process keeps serving.
 */
import fc from 'fast-check'
import { stringify } from 'yaml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fixture, smallEnvelope, startTestApp, uniqueName, type TestApp } from './helpers.js'

let t: TestApp
beforeAll(async () => {
  t = await startTestApp()
})
afterAll(async () => {
  await t?.close()
})

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }

/** Every path (as key lists) inside a JSON value. */
function paths(value: Json, prefix: Array<string | number> = []): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = [prefix]
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...prefix, i])))
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]))
  return out
}

type Mutation = { at: number; op: 'set' | 'delete' | 'wrap'; value: Json }

function mutate(doc: Json, mutations: Mutation[]): Json {
  let root = structuredClone(doc)
  for (const m of mutations) {
    const all = paths(root)
    const path = all[m.at % all.length]!
    if (path.length === 0) {
      root = m.op === 'wrap' ? [root] : m.value
      continue
    }
    let parent: any = root
    for (const key of path.slice(0, -1)) parent = parent[key]
    const last = path[path.length - 1]!
    if (m.op === 'delete') {
      if (Array.isArray(parent)) parent.splice(Number(last), 1)
      else delete parent[last]
    } else if (m.op === 'wrap') parent[last] = [parent[last]]
    else parent[last] = m.value
  }
  return root
}

const interesting: fc.Arbitrary<Json> = fc.oneof(
  fc.jsonValue() as fc.Arbitrary<Json>,
  fc.constantFrom<Json>(
    '',
    '0',
    -1,
    0,
    65536,
    2 ** 53,
    1e308,
    '172.30.0.010',
    '::ffff:1.2.3.4',
    '10.0.0.0/33',
    'TCP',
    'sctp',
    'LoadBalancer',
    'Local',
    null,
    [],
    {},
    'x'.repeat(300),
  ),
)

const mutationArb = fc.record({ at: fc.nat(), op: fc.constantFrom<'set' | 'delete' | 'wrap'>('set', 'set', 'delete', 'wrap'), value: interesting })

const bases: Json[] = [smallEnvelope() as Json, fixture('TestBadIPs').snapshot as Json, smallEnvelope().resources as Json]

const mediaTypes = [
  'application/json',
  'application/yaml',
  'text/yaml',
  'application/x-yaml',
  'text/plain',
  'application/octet-stream',
  'application/xml',
  'multipart/form-data; boundary=x',
  'application/json; charset=latin1',
  '',
]

function expectNo5xx(res: { statusCode: number; body: string; headers: Record<string, unknown> }, what: string): void {
  expect(res.statusCode, `${what} → ${res.body.slice(0, 500)}`).toBeLessThan(500)
  if (res.statusCode >= 400) expect(String(res.headers['content-type'])).toMatch(/^application\/problem\+json/)
}

describe('ingest never answers 5xx', () => {
  const cluster = uniqueName('fuzz')

  it('for mutated snapshots as JSON or YAML', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat(bases.length - 1),
        fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        fc.string({ maxLength: 3 }),
        async (b, muts, asYaml, query) => {
          const doc = mutate(bases[b]!, muts)
          const payload = asYaml ? stringify(doc) : JSON.stringify(doc)
          const res = await t.app.inject({
            method: 'POST',
            url: `/v1/clusters/${cluster}/snapshots?nodeName=${encodeURIComponent(query)}`,
            headers: { 'content-type': asYaml ? 'application/yaml' : 'application/json' },
            payload,
          })
          expectNo5xx(res, JSON.stringify(muts).slice(0, 300))
        },
      ),
      { numRuns: 150 },
    )
  })

  it('for random bytes under random content types and query strings', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), fc.constantFrom(...mediaTypes), fc.string({ maxLength: 40 }), async (bytes, type, query) => {
        const headers: Record<string, string> = type ? { 'content-type': type } : {}
        const res = await t.app.inject({
          method: 'POST',
          url: `/v1/clusters/${cluster}/snapshots?${encodeURI(query)}`,
          headers,
          payload: Buffer.from(bytes),
        })
        expectNo5xx(res, `${type} ${bytes.length} bytes`)
      }),
      { numRuns: 100 },
    )
  })

  it('and still serves afterwards', async () => {
    const res = await t.app.inject({ method: 'POST', url: `/v1/clusters/${uniqueName('after')}/snapshots`, payload: smallEnvelope() })
    expect(res.statusCode).toBe(201)
  })
})
