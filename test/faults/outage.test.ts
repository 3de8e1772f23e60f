/**
 * Faults, for real: our own PostgreSQL restarted, stopped and started again under mixed load
 * (idle connections sitting in the pool that pg and Prisma's adapter share), restarted in the
 * middle of a large ingest, and the natplan server killed with SIGKILL mid-ingest. While the
 * database is away requests answer 503 problem+json with Retry-After and /readyz says why;
 * nothing is half-written; service resumes by itself; every version is whole (its restore script
 * is what the planner makes of its stored snapshot) and numbered without gaps.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { planCluster, nodePlan, renderRestore, toEnvelope } from '../../src/planner/index.js'
import { generateSnapshot } from '../../src/planner/testing/generate.js'
import { faultsUnavailable, mixedLoad, request, ServerProcess, sleep, ThrowawayPostgres, type Outcome } from './harness.js'

const reason = await faultsUnavailable()
if (reason) console.warn(`[faults] SKIPPING test/faults/outage.test.ts: ${reason}`)
const suite = reason ? describe.skip : describe

const small = (round: number) => generateSnapshot({ services: 30, endpointsPerService: 3, churn: 0.2, round })
const large = (round: number) => generateSnapshot({ services: 4000, endpointsPerService: 5, churn: 0.05, round })

/** Every version of `cluster`: numbered 1..N without gaps, each restore script the plan of its stored snapshot. */
async function expectWhole(base: string, cluster: string): Promise<number> {
  const numbers: number[] = []
  let url: string | null = `${base}/v1/clusters/${cluster}/versions?limit=500`
  while (url) {
    const page = JSON.parse((await request(url)).body) as { items: Array<{ version: number }>; links: { next?: string } }
    numbers.push(...page.items.map((v) => v.version))
    url = page.links.next ? `${base}${page.links.next}` : null
  }
  numbers.sort((a, b) => a - b)
  expect(numbers).toEqual(numbers.map((_, i) => i + 1))
  for (const v of numbers) {
    const snap = await request(`${base}/v1/clusters/${cluster}/versions/${v}/snapshot`)
    expect(snap.status, `snapshot of v${v}`).toBe(200)
    const r = toEnvelope(JSON.parse(snap.body))
    if (!r.ok) throw new Error(`stored snapshot of v${v} is not valid: ${JSON.stringify(r.issues.slice(0, 3))}`)
    const cp = planCluster(r.envelope)
    const script = await request(`${base}/v1/clusters/${cluster}/versions/${v}/restore-script`)
    expect(script.status, `restore script of v${v}`).toBe(200)
    expect(script.body, `v${v} is whole`).toBe(renderRestore(nodePlan(cp, cp.defaultNode!)!.families[0]!))
  }
  return numbers.length
}

/** What a client may see while the database goes away: success, or 503 problem+json with Retry-After. */
function expectOnly503s(outcomes: Outcome[]): void {
  const bad = outcomes.filter((o) => !(o.status >= 200 && o.status < 300) && o.status !== 503)
  expect(bad.map((o) => `${o.status} ${o.body.slice(0, 200)}`)).toEqual([])
  for (const o of outcomes.filter((x) => x.status === 503)) {
    expect(o.contentType).toContain('application/problem+json')
    expect(o.retryAfter).toMatch(/^\d+$/)
  }
}

async function waitUntil(what: string, ok: () => Promise<boolean>, ms = 30_000): Promise<number> {
  const t = Date.now()
  while (Date.now() - t < ms) {
    if (await ok()) return Date.now() - t
    await sleep(100)
  }
  throw new Error(`${what}: not within ${ms} ms`)
}

suite('faults: the database restarted, stopped and started under load', () => {
  const pg = new ThrowawayPostgres()
  let server: ServerProcess
  const cluster = 'faults'

  beforeAll(async () => {
    await pg.init()
    server = new ServerProcess({ DATABASE_URL: pg.url })
    await server.start()
    for (let i = 0; i < 3; i++)
      expect(
        (
          await request(`${server.base}/v1/clusters/${cluster}/snapshots`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(small(i)),
          })
        ).status,
      ).toBe(201)
  })
  afterAll(async () => {
    await server?.stop()
    await pg.destroy()
  })

  it('answers 503 with Retry-After while it is away, says why on /readyz, and resumes by itself', async () => {
    const load = mixedLoad(server.base, cluster, small)
    await sleep(1500)
    // A restart while connections sit idle in the pool.
    await pg.restart()
    await sleep(1500)
    await pg.stop()
    await sleep(300)
    const ready = await request(`${server.base}/readyz`)
    expect(ready.status, server.log.slice(-3000)).toBe(503)
    expect(ready.body).toMatch(/database/i)
    const during = await request(`${server.base}/v1/clusters/${cluster}/versions`)
    expect(during.status).toBe(503)
    await sleep(2500)
    await pg.start()
    const recovered = await waitUntil('requests succeed again', async () => (await request(`${server.base}/v1/clusters/${cluster}/versions`)).status === 200)
    console.log(`[faults] service resumed ${recovered} ms after PostgreSQL was back`)
    await sleep(1000)
    const outcomes = await load.stop()
    expect(server.alive, server.log).toBe(true)
    expect(outcomes.filter((o) => o.status === 201).length).toBeGreaterThan(3)
    expect(outcomes.some((o) => o.status === 503)).toBe(true)
    expectOnly503s(outcomes)
    expect((await request(`${server.base}/readyz`)).status).toBe(200)
    const n = await expectWhole(server.base, cluster)
    console.log(`[faults] ${outcomes.length} requests under load, ${outcomes.filter((o) => o.status === 503).length} answered 503; ${n} versions whole`)
  })

  it('survives a restart in the middle of a large ingest, which then goes through', async () => {
    const before = JSON.parse((await request(`${server.base}/v1/clusters/${cluster}/versions/latest`)).body).version as number
    const body = JSON.stringify(large(0))
    const post = request(`${server.base}/v1/clusters/${cluster}/snapshots`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    await sleep(800)
    await pg.restart()
    const first = await post
    expect([201, 503]).toContain(first.status)
    console.log(`[faults] the large ingest across a restart answered ${first.status}`)
    await waitUntil('the database is back', async () => (await request(`${server.base}/readyz`)).status === 200)
    const again = await request(`${server.base}/v1/clusters/${cluster}/snapshots`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    expect(again.status, again.body.slice(0, 300)).toBe(first.status === 201 ? 200 : 201)
    const latest = JSON.parse((await request(`${server.base}/v1/clusters/${cluster}/versions/latest`)).body).version as number
    expect(latest).toBe(before + 1)
    expect(server.alive, server.log).toBe(true)
    await expectWhole(server.base, cluster)
  })
})

suite('faults: the server killed with SIGKILL mid-ingest', () => {
  const pg = new ThrowawayPostgres()
  const cluster = 'killed'

  beforeAll(() => pg.init())
  afterAll(() => pg.destroy())

  it('never leaves a partial version (five kills at different moments)', async () => {
    let server = new ServerProcess({ DATABASE_URL: pg.url })
    await server.start()
    expect(
      (
        await request(`${server.base}/v1/clusters/${cluster}/snapshots`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(small(0)),
        })
      ).status,
    ).toBe(201)
    let created = 0
    for (const [i, delay] of [100, 400, 800, 1200, 2000].entries()) {
      const post = request(`${server.base}/v1/clusters/${cluster}/snapshots`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(large(i)),
      })
      await sleep(delay)
      await server.kill9()
      const r = await post
      if (r.status === 201) created++
      server = new ServerProcess({ DATABASE_URL: pg.url })
      await server.start()
      await expectWhole(server.base, cluster)
    }
    const versions = JSON.parse((await request(`${server.base}/v1/clusters/${cluster}/versions/latest`)).body).version as number
    // Each kill either lost its ingest or let it commit whole; nothing in between.
    expect(versions).toBeGreaterThanOrEqual(1 + created)
    console.log(`[faults] 5 kills mid-ingest: ${versions - 1} of 5 large ingests had committed, none partial`)
    await server.stop()
  })
})
