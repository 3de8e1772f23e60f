/**
 * The storage/services spine benchmark (`npm run bench`): a generated 10k services × 10
 * endpoints cluster through the services layer on real PostgreSQL — TEST_DATABASE_URL's server
 * (a fresh database, dropped at the end) or, when unset, an embedded PostgreSQL in a temp dir.
 *
 * Goals: first ingest ≤ 5 s and peak RSS ≤ 1 GiB; 1%-churn re-ingest ≤ 1 s; 20 versions at
 * 1% churn ≤ 1.5× the storage of one; hot restore-script reads ≥ 200 MB/s.
 * Sizes: BENCH_SERVICES (default 10000), BENCH_ENDPOINTS (10), BENCH_VERSIONS (20).
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { buildApp } from '../src/app.js'
import { defaultConfig } from '../src/config.js'
import { openDatabase, type Database } from '../src/db/index.js'
import { generateSnapshot } from '../src/planner/testing/generate.js'
import { createServices, type IngestStats } from '../src/services/index.js'
import { createThrowawayDatabase } from '../src/db/throwaway.js'

const SERVICES = Number(process.env.BENCH_SERVICES ?? 10_000)
const ENDPOINTS = Number(process.env.BENCH_ENDPOINTS ?? 10)
const VERSIONS = Number(process.env.BENCH_VERSIONS ?? 20)
const CHURN = 0.01
const MB = 1024 * 1024
const execFileAsync = promisify(execFile)

/** A fresh database on TEST_DATABASE_URL's server, or on an embedded PostgreSQL. */
async function server(): Promise<{ url: string; done(): Promise<void> }> {
  const db = await createThrowawayDatabase('bench', process.env.TEST_DATABASE_URL)
  return { url: db.url, done: () => db.drop() }
}

async function storageBytes(db: Database): Promise<number> {
  const res = await db.pool.query<{ n: string }>(
    `SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0) AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> '_prisma_migrations'`,
  )
  return Number(res.rows[0]!.n)
}

/** Wall time, and this process's CPU time (PostgreSQL's is not included): on a shared machine the CPU figure is the steadier one. */
async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; cpuMs: number; value: T }> {
  const t = performance.now()
  const c = process.cpuUsage()
  const value = await fn()
  const d = process.cpuUsage(c)
  return { ms: performance.now() - t, cpuMs: (d.user + d.system) / 1000, value }
}

const secs = (r: { ms: number; cpuMs: number }) => `${(r.ms / 1000).toFixed(2)} s (cpu ${(r.cpuMs / 1000).toFixed(2)})`

async function consume(body: Buffer | AsyncIterable<string | Buffer>): Promise<number> {
  if (Buffer.isBuffer(body)) return body.length
  let n = 0
  for await (const c of body) n += Buffer.byteLength(c)
  return n
}

function row(label: string, value: string, goal = ''): void {
  console.log(`${label.padEnd(44)} ${value.padStart(22)}   ${goal}`)
}

/** NATPLAN_INGEST_WORKERS=0 npm run bench: the same work on the event loop, for comparison. */
const ingestWorkers = Number(process.env.NATPLAN_INGEST_WORKERS ?? 1)

async function main(): Promise<void> {
  const srv = await server()
  const db = await openDatabase({ databaseUrl: srv.url })
  try {
    let last: IngestStats | undefined
    const services = createServices(db, { onIngest: (s) => (last = s), ingestWorkers })
    // A running server's ingest: its worker thread started before it listened (src/server.ts).
    await services.start?.()
    const phases = () =>
      last
        ? `validate ${last.validateMs.toFixed(0)} / plan ${last.planMs.toFixed(0)} / store ${last.storeMs.toFixed(0)} ms, ${last.insertedContent} new rows`
        : ''
    const cluster = 'bench'
    const gen = (round: number) => generateSnapshot({ services: SERVICES, endpointsPerService: ENDPOINTS, churn: CHURN, round })
    console.log(
      `natplan spine bench: ${SERVICES} services × ${ENDPOINTS} endpoints, ${VERSIONS} versions at ${CHURN * 100}% churn; ${ingestWorkers} ingest worker thread(s)`,
    )
    console.log(
      `database: ${process.env.TEST_DATABASE_URL ? 'TEST_DATABASE_URL server' : 'embedded PostgreSQL'}; load average ${(await import('node:os')).loadavg()[0]!.toFixed(1)}\n`,
    )

    // The body as the HTTP layer hands it over (src/api/rest/snapshots.ts): its bytes, parsed in the ingest worker.
    const bytes = (doc: unknown) => ({ bytes: Buffer.from(JSON.stringify(doc)), type: 'json' as const })
    const body0 = bytes(gen(0))
    const first = await timed(() => services.ingest({ cluster, body: body0, actor: 'bench' }))
    const rssPeak = process.resourceUsage().maxRSS * 1024
    const one = await storageBytes(db)
    const v1 = first.value.version
    row('first ingest (validate+plan+store)', secs(first), 'goal ≤ 5 s')
    row('  phases', phases())
    row('peak RSS (whole process, incl. generator)', `${(rssPeak / MB).toFixed(0)} MiB`, 'goal ≤ 1024 MiB')
    row('  plan: rules / script bytes', `${v1.counts.families.IPv4!.nat.rules} / ${(v1.counts.scriptBytes / MB).toFixed(1)} MiB`)

    const body1 = bytes(gen(1))
    const second = await timed(() => services.ingest({ cluster, body: { ...body1, bytes: Buffer.from(body1.bytes) }, actor: 'bench' }))
    row('re-ingest, 1% of services changed', secs(second), 'goal ≤ 1 s')
    row('  phases', phases())
    const dup = await timed(() => services.ingest({ cluster, body: body1, actor: 'bench' }))
    row('re-ingest, identical (dedup)', secs(dup), `created=${dup.value.created}`)
    row('  phases', phases())

    // Another replica (or a restart) ingests the next version: nothing of this process's
    // per-cluster state, so it validates, hashes and plans everything, and reads the previous
    // plan's keys (plus changed segments) for the growth delta.
    const other = await openDatabase({ databaseUrl: srv.url })
    try {
      const coldServices = createServices(other, { onIngest: (s) => (last = s), ingestWorkers })
      await coldServices.start?.()
      const cold = await timed(() => coldServices.ingest({ cluster, body: bytes(gen(2)), actor: 'bench' }))
      row('re-ingest, 1% changed, cold process', secs(cold), 'other replica / restart')
      row('  phases', phases())
      await coldServices.close?.()
    } finally {
      await other.close()
    }

    const churnTimes: number[] = [second.ms]
    for (let round = 3; round < VERSIONS; round++) {
      const body = bytes(gen(round))
      churnTimes.push((await timed(() => services.ingest({ cluster, body, actor: 'bench' }))).ms)
    }
    const all = await storageBytes(db)
    churnTimes.sort((a, b) => a - b)
    row(`  churn re-ingest (warm) median of ${churnTimes.length}`, `${(churnTimes[Math.floor(churnTimes.length / 2)]! / 1000).toFixed(2)} s`, 'goal ≤ 1 s')
    row('storage, 1 version', `${(one / MB).toFixed(1)} MiB`)
    row(`storage, ${VERSIONS} versions`, `${(all / MB).toFixed(1)} MiB`)
    row(`storage ratio ${VERSIONS} versions / 1`, `${(all / one).toFixed(2)}×`, 'goal ≤ 1.5×')

    const cold = await timed(async () => consume((await services.getRestoreScript(cluster, 'latest')).body))
    row('restore script, cold (load segments + render)', `${(cold.value / MB / (cold.ms / 1000)).toFixed(0)} MB/s`, `${(cold.ms / 1000).toFixed(2)} s`)
    const reps = 50
    const hot = await timed(async () => {
      let n = 0
      for (let i = 0; i < reps; i++) n += await consume((await services.getRestoreScript(cluster, 'latest')).body)
      return n
    })
    row(`restore script, hot (LRU), ${reps} reads`, `${(hot.value / MB / (hot.ms / 1000)).toFixed(0)} MB/s`, 'services layer')

    // The figure an operator sees: real HTTP GETs through the app on a loopback socket, read
    // whole by curl in separate processes (an in-process client would compete with the server
    // for this process's CPU), 4 requests in flight.
    const app = await buildApp({ config: defaultConfig({ rateLimit: null }), services, logger: false })
    const base = await app.listen({ host: '127.0.0.1', port: 0 })
    try {
      const url = `${base}/v1/clusters/${cluster}/versions/latest/restore-script`
      const get = async (): Promise<number> => {
        const { stdout } = await execFileAsync('curl', ['-sf', '-o', '/dev/null', '-w', '%{size_download}', url])
        return Number(stdout)
      }
      await get()
      const http = await timed(async () => {
        let n = 0
        for (let i = 0; i < reps / 5; i++) n += (await Promise.all([get(), get(), get(), get()])).reduce((a, b) => a + b, 0)
        return n
      })
      row(`restore script over HTTP (curl), ${(reps / 5) * 4} GETs`, `${(http.value / MB / (http.ms / 1000)).toFixed(0)} MB/s`, 'goal ≥ 200 MB/s')
    } finally {
      await app.close()
    }
  } finally {
    await db.close()
    await srv.done()
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
