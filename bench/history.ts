/**
 * History benchmark (`npm run bench:history`): through the services layer on real PostgreSQL,
 * a generated 10k-service cluster and a 1%-churn second version, then
 *
 *   - the JSON diff between them (target ≤ 100 ms: computed from stored segment ids, only the
 *     changed segments are read) — and, for scale, the whole-plan formats (restore, unified);
 *   - a rollback; a backup of both versions (archive size), its download, its import;
 *   - a prune with garbage collection.
 *
 * Database: TEST_DATABASE_URL's server (a fresh database, dropped at the end) or, when unset,
 * an embedded PostgreSQL in a temp dir. Sizes: BENCH_SERVICES (default 10000), BENCH_CHURN
 * (0.01), BENCH_RUNS (20). Prints figures; asserts nothing.
 */
import { loadavg } from 'node:os'
import { Readable } from 'node:stream'
import { openDatabase } from '../src/db/index.js'
import { generateSnapshot } from '../src/planner/testing/generate.js'
import { createServices } from '../src/services/index.js'
import { createThrowawayDatabase } from '../src/db/throwaway.js'

const SERVICES = Number(process.env.BENCH_SERVICES ?? 10_000)
const CHURN = Number(process.env.BENCH_CHURN ?? 0.01)
const RUNS = Number(process.env.BENCH_RUNS ?? 20)
const MB = 1024 * 1024

/** A fresh database on TEST_DATABASE_URL's server, or on an embedded PostgreSQL. */
async function server(): Promise<{ url: string; done(): Promise<void> }> {
  const db = await createThrowawayDatabase('bench_history', process.env.TEST_DATABASE_URL)
  return { url: db.url, done: () => db.drop() }
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = performance.now()
  const value = await fn()
  return { ms: performance.now() - t, value }
}

/** Median and p95 of `runs` timings (first run reported apart as "cold"). */
async function repeat(label: string, runs: number, fn: () => Promise<unknown>, goal = ''): Promise<void> {
  const cold = (await timed(fn)).ms
  const ms: number[] = []
  for (let i = 0; i < runs; i++) ms.push((await timed(fn)).ms)
  ms.sort((a, b) => a - b)
  const med = ms[Math.floor(ms.length / 2)]!
  const p95 = ms[Math.min(ms.length - 1, Math.floor(ms.length * 0.95))]!
  row(label, `median ${med.toFixed(1)} ms  p95 ${p95.toFixed(1)} ms  cold ${cold.toFixed(1)} ms  (${runs} runs)`, goal)
}

function row(label: string, value: string, goal = ''): void {
  console.log(`${label.padEnd(44)} ${value}${goal ? `   [goal ${goal}]` : ''}`)
}

async function main(): Promise<void> {
  const srv = await server()
  const db = await openDatabase({ databaseUrl: srv.url, poolSize: 4 })
  try {
    const services = createServices(db)
    const h = services.history!
    const cluster = 'bench'
    const shape = { services: SERVICES, endpointsPerService: 3, nodePort: 0.2, loadBalancer: 0.1, churn: CHURN }
    console.log(
      `natplan history benchmark: ${SERVICES} services x 3 endpoints, ${CHURN * 100}% churn, node ${process.version}, load ${loadavg()[0]!.toFixed(1)}`,
    )

    const v1 = await timed(() => services.ingest({ cluster, document: generateSnapshot({ ...shape, round: 0 }), actor: 'bench' }))
    const v2 = await timed(() => services.ingest({ cluster, document: generateSnapshot({ ...shape, round: 1 }), actor: 'bench' }))
    row('ingest v1 / v2 (setup)', `${v1.ms.toFixed(0)} ms / ${v2.ms.toFixed(0)} ms, script ${(v1.value.version.counts.scriptBytes / MB).toFixed(1)} MiB`)

    const d = await h.diffJson(cluster, { from: 1, to: 2 })
    row(
      'diff summary',
      `${d.summary.servicePortsChanged} service ports changed, +${d.summary.rulesAdded}/-${d.summary.rulesRemoved} rules, ${d.summary.unchangedSegments} segments unchanged`,
    )
    await repeat('diff json (stored segment ids)', RUNS, () => h.diffJson(cluster, { from: 1, to: 2 }), '≤ 100 ms')
    await repeat('diff json, reverse order', RUNS, () => h.diffJson(cluster, { from: 2, to: 1 }), '≤ 100 ms')
    await repeat('diff restore (minimal --noflush)', 3, () => h.diffRestore(cluster, { from: 1, to: 2 }))
    await repeat('diff unified (normalised scripts)', 3, () => h.diffUnified(cluster, { from: 1, to: 2 }))
    const delta = await h.diffRestore(cluster, { from: 1, to: 2 })
    row('minimal restore size', `${(Buffer.byteLength(delta.text) / MB).toFixed(2)} MiB vs full ${(v1.value.version.counts.scriptBytes / MB).toFixed(1)} MiB`)

    const rb = await timed(() => h.rollback({ cluster, toVersion: 1, reason: 'bench', actor: 'bench' }))
    row('rollback (new version by reference)', `${rb.ms.toFixed(1)} ms`)

    const bk = await timed(() => h.createBackup({ cluster, fromVersion: 1, toVersion: 2, actor: 'bench' }))
    row('backup of 2 versions', `${bk.ms.toFixed(0)} ms, archive ${(bk.value.bytes / MB).toFixed(2)} MiB`)
    const dl = await timed(async () => {
      let n = 0
      for await (const c of (await h.downloadBackup(bk.value.id)).body) n += c.length
      return n
    })
    row('download (streamed from chunks)', `${dl.ms.toFixed(0)} ms, ${(dl.value / MB / (dl.ms / 1000)).toFixed(0)} MiB/s`)
    const chunks: Buffer[] = []
    for await (const c of (await h.downloadBackup(bk.value.id)).body) chunks.push(c)
    const archive = Buffer.concat(chunks)
    const im = await timed(() => h.importBackup({ cluster: 'bench-imported', body: Readable.from([archive]), actor: 'bench' }))
    row('import (verify, re-plan, store 2 versions)', `${im.ms.toFixed(0)} ms, replanned ${im.value.replanned.length}`)

    const del = await timed(() => h.deleteCluster('bench-imported', 'bench'))
    row('delete imported cluster + GC', `${del.ms.toFixed(0)} ms (${del.value.versions} versions)`)
    // v3 (the rollback) shares v1's content, so pruning 1 and 2 frees v2's churned 1%.
    const pr = await timed(() => h.prune({ cluster, keep: 1, actor: 'bench' }))
    row('prune keep=1 + GC', `${pr.ms.toFixed(0)} ms, pruned ${pr.value.pruned.join(',')}, collected ${JSON.stringify(pr.value.collected)}`)
  } finally {
    await db.close()
    await srv.done()
  }
}

await main()
