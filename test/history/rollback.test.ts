/**
 * POST /v1/clusters/{c}/rollbacks and GET /v1/clusters/{c}/history, through the real app:
 * a rollback is a new version by reference, 409 when it would change nothing, and concurrent
 * rollbacks and ingests never share a version number.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ingest, restoreScript, smallEnvelope, startHistoryApp, uniqueName, type HistoryTestApp } from './helpers.js'

let t: HistoryTestApp
beforeAll(async () => {
  t = await startHistoryApp({}, 10)
})
afterAll(async () => t?.close())

const post = (url: string, payload: object) => t.app.inject({ method: 'POST', url, payload })
const get = (url: string) => t.app.inject({ method: 'GET', url })

describe('rollback', () => {
  const cluster = uniqueName('hrb')

  beforeAll(async () => {
    await ingest(t.app, cluster, smallEnvelope({ endpoints: ['10.1.0.5'] }))
    await ingest(t.app, cluster, smallEnvelope({ endpoints: ['10.1.0.6'] }))
  })

  it('adds a version with the old content, by reference, and links the full and minimal restores', async () => {
    const res = await post(`/v1/clusters/${cluster}/rollbacks`, { toVersion: 1, reason: 'bad rollout of web' })
    expect(res.statusCode).toBe(201)
    const body = res.json()
    expect(body.version).toMatchObject({ version: 3, kind: 'rollback', sourceVersion: 1, reason: 'bad rollout of web', actor: 'anonymous' })
    expect(body.replaced).toBe(2)
    expect(body.links.restoreScript).toBe(`/v1/clusters/${cluster}/versions/3/restore-script`)
    expect(body.links.minimalRestore).toBe(`/v1/clusters/${cluster}/diff?from=2&to=3&format=restore`)
    expect(res.headers.location).toBe(`/v1/clusters/${cluster}/versions/3`)
    const v1 = (await get(`/v1/clusters/${cluster}/versions/1`)).json()
    expect(body.version.planSha256).toBe(v1.planSha256)
    expect(body.version.snapshotSha256).toBe(v1.snapshotSha256)
    expect(await restoreScript(t.app, cluster, 3)).toBe(await restoreScript(t.app, cluster, 1))
    // By reference: the same snapshot and plan rows, nothing copied.
    const rows = await t.db.pool.query(
      `SELECT count(DISTINCT v.plan_id) AS plans, count(DISTINCT v.snapshot_id) AS snaps FROM versions v JOIN clusters c ON c.id = v.cluster_id
       WHERE c.name = $1 AND v.number IN (1, 3)`,
      [cluster],
    )
    expect(rows.rows[0]).toEqual({ plans: '1', snaps: '1' })
    // The linked minimal restore works.
    const delta = await get(body.links.minimalRestore)
    expect(delta.statusCode).toBe(200)
    expect(delta.body).toContain('10.1.0.5')
  })

  it('rolling back to the current content is a 409 problem saying so', async () => {
    const res = await post(`/v1/clusters/${cluster}/rollbacks`, { toVersion: 1, reason: 'again' })
    expect(res.statusCode).toBe(409)
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/)
    expect(res.json().detail).toMatch(/already has the content of version 1/)
    expect((await post(`/v1/clusters/${cluster}/rollbacks`, { toVersion: 3, reason: 'self' })).statusCode).toBe(409)
  })

  it('unknown version or cluster is 404; bad bodies are 400 with pointers', async () => {
    expect((await post(`/v1/clusters/${cluster}/rollbacks`, { toVersion: 42, reason: 'x' })).statusCode).toBe(404)
    expect((await post(`/v1/clusters/${uniqueName('none')}/rollbacks`, { toVersion: 1, reason: 'x' })).statusCode).toBe(404)
    for (const payload of [
      { toVersion: 1 },
      { toVersion: 0, reason: 'x' },
      { toVersion: 'one', reason: 'x' },
      { reason: 'x' },
      { toVersion: 1, reason: '   ' },
    ]) {
      const res = await post(`/v1/clusters/${cluster}/rollbacks`, payload)
      expect(res.statusCode, JSON.stringify(payload)).toBe(400)
      expect(res.json().errors[0].pointer, JSON.stringify(payload)).toMatch(/^\/(toVersion|reason)$/)
    }
  })

  it('history lists every event newest first, with actor, versions and reason', async () => {
    await ingest(t.app, cluster, smallEnvelope({ endpoints: ['10.1.0.5'] })) // identical to latest (v3): duplicate
    const res = await get(`/v1/clusters/${cluster}/history`)
    expect(res.statusCode).toBe(200)
    const items = res.json().items as Array<Record<string, any>>
    expect(items.map((e) => e.type)).toEqual(['snapshot.duplicate', 'rollback', 'snapshot.ingested', 'snapshot.ingested'])
    expect(items[0]).toMatchObject({ version: 3, actor: 'anonymous' })
    expect(items[1]).toMatchObject({ type: 'rollback', version: 3, fromVersion: 2, toVersion: 1, reason: 'bad rollout of web' })
    expect(items.map((e) => e.version)).toEqual([3, 3, 2, 1])
    for (const e of items) expect(Date.parse(e.createdAt)).not.toBeNaN()
  })

  it('history filters by type and time range and paginates with a cursor', async () => {
    const only = (await get(`/v1/clusters/${cluster}/history?type=snapshot.ingested,rollback`)).json().items
    expect(only.map((e: { type: string }) => e.type)).toEqual(['rollback', 'snapshot.ingested', 'snapshot.ingested'])
    const future = new Date(Date.now() + 3_600_000).toISOString()
    expect((await get(`/v1/clusters/${cluster}/history?since=${encodeURIComponent(future)}`)).json().items).toEqual([])
    expect((await get(`/v1/clusters/${cluster}/history?until=${encodeURIComponent(future)}`)).json().items).toHaveLength(4)
    const seen: string[] = []
    let url = `/v1/clusters/${cluster}/history?limit=3`
    for (let i = 0; i < 5 && url; i++) {
      const page = (await get(url)).json()
      seen.push(...page.items.map((e: { id: string }) => e.id))
      url = page.links.next
    }
    expect(seen).toHaveLength(4)
    expect(new Set(seen).size).toBe(4)
    expect([...seen].sort((a, b) => Number(b) - Number(a))).toEqual(seen)
  })

  it('history rejects unknown types, bad times and bad cursors with 400; unknown clusters 404', async () => {
    for (const q of ['type=snapshot.deleted', 'since=yesterday', 'cursor=%%%', 'limit=0']) {
      expect((await get(`/v1/clusters/${cluster}/history?${q}`)).statusCode, q).toBe(400)
    }
    expect((await get(`/v1/clusters/${uniqueName('none')}/history`)).statusCode).toBe(404)
  })
})

describe('races', () => {
  it('~20 concurrent rollbacks and ingests never share a version number', async () => {
    const cluster = uniqueName('hrace')
    for (let i = 0; i < 3; i++) await ingest(t.app, cluster, smallEnvelope({ endpoints: [`10.2.0.${i + 1}`] }))
    const requests = Array.from({ length: 20 }, (_, i) =>
      i % 2 === 0
        ? post(`/v1/clusters/${cluster}/snapshots`, smallEnvelope({ endpoints: [`10.3.0.${i + 1}`] }))
        : post(`/v1/clusters/${cluster}/rollbacks`, { toVersion: 1 + (i % 3), reason: `race ${i}` }),
    )
    const results = await Promise.all(requests)
    const created: number[] = []
    for (const r of results) {
      // A rollback may find the latest already equal to its target (409); nothing else is allowed.
      expect([200, 201, 409]).toContain(r.statusCode)
      if (r.statusCode === 201) created.push(r.json().version.version)
    }
    expect(new Set(created).size).toBe(created.length)
    const versions = await t.db.pool.query<{ number: number; kind: string }>(
      'SELECT v.number, v.kind FROM versions v JOIN clusters c ON c.id = v.cluster_id WHERE c.name = $1 ORDER BY v.number',
      [cluster],
    )
    // Gap-free 1..N, every created number present exactly once.
    expect(versions.rows.map((r) => r.number)).toEqual(Array.from({ length: versions.rows.length }, (_, i) => i + 1))
    expect(versions.rows.length).toBe(3 + created.length)
    expect(versions.rows.filter((r) => r.kind === 'snapshot').length).toBe(13)
    // One history event per created version, in the same transactions.
    const events = await t.db.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM history_events e JOIN clusters c ON c.id = e.cluster_id
       WHERE c.name = $1 AND e.type IN ('snapshot.ingested', 'rollback')`,
      [cluster],
    )
    expect(Number(events.rows[0]!.n)).toBe(versions.rows.length)
  })
})
