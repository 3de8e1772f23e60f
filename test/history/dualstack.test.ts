/**
 * Dual-stack nodes: diffs per family (family=IPv6 for the texts), and backups carrying both
 * families' restore scripts (restore.rules + restore-ipv6.rules) through a delete+import round trip.
 */
import { gunzipSync } from 'node:zlib'
import tar from 'tar-stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { minimalRestore } from '../../src/planner/analysis/index.js'
import { fixture } from '../api/helpers.js'
import { ingest, startHistoryApp, uniqueName, type HistoryTestApp } from './helpers.js'

let t: HistoryTestApp
const cluster = uniqueName('hds')
const get = (url: string) => t.app.inject({ method: 'GET', url })

beforeAll(async () => {
  t = await startHistoryApp()
  const base = fixture('natplan-dual-stack').snapshot as Record<string, any>
  await ingest(t.app, cluster, base)
  const changed = structuredClone(base)
  const svc = changed.resources.items.find((i: { kind: string }) => i.kind === 'Service')
  svc.spec.ports[0].port = 8080
  await ingest(t.app, cluster, changed)
})
afterAll(async () => t?.close())

async function script(v: number, family: 'IPv4' | 'IPv6'): Promise<string> {
  const res = await get(`/v1/clusters/${cluster}/versions/${v}/restore-script?family=${family}`)
  expect(res.statusCode).toBe(200)
  return res.body
}

describe('dual-stack history', () => {
  it('json diff has both families; restore/unified take family=IPv6', async () => {
    const d = (await get(`/v1/clusters/${cluster}/diff?from=1&to=2`)).json()
    expect(d.families.map((f: { family: string }) => f.family)).toEqual(['IPv4', 'IPv6'])
    expect(d.families[1].summary.servicePortsChanged).toBe(1)
    expect(d.summary.servicePortsChanged).toBe(2)
    const res = await get(`/v1/clusters/${cluster}/diff?from=1&to=2&format=restore&family=IPv6`)
    expect(res.headers['x-natplan-family']).toBe('IPv6')
    const a = await t.services.getPlan(cluster, 1)
    const b = await t.services.getPlan(cluster, 2)
    expect(res.body).toBe(minimalRestore(a.families[1]!, b.families[1]!))
    expect(res.body).toContain('fd00:10:96::71')
    const uni = (await get(`/v1/clusters/${cluster}/diff?from=1&to=2&format=unified&family=IPv6`)).body
    expect(uni).toMatch(/^\+-A KUBE-SERVICES .*--dport 8080/m)
  })

  it('backups hold both families; the round trip keeps both byte-identical', async () => {
    const before = [await script(1, 'IPv4'), await script(1, 'IPv6'), await script(2, 'IPv4'), await script(2, 'IPv6')]
    const b = (await t.app.inject({ method: 'POST', url: `/v1/clusters/${cluster}/backups`, payload: {} })).json()
    expect(b.manifest.versions[0].restore).toEqual(['versions/1/restore.rules', 'versions/1/restore-ipv6.rules'])
    const archive = (await get(`/v1/backups/${b.id}/download`)).rawPayload
    const files = new Map<string, string>()
    const extract = tar.extract()
    const done = (async () => {
      for await (const e of extract) {
        const parts: Buffer[] = []
        for await (const c of e) parts.push(c as Buffer)
        files.set(e.header.name, Buffer.concat(parts).toString())
      }
    })()
    extract.end(gunzipSync(archive))
    await done
    expect(files.get('versions/2/restore-ipv6.rules')).toBe(before[3])

    expect((await t.app.inject({ method: 'DELETE', url: `/v1/clusters/${cluster}` })).statusCode).toBe(200)
    const imp = await t.app.inject({
      method: 'POST',
      url: `/v1/backups/import?cluster=${cluster}`,
      payload: archive,
      headers: { 'content-type': 'application/gzip' },
    })
    expect(imp.statusCode).toBe(201)
    expect(imp.json().replanned).toEqual([])
    expect([await script(1, 'IPv4'), await script(1, 'IPv6'), await script(2, 'IPv4'), await script(2, 'IPv6')]).toEqual(before)
  })
})
