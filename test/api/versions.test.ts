/** Reading versions back: listing, metadata, snapshot, plan and restore script (also over a real socket). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { normaliseRestore } from '../../src/planner/index.js'
import { fixture, fixtureCases, smallEnvelope, startTestApp, uniqueName, type TestApp } from './helpers.js'

let t: TestApp
let base: string
const cluster = uniqueName('versions')

beforeAll(async () => {
  t = await startTestApp()
  base = await t.app.listen({ host: '127.0.0.1', port: 0 })
  for (let i = 0; i < 5; i++) {
    const res = await t.app.inject({ method: 'POST', url: `/v1/clusters/${cluster}/snapshots`, payload: smallEnvelope({ port: 100 + i }) })
    expect(res.statusCode).toBe(201)
  }
})
afterAll(async () => {
  await t?.close()
})

const get = (url: string, headers: Record<string, string> = {}) => t.app.inject({ method: 'GET', url, headers })

describe('listing', () => {
  it('lists clusters with links', async () => {
    const res = await get('/v1/clusters?limit=500')
    expect(res.statusCode).toBe(200)
    const mine = res.json().items.find((c: { name: string }) => c.name === cluster)
    expect(mine).toMatchObject({ name: cluster, latestVersion: 5, versions: 5 })
    expect(mine.links.latest).toBe(`/v1/clusters/${cluster}/versions/latest`)
  })

  it('pages versions newest first with a cursor', async () => {
    const seen: number[] = []
    let url: string | undefined = `/v1/clusters/${cluster}/versions?limit=2`
    while (url) {
      const res = await get(url)
      expect(res.statusCode).toBe(200)
      const page = res.json()
      expect(page.items.length).toBeLessThanOrEqual(2)
      seen.push(...page.items.map((v: { version: number }) => v.version))
      url = page.links.next
      expect(page.next === null).toBe(url === undefined)
    }
    expect(seen).toEqual([5, 4, 3, 2, 1])
  })

  it('rejects bad paging parameters with a query pointer', async () => {
    const res = await get(`/v1/clusters/${cluster}/versions?limit=0`)
    expect(res.statusCode).toBe(400)
    expect(res.json().errors[0]).toMatchObject({ pointer: '/limit', location: 'query' })
  })

  it('404s unknown clusters and versions', async () => {
    expect((await get(`/v1/clusters/${uniqueName('nope')}/versions`)).statusCode).toBe(404)
    const res = await get(`/v1/clusters/${cluster}/versions/99`)
    expect(res.statusCode).toBe(404)
    expect(res.headers['content-type']).toMatch(/problem\+json/)
  })
})

describe('one version', () => {
  it('resolves latest and numbers to the same metadata', async () => {
    const latest = (await get(`/v1/clusters/${cluster}/versions/latest`)).json()
    const five = (await get(`/v1/clusters/${cluster}/versions/5`)).json()
    expect(latest).toEqual(five)
    expect(five.links).toMatchObject({ self: `/v1/clusters/${cluster}/versions/5`, previous: `/v1/clusters/${cluster}/versions/4` })
    expect(five.planSha256).toMatch(/^[0-9a-f]{64}$/)
  })

  it('serves the stored snapshot and the plan', async () => {
    const snap = await get(`/v1/clusters/${cluster}/versions/1/snapshot`)
    expect(snap.statusCode).toBe(200)
    expect(snap.json().resources.items).toHaveLength(2)
    const plan = await get(`/v1/clusters/${cluster}/versions/1/plan`)
    expect(plan.statusCode).toBe(200)
    const families = plan.json().families
    expect(families[0].family).toBe('IPv4')
    expect(families[0].segments.some((s: { service?: string }) => s.service === 'default/web:http')).toBe(true)
  })

  it('serves restore scripts with ETag, 304 and a download filename', async () => {
    const url = `/v1/clusters/${cluster}/versions/3/restore-script`
    const res = await get(url)
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^text\/plain/)
    expect(res.headers['content-disposition']).toBe(`attachment; filename="${cluster}-v3.rules"`)
    expect(res.body).toMatch(/^\*filter\n/)
    expect(res.body).toContain('*nat\n')
    const etag = res.headers.etag as string
    expect(etag).toMatch(/^"/)
    const cached = await get(url, { 'if-none-match': etag })
    expect(cached.statusCode).toBe(304)
    expect(cached.body).toBe('')
    const other = await get(`${url}?table=nat`, { 'if-none-match': etag })
    expect(other.statusCode).toBe(200)
    expect(other.body.startsWith('*nat\n')).toBe(true)
    expect(other.body).not.toContain('*filter')
    expect(other.headers.etag).not.toBe(etag)
  })
})

describe('over a real socket', () => {
  it.each(fixtureCases())('streams the kube-proxy restore script of %s', async (name) => {
    const c = uniqueName('socket')
    const { text, families } = fixture(name)
    const created = await fetch(`${base}/v1/clusters/${c}/snapshots`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text })
    expect(created.status).toBe(201)
    // The default is the plan's first family; every family is also asked for explicitly.
    const byDefault = await fetch(`${base}/v1/clusters/${c}/versions/latest/restore-script`)
    expect(byDefault.status).toBe(200)
    expect(byDefault.headers.get('x-request-id')).toBeTruthy()
    // Compared the way upstream compares (see the case's notes.md): parse, sort, re-serialise.
    expect(normaliseRestore(await byDefault.text())).toBe(families[0]!.expected)
    for (const { family, expected } of families) {
      const res = await fetch(`${base}/v1/clusters/${c}/versions/latest/restore-script?family=${family}`)
      expect(res.status).toBe(200)
      expect(normaliseRestore(await res.text()), family).toBe(expected)
    }
  })
})
