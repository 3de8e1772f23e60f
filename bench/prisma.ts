/**
 * Prisma Client against natplan's SQL (`npm run bench:prisma`), on one database in one run.
 *
 * The relational reads every request path takes — one version (findVersion), a page of
 * versions, the clusters list, a history page, a backups page, one backup — are timed as
 * src/store runs them (SQL on pg) and as the Prisma Client query that returns the same rows,
 * interleaved on the same rows. Where Prisma costs more than 10 %, the store keeps its SQL and
 * says so. Whole requests through the real app (GET /v1/clusters, …/history, /v1/backups, one
 * version) put the per-query difference next to what a client waits. Medians of BENCH_RUNS.
 *
 * DATABASE: a throwaway database on TEST_DATABASE_URL's server, else an embedded PostgreSQL.
 */
import type { PrismaClient } from '../src/generated/prisma/client.js'
import { buildApp } from '../src/app.js'
import { defaultConfig } from '../src/config.js'
import { createThrowawayDatabase } from '../src/db/throwaway.js'
import { openDatabase } from '../src/db/index.js'
import { createServices } from '../src/services/index.js'
import { findBackup, listBackupRows } from '../src/store/backups.js'
import { listHistoryEvents } from '../src/store/history.js'
import { findVersion, listClusterRows, listVersionRows } from '../src/store/versions.js'

const RUNS = Number(process.env.BENCH_RUNS ?? 400)
const CLUSTERS = Number(process.env.BENCH_CLUSTERS ?? 60)
const VERSIONS = Number(process.env.BENCH_VERSIONS ?? 20)

function envelope(i: number): Record<string, unknown> {
  return {
    proxy: { nodeName: 'node-a', nodeIPs: ['192.168.0.2'], clusterCIDR: '10.0.0.0/8' },
    resources: {
      kind: 'List',
      items: [
        {
          kind: 'Service',
          metadata: { name: 'web', namespace: 'default' },
          spec: { clusterIP: '172.30.0.10', ports: [{ name: 'http', protocol: 'TCP', port: 80 + i, targetPort: 8080 }] },
        },
      ],
    },
  }
}

// ---- the Prisma Client query for each store read (same rows, same order) --------------------

const prismaClusters = (prisma: PrismaClient, limit: number) =>
  prisma.cluster.findMany({
    orderBy: { name: 'asc' },
    take: limit,
    select: {
      name: true,
      createdAt: true,
      _count: { select: { versions: true } },
      versions: { orderBy: { number: 'desc' }, take: 1, select: { number: true } },
    },
  })

const prismaHistory = (prisma: PrismaClient, clusterId: number, limit: number) =>
  prisma.historyEvent.findMany({ where: { clusterId }, orderBy: { id: 'desc' }, take: limit })

const prismaBackups = (prisma: PrismaClient, limit: number) => prisma.backup.findMany({ orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: limit })

const versionInclude = {
  cluster: { select: { name: true } },
  plan: { select: { sha256: true, warnings: true } },
  snapshot: { select: { sha256: true } },
} as const

const prismaVersion = (prisma: PrismaClient, cluster: string, number: number) =>
  prisma.version.findFirst({ where: { cluster: { name: cluster }, number }, include: versionInclude })

const prismaVersions = (prisma: PrismaClient, clusterId: number, limit: number) =>
  prisma.version.findMany({ where: { clusterId }, orderBy: { number: 'desc' }, take: limit, include: versionInclude })

// ---------------------------------------------------------------------------------------------

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

/** Both, interleaved (a, b, a, b, …) so drift in the machine's load hits both alike. */
async function versus(label: string, sql: () => Promise<unknown>, prisma: () => Promise<unknown>): Promise<void> {
  const a: number[] = []
  const b: number[] = []
  for (let i = 0; i < 20; i++) await Promise.all([sql(), prisma()])
  for (let i = 0; i < RUNS; i++) {
    let t = performance.now()
    await sql()
    a.push(performance.now() - t)
    t = performance.now()
    await prisma()
    b.push(performance.now() - t)
  }
  const [ma, mb] = [median(a), median(b)]
  const verdict = mb > ma * 1.1 ? 'Prisma > +10 %: SQL kept' : 'Prisma within 10 %'
  console.log(`${label.padEnd(34)} SQL ${ma.toFixed(3).padStart(7)} ms   Prisma ${mb.toFixed(3).padStart(7)} ms   ×${(mb / ma).toFixed(2)}   ${verdict}`)
}

async function wholeRequest(label: string, url: string): Promise<void> {
  const times: number[] = []
  for (let i = 0; i < 20; i++) await (await fetch(url)).arrayBuffer()
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now()
    const res = await fetch(url)
    await res.arrayBuffer()
    if (!res.ok) throw new Error(`${url}: ${res.status}`)
    times.push(performance.now() - t)
  }
  console.log(`${label.padEnd(34)} whole request, median ${median(times).toFixed(3)} ms`)
}

async function main(): Promise<void> {
  const scratch = await createThrowawayDatabase('bench_prisma', process.env.TEST_DATABASE_URL)
  const db = await openDatabase({ databaseUrl: scratch.url })
  const app = await buildApp({ config: defaultConfig({ rateLimit: null }), services: createServices(db), logger: false })
  try {
    const base = await app.listen({ host: '127.0.0.1', port: 0 })
    console.log(`natplan bench:prisma — ${CLUSTERS} clusters × ${VERSIONS} versions, ${RUNS} runs each, medians`)
    for (let c = 0; c < CLUSTERS; c++) {
      for (let v = 0; v < VERSIONS; v++) {
        const res = await app.inject({ method: 'POST', url: `/v1/clusters/c${String(c).padStart(3, '0')}/snapshots`, payload: envelope(v) })
        if (res.statusCode !== 201) throw new Error(res.body)
      }
    }
    for (let i = 0; i < 30; i++) {
      const res = await app.inject({ method: 'POST', url: `/v1/clusters/c000/backups`, payload: {} })
      if (res.statusCode !== 201) throw new Error(res.body)
    }
    const cluster = (await db.pool.query<{ id: number }>(`SELECT id FROM clusters WHERE name = 'c000'`)).rows[0]!.id
    const backupId = (await db.pool.query<{ id: string }>('SELECT id FROM backups LIMIT 1')).rows[0]!.id

    const v = Math.min(7, VERSIONS)
    await versus(
      'one version (findVersion)',
      () => findVersion(db.pool, 'c000', v),
      () => prismaVersion(db.prisma, 'c000', v),
    )
    await versus(
      'versions page (21)',
      () => listVersionRows(db.pool, cluster, 21, null),
      () => prismaVersions(db.prisma, cluster, 21),
    )
    await versus(
      'clusters list (51)',
      () => listClusterRows(db.pool, 51, null),
      () => prismaClusters(db.prisma, 51),
    )
    await versus(
      'history page (51 events)',
      () => listHistoryEvents(db.pool, cluster, { limit: 51 }),
      () => prismaHistory(db.prisma, cluster, 51),
    )
    await versus(
      'backups page (31)',
      () => listBackupRows(db.pool, { limit: 31 }),
      () => prismaBackups(db.prisma, 31),
    )
    await versus(
      'one backup',
      () => findBackup(db.pool, backupId),
      () => db.prisma.backup.findUnique({ where: { id: backupId } }),
    )
    await wholeRequest('GET /v1/clusters', `${base}/v1/clusters`)
    await wholeRequest('GET /v1/clusters/c000/history', `${base}/v1/clusters/c000/history`)
    await wholeRequest('GET /v1/backups', `${base}/v1/backups`)
    await wholeRequest('GET /v1/clusters/c000/versions/7', `${base}/v1/clusters/c000/versions/${Math.min(7, VERSIONS)}`)
  } finally {
    await app.close()
    await db.close()
    await scratch.drop()
  }
}

await main()
