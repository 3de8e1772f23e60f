import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { plan, renderRestore, toEnvelope } from '../../src/planner/index.js'
import { canonicalEnvelope } from '../../src/services/content.js'
import { generateSnapshot } from '../../src/planner/testing/generate.js'
import type { Database } from '../../src/db/index.js'
import { BadRequestError, NotFoundError, ValidationError } from '../../src/errors.js'
import type { Services } from '../../src/services/contract.js'
import { decodeIds } from '../../src/store/manifest.js'
import { uniqueName } from '../helpers/db.js'
import { openTestServices } from '../helpers/services.js'

let db: Database
let services: Services
beforeAll(async () => {
  ;({ db, services } = await openTestServices())
})
afterAll(async () => db?.close())

async function bodyText(body: Buffer | AsyncIterable<string | Buffer>): Promise<string> {
  if (Buffer.isBuffer(body)) return body.toString('utf8')
  let s = ''
  for await (const c of body) s += c.toString()
  return s
}

describe('ingest and read back', () => {
  const cluster = uniqueName('roundtrip')
  const doc = generateSnapshot({ services: 30, endpointsPerService: 4, nodePort: 0.3 })

  it('stores version 1 with precomputed counts', async () => {
    const res = await services.ingest({ cluster, document: doc, actor: 'alice' })
    expect(res.created).toBe(true)
    const v = res.version
    expect(v).toMatchObject({ cluster, version: 1, kind: 'snapshot', actor: 'alice', reason: null, sourceVersion: null })
    expect(v.snapshotSha256).toMatch(/^[0-9a-f]{64}$/)
    expect(v.planSha256).toMatch(/^[0-9a-f]{64}$/)
    expect(v.counts.services).toBe(30)
    expect(v.counts.endpoints).toBe(120)
    const parsed = toEnvelope(doc)
    if (!parsed.ok) throw new Error('generator produced an invalid snapshot')
    const script = renderRestore(plan(parsed.envelope).families[0]!)
    expect(v.counts.scriptBytes).toBe(Buffer.byteLength(script))
    const nat = v.counts.families.IPv4!.nat
    expect(nat.rules).toBe(script.split('\n').filter((l) => l.startsWith('-A ')).length - v.counts.families.IPv4!.filter.rules)
    expect(nat.chains).toBeGreaterThan(30)
  })

  it('returns the normalised snapshot, the plan and the restore script byte for byte', async () => {
    const parsed = toEnvelope(doc)
    if (!parsed.ok) throw new Error('generator produced an invalid snapshot')
    expect(await services.getSnapshot(cluster, 1)).toEqual(JSON.parse(JSON.stringify(canonicalEnvelope(parsed.envelope))))
    const expectedPlan = plan(parsed.envelope)
    expect(await services.getPlan(cluster, 'latest')).toEqual(expectedPlan)
    const rs = await services.getRestoreScript(cluster, 1)
    expect(rs.filename).toBe(`${cluster}-v1.rules`)
    expect(rs.etag).toMatch(/^"[0-9a-f]{40}"$/)
    expect(await bodyText(rs.body)).toBe(renderRestore(expectedPlan.families[0]!))
    const nat = await services.getRestoreScript(cluster, 1, { table: 'nat' })
    expect(nat.etag).not.toBe(rs.etag)
    expect(await bodyText(nat.body)).toBe(renderRestore(expectedPlan.families[0]!, { table: 'nat' }))
    const again = await services.getRestoreScript(cluster, 'latest')
    expect(again.etag).toBe(rs.etag)
    await expect(services.getRestoreScript(cluster, 1, { family: 'IPv6' })).rejects.toBeInstanceOf(NotFoundError)
  })

  it('an identical snapshot creates nothing', async () => {
    const res = await services.ingest({ cluster, document: structuredClone(doc), actor: 'bob' })
    expect(res.created).toBe(false)
    expect(res.version.version).toBe(1)
    expect(res.version.actor).toBe('alice')
    const page = await services.listVersions(cluster)
    expect(page.items).toHaveLength(1)
  })

  it('rejects an invalid snapshot with pointers and stores nothing', async () => {
    const bad = structuredClone(doc) as { resources: { items: Array<Record<string, any>> } }
    const idx = bad.resources.items.findIndex((o) => o.kind === 'Service')
    bad.resources.items[idx]!.spec.ports[0].port = 'eighty'
    const other = uniqueName('invalid')
    const err = await services.ingest({ cluster: other, document: bad, actor: 'x' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ValidationError)
    expect((err as ValidationError).issues[0]!.pointer).toBe(`/resources/items/${idx}/spec/ports/0/port`)
    await expect(services.listVersions(other)).rejects.toBeInstanceOf(NotFoundError)
  })

  it('answers 404-style errors for unknown clusters and versions, 400 for bad refs', async () => {
    await expect(services.getVersion(uniqueName('nope'), 'latest')).rejects.toThrow(/not found/)
    await expect(services.getVersion(cluster, 99)).rejects.toThrow(/has no version 99/)
    await expect(services.getVersion(cluster, 0)).rejects.toBeInstanceOf(BadRequestError)
  })
})

describe('concurrency', () => {
  it('20 concurrent ingests of different snapshots get versions 1..20, none lost', async () => {
    const cluster = uniqueName('concurrent')
    const docs = Array.from({ length: 20 }, (_, i) => generateSnapshot({ services: 20, churn: 0.2, round: i }))
    const results = await Promise.all(docs.map((document, i) => services.ingest({ cluster, document, actor: `agent-${i}` })))
    expect(results.every((r) => r.created)).toBe(true)
    expect(results.map((r) => r.version.version).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
    const page = await services.listVersions(cluster, { limit: 500 })
    expect(page.items.map((v) => v.version)).toEqual(Array.from({ length: 20 }, (_, i) => 20 - i))
    // every stored version holds exactly what its request sent
    for (const r of results) {
      const i = Number(r.version.actor.slice('agent-'.length))
      const parsed = toEnvelope(docs[i])
      if (!parsed.ok) throw new Error('invalid generated snapshot')
      expect(await services.getSnapshot(cluster, r.version.version)).toEqual(JSON.parse(JSON.stringify(canonicalEnvelope(parsed.envelope))))
    }
  })

  it('10 concurrent identical ingests create exactly one version', async () => {
    const cluster = uniqueName('identical')
    const doc = generateSnapshot({ services: 25, seed: 7 })
    const results = await Promise.all(Array.from({ length: 10 }, () => services.ingest({ cluster, document: structuredClone(doc), actor: 'a' })))
    expect(results.filter((r) => r.created)).toHaveLength(1)
    expect(new Set(results.map((r) => r.version.version))).toEqual(new Set([1]))
  })
})

describe('content addressing', () => {
  async function manifests(cluster: string, version: number): Promise<{ objects: number[]; segments: number[] }> {
    const res = await db.pool.query(
      `SELECT s.manifest AS o, p.manifest AS p FROM versions v JOIN clusters c ON c.id = v.cluster_id
       JOIN snapshots s ON s.id = v.snapshot_id JOIN plans p ON p.id = v.plan_id WHERE c.name = $1 AND v.number = $2`,
      [cluster, version],
    )
    return { objects: decodeIds(res.rows[0].o), segments: decodeIds(res.rows[0].p) }
  }

  it('a second version with 1% churn references ~99% of the first one’s rows', async () => {
    const cluster = uniqueName('churn')
    const base = { services: 1000, endpointsPerService: 3, churn: 0.01 }
    await services.ingest({ cluster, document: generateSnapshot(base), actor: 'a' })
    const second = await services.ingest({ cluster, document: generateSnapshot({ ...base, round: 1 }), actor: 'a' })
    expect(second.created).toBe(true)
    const [m1, m2] = [await manifests(cluster, 1), await manifests(cluster, 2)]
    const newObjects = m2.objects.filter((id) => !new Set(m1.objects).has(id)).length
    const newSegments = m2.segments.filter((id) => !new Set(m1.segments).has(id)).length
    // ~10 services changed: their EndpointSlices and segments are new, nothing else.
    expect(newObjects).toBeGreaterThan(0)
    expect(newObjects).toBeLessThanOrEqual(0.02 * m2.objects.length)
    expect(newSegments).toBeGreaterThan(0)
    expect(newSegments).toBeLessThanOrEqual(0.02 * m2.segments.length)
  })

  it('the same plan in two clusters is stored once', async () => {
    const doc = generateSnapshot({ services: 10, seed: 3 })
    const a = await services.ingest({ cluster: uniqueName('twin-a'), document: doc, actor: 'a' })
    const b = await services.ingest({ cluster: uniqueName('twin-b'), document: doc, actor: 'a' })
    expect(a.version.planSha256).toBe(b.version.planSha256)
    const rows = await db.pool.query(`SELECT count(*)::int AS n FROM plans WHERE sha256 = decode($1, 'hex')`, [a.version.planSha256])
    expect(rows.rows[0].n).toBe(1)
  })
})

describe('listings', () => {
  const cluster = uniqueName('pages')
  beforeAll(async () => {
    for (let i = 0; i < 12; i++) {
      await services.ingest({ cluster, document: generateSnapshot({ services: 5, churn: 0.5, round: i }), actor: 'p' })
    }
  })

  it('lists versions newest first with cursor pagination', async () => {
    const seen: number[] = []
    let cursor: string | undefined
    let pages = 0
    do {
      const page = await services.listVersions(cluster, { limit: 5, cursor })
      seen.push(...page.items.map((v) => v.version))
      cursor = page.next ?? undefined
      pages++
    } while (cursor)
    expect(pages).toBe(3)
    expect(seen).toEqual([12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1])
    await expect(services.listVersions(cluster, { cursor: 'garbage' })).rejects.toBeInstanceOf(BadRequestError)
    await expect(services.listVersions(cluster, { limit: 501 })).rejects.toBeInstanceOf(BadRequestError)
  })

  it('batch-loads versions in one call, null for missing ones', async () => {
    const got = await services.getVersions([
      { cluster, version: 3 },
      { cluster: uniqueName('ghost'), version: 1 },
      { cluster, version: 12 },
      { cluster, version: 13 },
    ])
    expect(got.map((v) => v?.version ?? null)).toEqual([3, null, 12, null])
  })

  it('lists clusters with their latest version, and gauges per family and table', async () => {
    const all: string[] = []
    let cursor: string | undefined
    do {
      const page = await services.listClusters({ limit: 3, cursor })
      all.push(...page.items.map((c) => c.name))
      const mine = page.items.find((c) => c.name === cluster)
      if (mine) expect(mine).toMatchObject({ latestVersion: 12, versions: 12 })
      cursor = page.next ?? undefined
    } while (cursor)
    expect(all).toContain(cluster)
    expect([...all].sort()).toEqual(all)
    const gauges = (await services.clusterGauges()).filter((g) => g.cluster === cluster)
    expect(gauges.map((g) => `${g.family}/${g.table}`).sort()).toEqual(['IPv4/filter', 'IPv4/nat'])
    expect(gauges.every((g) => g.version === 12)).toBe(true)
    expect(gauges.find((g) => g.table === 'nat')!.rules).toBeGreaterThan(0)
  })

  it('is ready when the database is reachable and migrated', async () => {
    expect(await services.readiness()).toEqual({ ok: true, detail: expect.stringContaining('migrations applied') })
  })
})
