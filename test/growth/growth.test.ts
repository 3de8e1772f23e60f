/**
 * Growth through the real app on real PostgreSQL: statistics written when versions are created,
 * served as JSON series, CSV and SVG, per namespace, top growers — each number checked against
 * an independent count over the stored plan / restore script.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deltaSize } from '../../src/planner/analysis/minimal.js'
import { generateSnapshot } from '../../src/planner/testing/generate.js'
import { linesText, type FamilyPlan, type Segment, type SegmentBuffer } from '../../src/planner/types.js'
import { startGrowthApp, uniqueName, type GrowthTestApp } from './helpers.js'

let t: GrowthTestApp
const cluster = uniqueName('growth')
// Four versions, growing: services spread over 3 namespaces, some NodePort/LB, some without endpoints.
const SIZES = [4, 8, 16, 30]

beforeAll(async () => {
  t = await startGrowthApp()
  for (const services of SIZES) {
    const env = generateSnapshot({ services, namespaces: 3, nodePort: 0.3, loadBalancer: 0.2, endpointsPerService: 2, seed: 7 })
    const res = await t.app.inject({ method: 'POST', url: `/v1/clusters/${cluster}/snapshots`, payload: env })
    expect(res.statusCode, res.body).toBe(201)
  }
})
afterAll(async () => {
  await t?.close()
})

type JsonSegment = Omit<Segment, SegmentBuffer> & Record<SegmentBuffer, string[]>

/** The REST plan document shows buffers as line arrays; the planner's model holds them as texts. */
function familyOfJson(f: { family: FamilyPlan['family']; segments: JsonSegment[] }): FamilyPlan {
  return {
    family: f.family,
    segments: f.segments.map((s) => ({
      ...s,
      filterChains: linesText(s.filterChains),
      filterRules: linesText(s.filterRules),
      natChains: linesText(s.natChains),
      natRules: linesText(s.natRules),
    })),
  }
}

/** Independent counts from the restore script the API serves (kube-proxy flavour, all tables). */
async function scriptCounts(version: number) {
  const res = await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/versions/${version}/restore-script` })
  expect(res.statusCode).toBe(200)
  const lines = res.body.split('\n')
  let table = ''
  const c = { natRules: 0, natChains: 0, filterRules: 0, filterChains: 0, kubeServices: 0, bytes: Buffer.byteLength(res.body) }
  for (const l of lines) {
    if (l.startsWith('*')) table = l.slice(1)
    else if (l.startsWith(':')) {
      if (table === 'nat') c.natChains++
      else c.filterChains++
    } else if (l.startsWith('-A ')) {
      if (table === 'nat') c.natRules++
      else c.filterRules++
      if (table === 'nat' && l.startsWith('-A KUBE-SERVICES ')) c.kubeServices++
    }
  }
  return c
}

describe('GET /v1/clusters/{c}/growth', () => {
  it('is stored at version creation, not computed on read', async () => {
    const { rows } = await t.db.pool.query('SELECT s.number FROM version_stats s JOIN clusters c ON c.id = s.cluster_id WHERE c.name = $1 ORDER BY s.number', [
      cluster,
    ])
    // Written by the ingest hook, in the ingest transaction, before anything read growth.
    expect(rows.map((r: { number: number }) => r.number)).toEqual([1, 2, 3, 4])
  })

  it('answers a JSON series per version whose numbers match the restore script', async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: `/v1/clusters/${cluster}/growth?metric=rules,chains,natRules,filterRules,kubeServicesRules,scriptBytes,services,deltaRules`,
    })
    expect(res.statusCode, res.body).toBe(200)
    const body = res.json()
    expect(body.cluster).toBe(cluster)
    expect(body.metrics.map((m: { name: string }) => m.name)).toEqual([
      'rules',
      'chains',
      'natRules',
      'filterRules',
      'kubeServicesRules',
      'scriptBytes',
      'services',
      'deltaRules',
    ])
    expect(body.points.map((p: { version: number }) => p.version)).toEqual([1, 2, 3, 4])
    for (const p of body.points) {
      const c = await scriptCounts(p.version)
      expect(p.values.natRules).toBe(c.natRules)
      expect(p.values.filterRules).toBe(c.filterRules)
      expect(p.values.rules).toBe(c.natRules + c.filterRules)
      expect(p.values.chains).toBe(c.natChains + c.filterChains)
      expect(p.values.kubeServicesRules).toBe(c.kubeServices)
      expect(p.values.scriptBytes).toBe(c.bytes)
      expect(p.values.services).toBe(SIZES[p.version - 1])
    }
    // version 1 has no previous version: no delta; later ones rewrite at least the changed services
    expect(body.points[0].values.deltaRules).toBeNull()
    for (const p of body.points.slice(1)) expect(p.values.deltaRules).toBeGreaterThan(0)
    const rules = body.points.map((p: { values: { rules: number } }) => p.values.rules)
    expect([...rules].sort((a, b) => a - b)).toEqual(rules)
  })

  it("stores the delta the analysis engine's deltaSize gives for the two stored plans", async () => {
    const body = (await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/growth?metric=deltaRules,deltaBytes` })).json()
    for (const v of [2, 3, 4]) {
      const a = (await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/versions/${v - 1}/plan` })).json()
      const b = (await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/versions/${v}/plan` })).json()
      const want = deltaSize(familyOfJson(a.families[0]), familyOfJson(b.families[0]))
      expect(body.points[v - 1].values).toEqual({ deltaRules: want.rules, deltaBytes: want.bytes })
    }
  })

  it('serves the same rows as CSV', async () => {
    const json = (await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/growth?metric=rules&metric=deltaRules` })).json()
    const res = await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/growth?metric=rules&metric=deltaRules&format=csv` })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^text\/csv/)
    const lines = res.body.trimEnd().split('\r\n')
    expect(lines[0]).toBe('version,created_at,rules,deltaRules')
    expect(lines).toHaveLength(1 + SIZES.length)
    lines.slice(1).forEach((line, i) => {
      const p = json.points[i]
      expect(line).toBe(`${p.version},${p.createdAt},${p.values.rules},${p.values.deltaRules ?? ''}`)
    })
  })

  it('limits the range by version number or time', async () => {
    const mid = (await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/growth?from=2&to=3` })).json()
    expect(mid.points.map((p: { version: number }) => p.version)).toEqual([2, 3])
    const all = (await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/growth` })).json()
    const at = all.points[2].createdAt
    const since = (await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/growth?from=${encodeURIComponent(at)}` })).json()
    expect(since.points[0].version).toBeLessThanOrEqual(3)
    expect(since.points.at(-1).version).toBe(4)
    const recent = (await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/growth?from=-1h` })).json()
    expect(recent.points).toHaveLength(SIZES.length)
    const future = (await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/growth?from=2999-01-01` })).json()
    expect(future.points).toEqual([])
  })

  it('rejects bad input with problem+json pointing at the parameter', async () => {
    const cases: Array<[string, string]> = [
      [`/v1/clusters/${cluster}/growth?metric=bogus`, '/metric'],
      [`/v1/clusters/${cluster}/growth?from=yesterday`, '/from'],
      [`/v1/clusters/${cluster}/growth?to=0`, '/to'],
      [`/v1/clusters/${cluster}/growth/top?by=nonsense`, '/by'],
    ]
    for (const [url, pointer] of cases) {
      const res = await t.app.inject({ method: 'GET', url })
      expect(res.statusCode, url).toBe(400)
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
      expect(res.json().errors.map((e: { pointer: string }) => e.pointer)).toContain(pointer)
    }
    const format = await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/growth?format=xml` })
    expect(format.statusCode).toBe(400)
    const missing = await t.app.inject({ method: 'GET', url: `/v1/clusters/${uniqueName('nope')}/growth` })
    expect(missing.statusCode).toBe(404)
    expect(missing.json().status).toBe(404)
  })
})

describe('GET /v1/clusters/{c}/growth.svg', () => {
  it('draws rules and chains over the versions', async () => {
    const res = await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/growth.svg` })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^image\/svg\+xml/)
    expect(res.body).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/)
    for (const metric of ['rules', 'chains']) {
      const m = new RegExp(`<polyline class="series" data-metric="${metric}"[^>]* points="([^"]+)"`).exec(res.body)
      expect(m, metric).not.toBeNull()
      expect(m![1]!.split(' ')).toHaveLength(SIZES.length)
    }
    expect(res.body.trimEnd().endsWith('</svg>')).toBe(true)
  })
})

describe('namespaces and top growers', () => {
  it('breaks the latest version down by namespace, summing to the service rules', async () => {
    const res = await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/growth/namespaces` })
    expect(res.statusCode).toBe(200)
    const body = res.json()
    expect(body.version).toBe(4)
    const plan = (await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/versions/4/plan` })).json()
    const expected = new Map<string, number>()
    for (const fam of plan.families) {
      for (const seg of fam.segments) {
        if (!seg.service) continue
        const ns = seg.service.split('/')[0]
        expected.set(ns, (expected.get(ns) ?? 0) + seg.natRules.length + seg.filterRules.length)
      }
    }
    expect(Object.fromEntries(body.namespaces.map((n: { namespace: string; rules: number }) => [n.namespace, n.rules]))).toEqual(Object.fromEntries(expected))
    expect(body.namespaces.reduce((a: number, n: { services: number }) => a + n.services, 0)).toBe(SIZES.at(-1))
  })

  it('ranks namespaces by growth between two versions', async () => {
    const res = await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/growth/top?from=1&to=4&by=services&limit=2` })
    expect(res.statusCode).toBe(200)
    const body = res.json()
    expect(body).toMatchObject({ fromVersion: 1, toVersion: 4, by: 'services' })
    expect(body.growers).toHaveLength(2)
    const deltas = body.growers.map((g: { delta: { services: number } }) => g.delta.services)
    expect(deltas[0]).toBeGreaterThanOrEqual(deltas[1])
    for (const g of body.growers) expect(g.delta.services).toBe(g.to.services - g.from.services)
    const all = (await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/growth/top?from=1&to=4&by=services&limit=100` })).json()
    expect(all.growers.reduce((a: number, g: { delta: { services: number } }) => a + g.delta.services, 0)).toBe(SIZES.at(-1)! - SIZES[0]!)
    const series = (await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/growth/namespaces/${body.growers[0].namespace}` })).json()
    expect(series.points.map((p: { services: number }) => p.services).at(-1)).toBe(body.growers[0].to.services)
  })

  it('projects KUBE-SERVICES growth (answering a status and a sentence)', async () => {
    const res = await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/growth/projection?metric=kubeServicesRules&threshold=10000` })
    expect(res.statusCode).toBe(200)
    const body = res.json()
    expect(['projected', 'never', 'insufficient-data']).toContain(body.status)
    expect(body.points).toBe(SIZES.length)
    expect(body.message).toMatch(/KUBE-SERVICES/)
    const reached = (await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/growth/projection?metric=services&threshold=5` })).json()
    expect(reached).toMatchObject({ status: 'reached', metric: 'services' })
  })
})

describe('rollbacks', () => {
  it('write the statistics of the version they create, equal to the version they restore', async () => {
    const res = await t.app.inject({ method: 'POST', url: `/v1/clusters/${cluster}/rollbacks`, payload: { toVersion: 2, reason: 'growth test' } })
    expect(res.statusCode, res.body).toBe(201)
    const { rows } = await t.db.pool.query(
      'SELECT s.number, s.nat_rules, s.filter_rules, s.delta_rules FROM version_stats s JOIN clusters c ON c.id = s.cluster_id WHERE c.name = $1 AND s.number IN (2, 5) ORDER BY s.number',
      [cluster],
    )
    expect(rows).toHaveLength(2)
    expect(rows[1].nat_rules).toBe(rows[0].nat_rules)
    expect(rows[1].filter_rules).toBe(rows[0].filter_rules)
    // going back from version 4's 30 services to version 2's 8 rewrites and deletes chains
    expect(rows[1].delta_rules).toBeGreaterThan(0)
  })
})
