/**
 * GET /v1/clusters/{c}/diff: the stored-hash diff must say exactly what the analysis functions
 * say about the WHOLE plans (the service reads only the changed segments), in either order,
 * in all three formats.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { diffPlans, minimalRestore } from '../../src/planner/analysis/index.js'
import { ingest, smallEnvelope, startHistoryApp, uniqueName, type HistoryTestApp } from './helpers.js'

let t: HistoryTestApp
const cluster = uniqueName('hdiff')

/** Two services; v2 moves web's endpoints, v3 adds a third service and drops `api`. */
function envelope(round: number): Record<string, any> {
  const web = smallEnvelope({ name: 'web', endpoints: round === 0 ? ['10.1.0.5'] : ['10.1.0.6', '10.1.0.7'] })
  const api = smallEnvelope({ name: 'api', port: 81, endpoints: ['10.1.0.9'] })
  api.resources.items[0].spec.clusterIP = '172.30.0.11'
  api.resources.items[0].spec.clusterIPs = ['172.30.0.11']
  const items = [...web.resources.items]
  if (round < 2) items.push(...api.resources.items)
  if (round === 2) {
    const db = smallEnvelope({ name: 'db', port: 5432, endpoints: ['10.1.0.20'] })
    db.resources.items[0].spec.clusterIP = '172.30.0.12'
    db.resources.items[0].spec.clusterIPs = ['172.30.0.12']
    items.push(...db.resources.items)
  }
  return { ...web, resources: { ...web.resources, items } }
}

beforeAll(async () => {
  t = await startHistoryApp()
  for (const r of [0, 1, 2]) await ingest(t.app, cluster, envelope(r))
})
afterAll(async () => t?.close())

const get = (url: string) => t.app.inject({ method: 'GET', url })

describe('diff formats', () => {
  it('json: agrees with diffPlans over the whole plans, in both orders', async () => {
    for (const [from, to] of [
      [1, 2],
      [2, 1],
      [1, 3],
      [3, 1],
      [2, 3],
    ] as const) {
      const res = await get(`/v1/clusters/${cluster}/diff?from=${from}&to=${to}`)
      expect(res.statusCode).toBe(200)
      const body = res.json()
      const a = await t.services.getPlan(cluster, from)
      const b = await t.services.getPlan(cluster, to)
      const whole = diffPlans(a.families[0]!, b.families[0]!)
      expect(body.from).toBe(from)
      expect(body.to).toBe(to)
      expect(body.identical).toBe(false)
      expect(body.families[0].summary).toEqual(whole.summary)
      expect(body.families[0].services).toEqual(whole.services)
      expect(body.families[0].tables).toEqual(whole.tables)
      expect(body.summary).toEqual(whole.summary)
      expect(body.links.restore).toBe(`/v1/clusters/${cluster}/diff?from=${from}&to=${to}&format=restore`)
    }
  })

  it('json: endpoint churn shows as a changed service with SEP chains added and removed', async () => {
    const body = (await get(`/v1/clusters/${cluster}/diff?from=1&to=2&format=json`)).json()
    expect(body.summary.servicesChanged).toBe(1)
    expect(body.summary.servicesAdded).toBe(0)
    const web = body.families[0].services.find((s: { service: string }) => s.service.startsWith('default/web'))
    expect(web.change).toBe('changed')
    expect(web.tables.nat.chainsAdded.length).toBe(2)
    expect(web.tables.nat.chainsRemoved.length).toBe(1)
    const v3 = (await get(`/v1/clusters/${cluster}/diff?from=2&to=3`)).json()
    expect(v3.summary.servicesAdded).toBe(1)
    expect(v3.summary.servicesRemoved).toBe(1)
  })

  it('json: a version against itself is identical and empty', async () => {
    const body = (await get(`/v1/clusters/${cluster}/diff?from=2&to=2`)).json()
    expect(body.identical).toBe(true)
    expect(body.families[0].services).toEqual([])
    expect(body.summary.rulesAdded + body.summary.rulesRemoved).toBe(0)
  })

  it('restore: exactly minimalRestore of the two whole plans (KEP-3453 partial sync)', async () => {
    for (const [from, to] of [
      [1, 2],
      [2, 3],
      [3, 1],
    ] as const) {
      const res = await get(`/v1/clusters/${cluster}/diff?from=${from}&to=${to}&format=restore`)
      expect(res.statusCode).toBe(200)
      expect(res.headers['content-type']).toMatch(/^text\/plain/)
      const a = await t.services.getPlan(cluster, from)
      const b = await t.services.getPlan(cluster, to)
      expect(res.body).toBe(minimalRestore(a.families[0]!, b.families[0]!))
    }
    // Removing `api` deletes its chains with -X, as kube-proxy does.
    const del = (await get(`/v1/clusters/${cluster}/diff?from=2&to=3&format=restore`)).body
    expect(del).toMatch(/^-X KUBE-SVC-/m)
  })

  it('unified: a unified diff of the normalised scripts', async () => {
    const res = await get(`/v1/clusters/${cluster}/diff?from=1&to=2&format=unified`)
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^text\/x-diff/)
    expect(res.body).toContain('--- v1/restore.rules')
    expect(res.body).toContain('+++ v2/restore.rules')
    expect(res.body).toMatch(/^\+-A KUBE-SEP-\S+ .*10\.1\.0\.6/m)
    expect(res.body).toMatch(/^--A KUBE-SEP-\S+ .*10\.1\.0\.5/m)
    expect((await get(`/v1/clusters/${cluster}/diff?from=2&to=2&format=unified`)).body).toBe('')
  })

  it('latest is accepted as a version reference', async () => {
    const body = (await get(`/v1/clusters/${cluster}/diff?from=1&to=latest`)).json()
    expect(body.to).toBe(3)
  })
})

describe('diff errors', () => {
  it('unknown versions and clusters are 404 problem+json', async () => {
    const res = await get(`/v1/clusters/${cluster}/diff?from=1&to=99`)
    expect(res.statusCode).toBe(404)
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/)
    expect(res.json().detail).toContain('no version 99')
    expect((await get(`/v1/clusters/${uniqueName('nope')}/diff?from=1&to=2`)).statusCode).toBe(404)
  })

  it('bad parameters are 400 with a pointer', async () => {
    for (const q of ['from=0&to=1', 'from=x&to=1', 'to=1', 'from=1&to=2&format=xml', 'from=1&to=2&family=IPv5']) {
      const res = await get(`/v1/clusters/${cluster}/diff?${q}`)
      expect(res.statusCode, q).toBe(400)
      expect(res.json().errors?.length ?? 0, q).toBeGreaterThan(0)
    }
  })

  it('a family the target lacks is 404', async () => {
    expect((await get(`/v1/clusters/${cluster}/diff?from=1&to=2&format=restore&family=IPv6`)).statusCode).toBe(404)
  })
})
