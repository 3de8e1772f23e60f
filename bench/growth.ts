/**
 * Growth benchmark (npm run bench:growth). On real PostgreSQL — TEST_DATABASE_URL's server when
 * set (a fresh database, dropped afterwards), otherwise an embedded PostgreSQL in a temp dir:
 *
 * 1. growth over 1,000 versions: one real ingest, then 999 more versions and 1,000 statistics rows
 *    written directly through the store (src/store/stats.ts), then the growth query — service call
 *    and HTTP (JSON, CSV, SVG) — timed. Goal: ≤ 50 ms.
 * 2. statistics vs planning: on a generated cluster (BENCH_SERVICES × BENCH_ENDPOINTS, default
 *    10,000 × 10), plan() time against computeVersionStats (planStats per family + deltaSize from
 *    a 1%-churn previous version + namespace counts), and the ingest hook as run in the ingest
 *    transaction (which also loads the previous plan from PostgreSQL). Goal: stats ≤ 10% of planning.
 *
 * Prints the figures; docs/growth.md records them.
 */
import { buildApp } from '../src/app.js'
import { defaultConfig } from '../src/config.js'
import { openDatabase } from '../src/db/index.js'
import { plan, toEnvelope, type PlanReuse } from '../src/planner/index.js'
import { generateSnapshot } from '../src/planner/testing/generate.js'
import type { Plan } from '../src/planner/types.js'
import { planContent } from '../src/services/content.js'
import { createServices } from '../src/services/index.js'
import { loadPlan } from '../src/store/plans.js'
import { canonicalJson, sha256Hex } from '../src/store/canonical.js'
import { insertVersionStats, type VersionStatsRecord } from '../src/store/stats.js'
import { planStats, type StatsMemo } from '../src/planner/analysis/stats.js'
import { computeVersionStats, deltaCounts, namespaceCounts, recordVersionStats, sharedMemo } from '../src/services/stats-record.js'
import { createThrowawayDatabase } from '../src/db/throwaway.js'

const VERSIONS = 1000
const SERVICES = Number(process.env.BENCH_SERVICES ?? 10_000)
const ENDPOINTS = Number(process.env.BENCH_ENDPOINTS ?? 10)

/** A fresh database on TEST_DATABASE_URL's server, or on an embedded PostgreSQL. */
async function server(): Promise<{ url: string; done(): Promise<void> }> {
  const db = await createThrowawayDatabase('bench_growth', process.env.TEST_DATABASE_URL)
  return { url: db.url, done: () => db.drop() }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

/** `before` runs ahead of each timed call, untimed (statsBench: a full GC, see there). */
async function timeIt(runs: number, fn: () => Promise<unknown> | unknown, before?: () => void): Promise<{ median: number; p95: number }> {
  const xs: number[] = []
  for (let i = 0; i < runs; i++) {
    before?.()
    const t = performance.now()
    await fn()
    xs.push(performance.now() - t)
  }
  const s = [...xs].sort((a, b) => a - b)
  return { median: median(xs), p95: s[Math.min(s.length - 1, Math.floor(s.length * 0.95))]! }
}

function row(label: string, value: string, goal = ''): void {
  console.log(`${label.padEnd(52)} ${value.padStart(18)}   ${goal}`)
}

/** 999 synthetic versions after a real one: a cluster growing ~10 services a day with noise. */
async function seedHistory(db: Awaited<ReturnType<typeof openDatabase>>, cluster: string): Promise<void> {
  const { rows } = await db.pool.query(
    `SELECT v.id, v.cluster_id, v.snapshot_id, v.plan_id, v.counts FROM versions v JOIN clusters c ON c.id = v.cluster_id WHERE c.name = $1 AND v.number = 1`,
    [cluster],
  )
  const v1 = rows[0]
  const start = Date.now() - VERSIONS * 3_600_000
  // Versions 2..1000 reuse version 1's content by reference (as a rollback would), one an hour.
  await db.pool.query(
    `INSERT INTO versions (cluster_id, number, kind, actor, reason, source_version, snapshot_id, plan_id, counts, created_at)
     SELECT $1, n, 'snapshot', 'bench', NULL, NULL, $2, $3, $4::jsonb, to_timestamp(($5::float8 + n::float8 * 3600000) / 1000)
       FROM generate_series(2, $6::int) AS n`,
    [v1.cluster_id, v1.snapshot_id, v1.plan_id, JSON.stringify(v1.counts), start, VERSIONS],
  )
  await db.pool.query('UPDATE clusters SET last_version = $2 WHERE id = $1', [v1.cluster_id, VERSIONS])
  await db.pool.query('UPDATE versions SET created_at = to_timestamp(($2::float8 + 3600000) / 1000) WHERE id = $1', [v1.id, start])
  await db.pool.query('DELETE FROM version_stats WHERE version_id = $1', [v1.id])
  const ids = await db.pool.query('SELECT id, number, created_at FROM versions WHERE cluster_id = $1 ORDER BY number', [v1.cluster_id])
  const records: VersionStatsRecord[] = ids.rows.map((r: { id: string; number: number; created_at: Date }) => {
    const services = 1000 + Math.round(r.number * 0.42 + 5 * Math.sin(r.number))
    const ports = Math.round(services * 1.3)
    const endpoints = ports * 3
    const nat = 4 + ports * 3 + endpoints * 2
    return {
      versionId: r.id,
      clusterId: v1.cluster_id,
      number: r.number,
      createdAt: r.created_at,
      services,
      servicePorts: ports,
      servicePortsByType: { ClusterIP: Math.round(ports * 0.8), NodePort: Math.round(ports * 0.15), LoadBalancer: Math.round(ports * 0.05) },
      endpoints,
      endpointsReady: endpoints - 3,
      endpointsServing: endpoints - 1,
      endpointsTerminating: 2,
      natChains: 4 + ports + endpoints,
      natRules: nat,
      filterChains: 7,
      filterRules: 10,
      scriptBytes: nat * 130,
      kubeServicesRules: ports + 1,
      avgRulesToDnat: ports / 2 + 4,
      worstRulesToDnat: ports + 8,
      servicesWithoutEndpoints: 3,
      deltaRules: r.number === 1 ? null : 40,
      deltaBytes: r.number === 1 ? null : 5200,
      namespaces: Object.fromEntries(
        Array.from({ length: 20 }, (_, i) => [
          `ns${i}`,
          {
            services: Math.round(services / 20),
            servicePorts: Math.round(ports / 20),
            endpoints: Math.round(endpoints / 20),
            chains: 100,
            rules: Math.round(nat / 20),
          },
        ]),
      ),
      detail: {},
    }
  })
  await insertVersionStats(db.pool, records)
}

async function growthBench(url: string): Promise<void> {
  const db = await openDatabase({ databaseUrl: url })
  const services = createServices(db)
  const app = await buildApp({ config: defaultConfig({ rateLimit: null }), services, logger: false })
  await app.ready()
  try {
    const cluster = 'bench-growth'
    await services.ingest({ cluster, document: generateSnapshot({ services: 50, seed: 2 }), actor: 'bench' })
    const seed = performance.now()
    await seedHistory(db, cluster)
    console.log(`\n1. growth over ${VERSIONS} versions (seeded through the store in ${(performance.now() - seed).toFixed(0)} ms)`)
    const growth = services.growth!
    const all = growth.metrics().map((m) => m.name)
    await growth.growth(cluster) // warm-up (and the backfill check)
    const g5 = await timeIt(50, () => growth.growth(cluster))
    row('service: 5 default metrics, 1,000 points', `${g5.median.toFixed(1)} ms (p95 ${g5.p95.toFixed(1)})`, 'goal ≤ 50 ms')
    const gAll = await timeIt(50, () => growth.growth(cluster, { metrics: all }))
    row(`service: all ${all.length} metrics, 1,000 points`, `${gAll.median.toFixed(1)} ms (p95 ${gAll.p95.toFixed(1)})`, 'goal ≤ 50 ms')
    for (const [label, url] of [
      ['HTTP GET …/growth (JSON, default metrics)', `/v1/clusters/${cluster}/growth`],
      ['HTTP GET …/growth?format=csv (all metrics)', `/v1/clusters/${cluster}/growth?format=csv&metric=${all.join(',')}`],
      ['HTTP GET …/growth.svg', `/v1/clusters/${cluster}/growth.svg`],
      ['HTTP GET …/growth/projection', `/v1/clusters/${cluster}/growth/projection`],
      ['HTTP GET …/growth/top (20 namespaces)', `/v1/clusters/${cluster}/growth/top?from=1&to=${VERSIONS}`],
    ] as const) {
      const r = await timeIt(30, async () => {
        const res = await app.inject({ method: 'GET', url })
        if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`)
      })
      row(label, `${r.median.toFixed(1)} ms (p95 ${r.p95.toFixed(1)})`, 'goal ≤ 50 ms')
    }
    const p = await growth.projection(cluster, { metric: 'kubeServicesRules', threshold: 10_000 })
    console.log(`   projection: ${p.message}`)
  } finally {
    await app.close()
    await db.close()
  }
}

async function statsBench(url: string): Promise<void> {
  console.log(`\n2. statistics vs planning: ${SERVICES.toLocaleString('en-US')} services × ${ENDPOINTS} endpoints`)
  const envOf = (round: number) => {
    const r = toEnvelope(
      generateSnapshot({ services: SERVICES, endpointsPerService: ENDPOINTS, churn: 0.01, round, nodePort: 0.2, loadBalancer: 0.05, namespaces: 50 }),
    )
    if (!r.ok) throw new Error('generated snapshot invalid')
    return r.envelope
  }
  const e0 = envOf(0)
  const e1 = envOf(1)
  let p0: Plan | undefined
  const gcFirst = (): void => globalThis.gc?.()
  const planT = await timeIt(
    3,
    () => {
      p0 = plan(e0)
    },
    gcFirst,
  )
  const p1: Plan | undefined = plan(e1)
  const pct = (x: number, of = planT.median) => `${((x / of) * 100).toFixed(1)}% of planning`
  row('plan() from scratch', `${planT.median.toFixed(0)} ms`)
  // A first version: the planner counts each service segment's statistics while writing it
  // (plan(…, { stats })); planStats then only sums them. Both sides are timed the same way.
  // Alternated, 9 runs each, so JIT warm-up and GC pressure fall on both alike.
  let memo: StatsMemo = new WeakMap()
  let pm: Plan | undefined
  const withStats: number[] = []
  const without: number[] = []
  // Each timed plan starts after a full GC (npm run bench:growth passes --expose-gc), as in
  // bench:planner: a plan's text is malloc'd (external strings), and V8 runs a full GC for every
  // ~64 MiB of those, which would otherwise land in whichever of the pair comes next. (Not
  // before the small steps below: right after a full GC they run on cold caches and fresh pages,
  // and measure 2-3x slower than they run in ingest.)
  for (let i = 0; i < 9; i++) {
    memo = new WeakMap()
    gcFirst()
    let t = performance.now()
    pm = plan(e1, { stats: memo })
    withStats.push(performance.now() - t)
    gcFirst()
    t = performance.now()
    plan(e1)
    without.push(performance.now() - t)
  }
  const mid = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!
  const planM = { median: mid(withStats) }
  const planB = { median: mid(without) }
  row(
    'plan(…, { stats }) vs plan() of the same snapshot',
    `${planM.median.toFixed(0)} vs ${planB.median.toFixed(0)} ms`,
    `statistics while planning: ${pct(planM.median - planB.median, planB.median)}`,
  )
  const pSum = await timeIt(3, () => planStats(pm!.families[0]!, pm!.counts, memo))
  row('  planStats summing the counted facts', `${pSum.median.toFixed(1)} ms`, pct(pSum.median))
  const pStats = await timeIt(3, () => planStats(p1!.families[0]!, p1!.counts))
  row('  planStats scanning every segment (a loaded plan)', `${pStats.median.toFixed(0)} ms`, pct(pStats.median))
  const keysOf = (p: Plan) => planContent(p).families.map((f) => f.segments.map((x) => x.sha256))
  const k0 = keysOf(p0!)
  const k1 = keysOf(p1!)
  const coldDelta = await timeIt(3, () => deltaCounts(p0!.families[0]!, p1!.families[0]!, k0[0], k1[0], new WeakMap()))
  row('  delta from the previous version, nothing memoised', `${coldDelta.median.toFixed(0)} ms`, pct(coldDelta.median))

  // What ingest does from the second version on: plan(…, { reuse }) hands back the previous
  // plan's segment objects for unchanged service ports, and their statistics facts are memoised
  // by segment object, so statistics scan only the ~1% of new segments.
  // Ingest passes the canonical hashes of the items it computed for storage anyway.
  const hashes = (e: typeof e0) => e.resources.items.map((it) => sha256Hex(canonicalJson(it)))
  const h0 = hashes(e0)
  const h1 = hashes(e1)
  const incPlan: number[] = []
  const incStats: number[] = []
  for (let rep = 0; rep < 3; rep++) {
    const reuse: PlanReuse = { families: {} }
    const a = plan(e0, { reuse, stats: sharedMemo, itemHashes: h0 })
    computeVersionStats(a, null) // version 1's statistics, as its ingest computed them
    const ka = keysOf(a)
    gcFirst()
    let t = performance.now()
    const b = plan(e1, { reuse, stats: sharedMemo, itemHashes: h1 })
    incPlan.push(performance.now() - t)
    const kb = keysOf(b)
    t = performance.now()
    computeVersionStats(b, a, { plan: kb, previous: ka })
    incStats.push(performance.now() - t)
  }
  const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!
  row('plan(…, { reuse }) at 1% churn', `${med(incPlan).toFixed(0)} ms`)
  row(
    'computeVersionStats with the delta (ingest path)',
    `${med(incStats).toFixed(1)} ms`,
    `${pct(med(incStats))} from scratch, ${pct(med(incStats), med(incPlan))} incremental; goal ≤ 10%`,
  )
  const nsT = await timeIt(3, () => namespaceCounts(p1!))
  row('  namespace counts (part of it)', `${nsT.median.toFixed(0)} ms`, pct(nsT.median))

  // The hook as ingest runs it: previous plan loaded from PostgreSQL, row written, in a transaction.
  const db = await openDatabase({ databaseUrl: url })
  const services = createServices(db)
  try {
    const cluster = 'bench-stats'
    await services.ingest({
      cluster,
      document: generateSnapshot({
        services: SERVICES,
        endpointsPerService: ENDPOINTS,
        churn: 0.01,
        round: 0,
        nodePort: 0.2,
        loadBalancer: 0.05,
        namespaces: 50,
      }),
      actor: 'bench',
    })
    await services.ingest({
      cluster,
      document: generateSnapshot({
        services: SERVICES,
        endpointsPerService: ENDPOINTS,
        churn: 0.01,
        round: 1,
        nodePort: 0.2,
        loadBalancer: 0.05,
        namespaces: 50,
      }),
      actor: 'bench',
    })
    const { rows } = await db.pool.query('SELECT id FROM clusters WHERE name = $1', [cluster])
    const hook = await timeIt(3, async () => {
      const client = await db.pool.connect()
      try {
        await client.query('BEGIN')
        await recordVersionStats(client, { clusterId: rows[0].id, number: 2, plan: p1!, keys: k1 })
        await client.query('ROLLBACK')
      } finally {
        client.release()
      }
    })
    row(
      'ingest hook, cache miss (previous plan: keys + changed segments from PostgreSQL)',
      `${hook.median.toFixed(0)} ms`,
      `${((hook.median / planT.median) * 100).toFixed(1)}% of planning, goal ≤ 10%`,
    )
    const prev = await db.pool.query('SELECT v.plan_id FROM versions v WHERE v.cluster_id = $1 AND v.number = 1', [rows[0].id])
    const load = await timeIt(3, () => loadPlan(db.pool, Number(prev.rows[0].plan_id)))
    row(
      '  (for comparison: loading the whole previous plan)',
      `${load.median.toFixed(0)} ms`,
      `${((load.median / planT.median) * 100).toFixed(1)}% of planning (other replica / restart)`,
    )
  } finally {
    await db.close()
  }
}

async function main(): Promise<void> {
  const srv = await server()
  console.log(
    `natplan growth bench; database: ${process.env.TEST_DATABASE_URL ? 'TEST_DATABASE_URL server' : 'embedded PostgreSQL'}; load average ${(await import('node:os')).loadavg()[0]!.toFixed(1)}`,
  )
  try {
    await growthBench(srv.url)
    await statsBench(srv.url)
  } finally {
    await srv.done()
  }
}

await main()
