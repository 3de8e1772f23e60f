/**
 * Retention: POST /v1/clusters/{c}/prune (admin) and the NATPLAN_RETAIN_* sweep. Never the
 * latest version; unreferenced snapshots/plans/objects/segments are collected while content a
 * remaining version (or another cluster) uses survives; a versions.pruned event is written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseTokens } from '../../src/config.js'
import { sweepRetention } from '../../src/services/retention.js'
import { loadConfig, parseRetention } from '../../src/config.js'
import { ingest, restoreScript, smallEnvelope, startHistoryApp, uniqueName, type HistoryTestApp } from './helpers.js'

const ADMIN = 'admin-secret-01234567890'
const WRITER = 'writer-secret-0123456789'
let t: HistoryTestApp
beforeAll(async () => {
  t = await startHistoryApp({ tokens: parseTokens(`root:admin:${ADMIN},writer:write:${WRITER}`) })
})
afterAll(async () => t?.close())

const as = (token: string) => ({ authorization: `Bearer ${token}` })
const prune = (cluster: string, payload: object, token = ADMIN) =>
  t.app.inject({ method: 'POST', url: `/v1/clusters/${cluster}/prune`, payload, headers: as(token) })

async function numbers(cluster: string): Promise<number[]> {
  const r = await t.db.pool.query<{ number: number }>('SELECT v.number FROM versions v JOIN clusters c ON c.id = v.cluster_id WHERE c.name = $1 ORDER BY 1', [
    cluster,
  ])
  return r.rows.map((x) => x.number)
}

/** Five versions, each with a unique endpoint (unique objects and segments). */
async function seed(cluster: string, prefix: string): Promise<void> {
  for (let i = 1; i <= 5; i++) await ingest(t.app, cluster, smallEnvelope({ endpoints: [`${prefix}.${i}`] }), WRITER)
}

async function contentExists(table: 'objects' | 'segments', needle: string): Promise<boolean> {
  const col = table === 'objects' ? 'body' : 'nat_rules'
  const r = await t.db.pool.query(`SELECT 1 FROM ${table} WHERE ${col} LIKE $1 LIMIT 1`, [`%${needle}%`])
  return (r.rowCount ?? 0) > 0
}

describe('prune', () => {
  it('keeps the newest N, collects what nothing references, records versions.pruned', async () => {
    const cluster = uniqueName('hret')
    await seed(cluster, '10.7.0')
    const latestScript = await restoreScript(t.app, cluster, 5, ADMIN)
    expect(await contentExists('objects', '"10.7.0.1"')).toBe(true)
    const res = await prune(cluster, { keep: 2, reason: 'disk' })
    expect(res.statusCode).toBe(200)
    const body = res.json()
    expect(body.pruned).toEqual([1, 2, 3])
    expect(body.kept).toBe(2)
    expect(body.collected.snapshots).toBe(3)
    expect(body.collected.plans).toBe(3)
    expect(body.collected.objects).toBeGreaterThanOrEqual(3)
    expect(body.collected.segments).toBeGreaterThanOrEqual(3)
    expect(await numbers(cluster)).toEqual([4, 5])
    // Listings count what is left, not the numbering counter (REST and GraphQL alike).
    const listed = (await t.app.inject({ method: 'GET', url: '/v1/clusters?limit=500', headers: as(ADMIN) })).json().items
    expect(listed.find((c: { name: string }) => c.name === cluster)).toMatchObject({ latestVersion: 5, versions: 2 })
    const gql = await t.app.inject({
      method: 'POST',
      url: '/graphql',
      headers: as(ADMIN),
      payload: { query: `{ cluster(name: "${cluster}") { name versionCount createdAt } }` },
    })
    expect(gql.json().data.cluster).toMatchObject({ name: cluster, versionCount: 2 })
    expect(gql.json().data.cluster.createdAt).toMatch(/^\d{4}-/)
    expect(await contentExists('objects', '"10.7.0.1"')).toBe(false)
    expect(await contentExists('segments', '10.7.0.1:')).toBe(false)
    expect(await contentExists('objects', '"10.7.0.4"')).toBe(true)
    expect(await restoreScript(t.app, cluster, 5, ADMIN)).toBe(latestScript)
    expect((await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/versions/2`, headers: as(ADMIN) })).statusCode).toBe(404)
    const events = (await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/history?type=versions.pruned`, headers: as(ADMIN) })).json().items
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({ actor: 'root', reason: 'disk', fromVersion: 1, toVersion: 3, details: { versions: [1, 2, 3], keep: 2 } })
    // A diff against a pruned version is a 404, against kept ones still works.
    expect((await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/diff?from=1&to=5`, headers: as(ADMIN) })).statusCode).toBe(404)
    expect((await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/diff?from=4&to=5`, headers: as(ADMIN) })).statusCode).toBe(200)
  })

  it('never the latest, and never content another version or cluster still uses', async () => {
    const a = uniqueName('hreta')
    const b = uniqueName('hretb')
    await seed(a, '10.8.0')
    await ingest(t.app, b, smallEnvelope({ endpoints: ['10.8.0.1'] }), WRITER) // shares a's v1 content
    await t.app.inject({ method: 'POST', url: `/v1/clusters/${a}/rollbacks`, payload: { toVersion: 2, reason: 'r' }, headers: as(WRITER) })
    const res = await prune(a, { olderThan: new Date(Date.now() + 60_000).toISOString() })
    expect(res.json().pruned).toEqual([1, 2, 3, 4, 5])
    expect(await numbers(a)).toEqual([6])
    // v6 is a rollback to v2: v2's content must survive v2's pruning; b still uses v1's.
    expect(await restoreScript(t.app, a, 6, ADMIN)).toContain('10.8.0.2')
    expect(await restoreScript(t.app, b, 1, ADMIN)).toContain('10.8.0.1')
    expect(await contentExists('objects', '"10.8.0.3"')).toBe(false)
    expect((await prune(a, { keep: 1 })).json().pruned).toEqual([])
  })

  it('needs admin; bad bodies are 400 with a pointer; unknown cluster 404', async () => {
    const cluster = uniqueName('hretx')
    await ingest(t.app, cluster, smallEnvelope(), WRITER)
    expect((await prune(cluster, { keep: 1 }, WRITER)).statusCode).toBe(403)
    for (const payload of [{}, { keep: 0 }, { keep: 'all' }, { olderThan: 'last week' }]) {
      const res = await prune(cluster, payload)
      expect(res.statusCode, JSON.stringify(payload)).toBe(400)
      expect(res.json().errors[0].pointer).toMatch(/^\/(keep|olderThan)$/)
    }
    expect((await prune(uniqueName('none'), { keep: 1 })).statusCode).toBe(404)
    expect((await t.app.inject({ method: 'DELETE', url: `/v1/clusters/${cluster}`, headers: as(WRITER) })).statusCode).toBe(403)
  })

  it('a dry run lists what would go and deletes nothing; a misspelt field is refused, not ignored', async () => {
    const cluster = uniqueName('hretdry')
    await seed(cluster, '10.7.9')
    const dry = await prune(cluster, { keep: 1, dryRun: true })
    expect(dry.statusCode).toBe(200)
    expect(dry.json()).toMatchObject({ dryRun: true, pruned: [1, 2, 3, 4], kept: 1, collected: { snapshots: 0, plans: 0, objects: 0, segments: 0 } })
    expect(await numbers(cluster)).toEqual([1, 2, 3, 4, 5])
    // Once, `dryRun` was dropped as unknown and six versions went: unknown fields are 400s now.
    const typo = await prune(cluster, { keep: 1, dry_run: true })
    expect(typo.statusCode).toBe(400)
    expect(typo.json().errors).toEqual([expect.objectContaining({ pointer: '/dry_run', detail: 'unknown field "dry_run"', location: 'body' })])
    expect(await numbers(cluster)).toEqual([1, 2, 3, 4, 5])
    const events = (await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/history?type=versions.pruned`, headers: as(ADMIN) })).json().items
    expect(events).toEqual([])
    // GraphQL alike.
    const gql = await t.app.inject({
      method: 'POST',
      url: '/graphql',
      headers: as(ADMIN),
      payload: { query: `mutation { prune(cluster: "${cluster}", keep: 2, dryRun: true) { dryRun pruned kept } }` },
    })
    expect(gql.json().data.prune).toEqual({ dryRun: true, pruned: [1, 2, 3], kept: 2 })
    expect(await numbers(cluster)).toEqual([1, 2, 3, 4, 5])
  })
})

describe('unknown query parameters', () => {
  it('are 400s naming them, on routes with and without parameters', async () => {
    const cluster = uniqueName('hstrict')
    await ingest(t.app, cluster, smallEnvelope(), WRITER)
    for (const url of [
      `/v1/clusters/${cluster}/versions/1?fromat=json`,
      `/v1/clusters/${cluster}/versions/1/restore-script?tabel=nat`,
      `/v1/clusters/${cluster}/history?since=2026-01-01T00:00:00Z&form=x`,
      `/v1/clusters?limit=5&fromat=1`,
    ]) {
      const res = await t.app.inject({ method: 'GET', url, headers: as(ADMIN) })
      expect(res.statusCode, url).toBe(400)
      const name = [...new URL(url, 'http://x').searchParams.keys()].find((k) => !['since', 'limit'].includes(k))!
      expect(res.json().errors, url).toEqual([expect.objectContaining({ pointer: `/${name}`, location: 'query', detail: `unknown query parameter "${name}"` })])
    }
  })
})

describe('retention policy from the environment', () => {
  it('parses NATPLAN_RETAIN_* and rejects nonsense', () => {
    expect(parseRetention({})).toEqual({ keepVersions: undefined, keepDays: undefined, intervalSeconds: 3600, dryRun: false })
    expect(parseRetention({ NATPLAN_RETAIN_VERSIONS: '30', NATPLAN_RETAIN_DAYS: '7', NATPLAN_RETAIN_INTERVAL: '0' })).toEqual({
      keepVersions: 30,
      keepDays: 7,
      intervalSeconds: 0,
      dryRun: false,
    })
    expect(() => parseRetention({ NATPLAN_RETAIN_VERSIONS: '0' })).toThrow(/NATPLAN_RETAIN_VERSIONS/)
    expect(() => parseRetention({ NATPLAN_RETAIN_DAYS: 'soon' })).toThrow(/NATPLAN_RETAIN_DAYS/)
    // part of the process configuration, checked at start like the rest
    expect(loadConfig({ NATPLAN_RETAIN_VERSIONS: '5' }).retention).toEqual({ keepVersions: 5, keepDays: undefined, intervalSeconds: 3600, dryRun: false })
    expect(() => parseRetention({ NATPLAN_RETAIN_DRY_RUN: 'maybe' })).toThrow(/NATPLAN_RETAIN_DRY_RUN/)
    expect(() => loadConfig({ NATPLAN_RETAIN_INTERVAL: '-1' })).toThrow(/NATPLAN_RETAIN_INTERVAL/)
  })

  it('GET /v1/retention previews the policy per cluster and deletes nothing', async () => {
    const cluster = uniqueName('hpreview')
    await seed(cluster, '10.9.9')
    const p = await startHistoryApp({ tokens: parseTokens(`root:admin:${ADMIN}`), retention: { keepVersions: 2, intervalSeconds: 0 } })
    try {
      const res = await p.app.inject({ method: 'GET', url: '/v1/retention', headers: as(ADMIN) })
      expect(res.statusCode).toBe(200)
      expect(res.json().policy).toEqual({ keepVersions: 2, keepDays: null, intervalSeconds: 0, dryRun: false })
      expect(res.json().clusters.find((c: { cluster: string }) => c.cluster === cluster)).toMatchObject({ dryRun: true, pruned: [1, 2, 3], kept: 2 })
      expect(await numbers(cluster)).toEqual([1, 2, 3, 4, 5])
      // NATPLAN_RETAIN_DRY_RUN: the policy's own sweeps only say what they would do.
      expect(parseRetention({ NATPLAN_RETAIN_DAYS: '7', NATPLAN_RETAIN_DRY_RUN: 'true' }).dryRun).toBe(true)
      const dry = await sweepRetention(t.db.pool, { keepVersions: 1, intervalSeconds: 0, dryRun: true }, new Date(), [cluster])
      expect(dry).toEqual([expect.objectContaining({ cluster, dryRun: true, pruned: [1, 2, 3, 4] })])
      expect(await numbers(cluster)).toEqual([1, 2, 3, 4, 5])
      expect((await p.app.inject({ method: 'GET', url: '/v1/retention', headers: as('nope-not-a-token-000000') })).statusCode).toBe(401)
    } finally {
      await p.close()
    }
  })

  it('a sweep prunes every cluster by count and age, as actor "retention"', async () => {
    const cluster = uniqueName('hsweep')
    await seed(cluster, '10.9.0')
    // Scoped to this test's cluster: test files share the database.
    const results = await sweepRetention(t.db.pool, { keepVersions: 3, intervalSeconds: 0 }, new Date(), [cluster])
    const mine = results.find((r) => r.cluster === cluster)
    expect(mine?.pruned).toEqual([1, 2])
    // 1 day from now, every version is "older than 0 days" except the latest, which stays.
    const later = new Date(Date.now() + 86_400_000 * 2)
    await sweepRetention(t.db.pool, { keepDays: 1, intervalSeconds: 0 }, later, [cluster])
    expect(await numbers(cluster)).toEqual([5])
    const events = (await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/history?type=versions.pruned`, headers: as(ADMIN) })).json().items
    expect(events.map((e: { actor: string }) => e.actor)).toEqual(['retention', 'retention'])
  })
})
