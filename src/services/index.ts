/**
 * The use-case layer (src/services/contract.ts) over the store. Every method maps connection
 * failures to UnavailableError (HTTP 503); pg.Pool replaces broken connections by itself, so the
 * service recovers as soon as PostgreSQL is back.
 */
import { createHash } from 'node:crypto'
import type { RetentionPolicy } from '../config.js'
import type { Family } from '../planner/types.js'
import type { Database } from '../db/index.js'
import { guard } from '../db/errors.js'
import { pendingMigrations, readMigrations } from '../db/migrate.js'
import { BadRequestError, clusterNotFound, NotFoundError, versionNotFound } from '../errors.js'
import { loadPlan, planFamilies } from '../store/plans.js'
import { loadSnapshot } from '../store/snapshots.js'
import { findCluster, findVersion, findVersions, latestCounts, latestGauges, listClusterRows, listVersionRows, type VersionRow } from '../store/versions.js'
import type { RestoreScript, RestoreScriptQuery, Services, VersionRef } from './contract.js'
import { createGrowthServices } from './growth.js'
import type { ImportLimits } from './backup.js'
import { createHistoryServices } from './history.js'
import { createInspectServices } from './inspect.js'
import { lastDriftChecks, recordDriftCheck } from '../store/drift-checks.js'
import { ingest, type IngestStats } from './ingest.js'
import { IngestWorkers } from './ingest-workers.js'
import type { IngestQueueOptions } from './ingest-queue.js'
import { servableRef } from './history-db.js'
import { assertServable } from './servable.js'
import { decodeCursor, encodeCursor, pageSize } from './pagination.js'
import { ENCODINGS, ScriptCache } from './script-cache.js'
import { assertOneNode, renderFamily, VersionNodes } from './nodes.js'

export interface ServicesOptions {
  /** Bytes of rendered restore scripts kept in memory (default 256 MiB). */
  scriptCacheBytes?: number
  /** Called after every ingest with where the time went (benchmarks, debug logging). */
  onIngest?: (stats: IngestStats) => void
  /** The timed retention policy (Config.retention); default: none. */
  retention?: RetentionPolicy
  /** A cluster's ingest queue (Config.ingestQueue); default: 30 s wait, 200 waiting. */
  ingestQueue?: IngestQueueOptions
  /** Backup import limits (NATPLAN_IMPORT_MAX_UNPACKED, NATPLAN_BODY_LIMIT). */
  importLimits?: Partial<ImportLimits>
  /** Ingest worker threads (NATPLAN_INGEST_WORKERS, default 1; 0: on the event loop). */
  ingestWorkers?: number
  /** Their CPU priority below the main thread's (NATPLAN_INGEST_NICE, default 10). */
  ingestNice?: number
}

export { ENCODINGS, ScriptCache, type ContentEncoding } from './script-cache.js'
export type { IngestStats } from './ingest.js'

const isVersionCursor = (v: unknown): v is { before: number } => typeof v === 'object' && v !== null && Number.isInteger((v as { before?: unknown }).before)
const isClusterCursor = (v: unknown): v is { after: string } => typeof v === 'object' && v !== null && typeof (v as { after?: unknown }).after === 'string'

function checkRef(ref: VersionRef): void {
  if (ref !== 'latest' && (!Number.isInteger(ref) || ref < 1)) {
    throw new BadRequestError('version must be a positive integer or "latest"', [{ pointer: '/version', detail: 'expected 1, 2, 3… or latest' }])
  }
}

export function createServices(db: Database, opts: ServicesOptions = {}): Services {
  const scripts = new ScriptCache(opts.scriptCacheBytes ?? 256 * 1024 * 1024)
  const migrations = readMigrations()

  async function find(cluster: string, ref: VersionRef): Promise<VersionRow> {
    checkRef(ref)
    const row = await findVersion(db.pool, cluster, ref)
    if (row) return row
    if (!(await findCluster(db.pool, cluster))) throw clusterNotFound(cluster)
    throw versionNotFound(cluster, ref)
  }

  /** A version whose content is read: found and servable (./servable.ts). */
  async function resolve(cluster: string, ref: VersionRef): Promise<VersionRow> {
    const row = await find(cluster, ref)
    await assertServable(db.pool, db.pool, servableRef(row))
    return row
  }

  const workers = new IngestWorkers(opts.ingestWorkers ?? 1, opts.ingestNice ?? 10)
  // A stored version's nodes are planned in the cluster's worker thread too, off the event loop.
  const nodes = new VersionNodes(db.pool, (cluster, proxy, items) => workers.run(cluster, { op: 'planStored', proxy, items }))

  async function renderScript(planId: number, family: Family, query: Required<Omit<RestoreScriptQuery, 'family'>>): Promise<Buffer> {
    const { plan } = await loadPlan(db.pool, planId, family)
    return renderFamily(plan.families[0]!, query)
  }

  const services: Services = {
    ingest: (input) =>
      guard(() =>
        ingest(db, input, {
          workers,
          onStats: opts.onIngest,
          onPlanned: (sha, outline) => nodes.remember(sha, outline),
          queue: opts.ingestQueue,
        }),
      ),

    start: () => workers.start(),
    close: () => workers.close(),

    listClusters: (query) =>
      guard(async () => {
        const limit = pageSize(query?.limit)
        const after = decodeCursor(query?.cursor, isClusterCursor)?.after ?? null
        const rows = await listClusterRows(db.pool, limit + 1, after)
        const items = rows.slice(0, limit)
        return { items, next: rows.length > limit ? encodeCursor({ after: items.at(-1)!.name }) : null }
      }),

    getCluster: (name) =>
      guard(async () => {
        const [row] = await listClusterRows(db.pool, 1, null, name)
        if (!row) throw clusterNotFound(name)
        return row
      }),

    listVersions: (cluster, query) =>
      guard(async () => {
        const limit = pageSize(query?.limit)
        const before = decodeCursor(query?.cursor, isVersionCursor)?.before ?? null
        const c = await findCluster(db.pool, cluster)
        if (!c) throw clusterNotFound(cluster)
        const rows = await listVersionRows(db.pool, c.id, limit + 1, before)
        const items = rows.slice(0, limit).map((r) => r.summary)
        return { items, next: rows.length > limit ? encodeCursor({ before: items.at(-1)!.version }) : null }
      }),

    getVersion: (cluster, ref) => guard(async () => (await find(cluster, ref)).summary),

    getVersions: (keys) => guard(async () => (await findVersions(db.pool, keys)).map((r) => r?.summary ?? null)),

    getSnapshot: (cluster, ref) =>
      guard(async () => {
        const row = await resolve(cluster, ref)
        const snap = await loadSnapshot(db.pool, row.snapshotId)
        return { proxy: snap.proxy, resources: { apiVersion: 'v1', kind: 'List', items: snap.items.map((b) => JSON.parse(b) as unknown) } }
      }),

    getPlan: (cluster, ref, node) =>
      guard(async () => {
        const row = await resolve(cluster, ref)
        return nodes.planOf(row, cluster, node)
      }),

    listNodes: (cluster, ref) => guard(async () => nodes.list(await resolve(cluster, ref), cluster)),

    getRestoreScript: (cluster, ref, query = {}, node, accept = []) =>
      guard(async () => {
        // The identity script, or its compressed form in the first encoding the client accepts.
        const represent = async (key: string, body: Buffer, filename: string): Promise<RestoreScript> => {
          const tag = createHash('sha256').update(key).digest('hex').slice(0, 40)
          const encoding = accept.find((e) => ENCODINGS.includes(e))
          if (!encoding) return { etag: `"${tag}"`, filename, body, bytes: body.length }
          const packed = await scripts.encoded(key, body, encoding)
          // A strong ETag names one representation: each encoding has its own (RFC 9110 §8.8.3).
          return { etag: `"${tag}-${encoding}"`, filename, body: packed, bytes: packed.length, encoding }
        }
        const row = await resolve(cluster, ref)
        const table = query.table ?? 'all'
        const flavour = query.flavour ?? 'kube-proxy'
        if (node !== undefined) {
          const n = await nodes.node(row, cluster, node)
          const fp = n.plan.families.find((f) => f.family === (query.family ?? n.plan.families[0]?.family))
          if (!fp) throw new NotFoundError(`node ${node} of version ${row.summary.version} of ${cluster} has no ${query.family ?? 'IP'} family plan`)
          const key = `node:${n.summary.planSha256}:${fp.family}:${table}:${flavour}`
          const body = await scripts.getOrCreate(key, async () => renderFamily(fp, { table, flavour }))
          return represent(key, body, `${cluster}-v${row.summary.version}-${node}.rules`)
        }
        assertOneNode(row, cluster)
        const families = await planFamilies(db.pool, row.planId)
        const family = query.family ?? families[0]
        if (!family || !families.includes(family)) {
          throw new NotFoundError(`version ${row.summary.version} of ${cluster} has no ${query.family ?? 'IP'} family plan`)
        }
        const key = `${row.summary.planSha256}:${family}:${table}:${flavour}`
        const body = await scripts.getOrCreate(key, () => renderScript(row.planId, family, { table, flavour }))
        return represent(key, body, `${cluster}-v${row.summary.version}.rules`)
      }),

    readiness: async () => {
      try {
        await db.pool.query('SELECT 1')
        const pending = await pendingMigrations(db.pool, migrations)
        if (pending.length > 0) return { ok: false, detail: `pending migrations: ${pending.join(', ')}` }
        return { ok: true, detail: 'database reachable, migrations applied' }
      } catch (err) {
        return { ok: false, detail: `database unavailable: ${(err as Error).message}` }
      }
    },

    latestGauges: () => guard(() => latestGauges(db.pool)),

    driftGauges: () => guard(() => lastDriftChecks(db.prisma)),

    clusterGauges: () =>
      guard(async () =>
        (await latestCounts(db.pool)).flatMap(({ cluster, version, counts }) =>
          Object.entries(counts.families).flatMap(([family, tables]) =>
            (['filter', 'nat'] as const).map((table) => ({ cluster, version, family: family as Family, table, ...tables![table] })),
          ),
        ),
      ),

    history: createHistoryServices(db, { retention: opts.retention, importLimits: opts.importLimits, nodes }),

    growth: createGrowthServices(db.pool, {
      prisma: db.prisma,
      getPlan: async (cluster, version) => (await loadPlan(db.pool, (await resolve(cluster, version)).planId)).plan,
    }),
  }
  services.inspect = createInspectServices(services, (row) => guard(() => recordDriftCheck(db.prisma, row)))
  return services
}
