/**
 * Per-version statistics (table `version_stats`, prisma/schema.prisma "growth statistics").
 *
 * One narrow row per version, written once when the version is created, so that growth queries
 * over a thousand versions are one index range scan and never touch plans or re-plan. Writes are
 * bulk (`jsonb_populate_recordset`: one statement for any number of rows); reads use raw SQL through
 * pg because the growth endpoints are latency-budgeted (≤ 50 ms for 1,000 versions, bench/growth.ts)
 * and need no ORM object graph.
 */

import type { NamespaceCounts } from './records.js'

export type { NamespaceCounts } from './records.js'

export interface VersionStatsRecord {
  versionId: bigint | number | string
  clusterId: number
  number: number
  createdAt: Date
  services: number
  servicePorts: number
  servicePortsByType: Record<string, number>
  endpoints: number
  endpointsReady: number
  endpointsServing: number
  endpointsTerminating: number
  natChains: number
  natRules: number
  filterChains: number
  filterRules: number
  scriptBytes: number
  kubeServicesRules: number
  avgRulesToDnat: number
  worstRulesToDnat: number
  servicesWithoutEndpoints: number
  deltaRules: number | null
  deltaBytes: number | null
  namespaces: Record<string, NamespaceCounts>
  detail: unknown
}

/** Anything that runs SQL: a pg.Pool, a pg.PoolClient inside a transaction, or a Prisma client. */
export interface Queryable {
  // pg types rows as any as well; each query names its row type where it reads them.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  query(text: string, values?: unknown[]): Promise<{ rows: any[] }>
}

interface PrismaLike {
  $queryRawUnsafe(query: string, ...values: unknown[]): Promise<unknown>
}

/**
 * Accepts pg (Pool/PoolClient) or a Prisma client / interactive-transaction client, so the
 * ingest hook can run inside whichever transaction the data layer uses.
 */
export function asQueryable(db: Queryable | PrismaLike): Queryable {
  if ('query' in db && typeof db.query === 'function') return db
  const prisma = db as PrismaLike
  return { query: async (text, values = []) => ({ rows: (await prisma.$queryRawUnsafe(text, ...values)) as unknown[] }) }
}

/** Metric name (API, camelCase) -> column. The single list both the SQL and the API derive from. */
export const METRIC_COLUMNS = {
  services: 'services',
  servicePorts: 'service_ports',
  endpoints: 'endpoints',
  endpointsReady: 'endpoints_ready',
  endpointsServing: 'endpoints_serving',
  endpointsTerminating: 'endpoints_terminating',
  natChains: 'nat_chains',
  natRules: 'nat_rules',
  filterChains: 'filter_chains',
  filterRules: 'filter_rules',
  scriptBytes: 'script_bytes',
  kubeServicesRules: 'kube_services_rules',
  avgRulesToDnat: 'avg_rules_to_dnat',
  worstRulesToDnat: 'worst_rules_to_dnat',
  servicesWithoutEndpoints: 'services_without_endpoints',
  deltaRules: 'delta_rules',
  deltaBytes: 'delta_bytes',
} as const

export type StoredMetric = keyof typeof METRIC_COLUMNS

function toRow(r: VersionStatsRecord): Record<string, unknown> {
  const row: Record<string, unknown> = {
    version_id: String(r.versionId),
    cluster_id: r.clusterId,
    number: r.number,
    created_at: r.createdAt.toISOString(),
    service_ports_by_type: r.servicePortsByType,
    namespaces: r.namespaces,
    detail: r.detail ?? {},
  }
  for (const [metric, column] of Object.entries(METRIC_COLUMNS)) row[column] = r[metric as StoredMetric]
  return row
}

/**
 * Inserts (or, for a backfill, replaces) statistics rows in one statement. Versions are immutable,
 * so replacing is only ever a recomputation of the same facts (e.g. after a planStats upgrade).
 */
export async function insertVersionStats(db: Queryable, records: readonly VersionStatsRecord[]): Promise<void> {
  if (records.length === 0) return
  const columns = ['version_id', 'cluster_id', 'number', 'created_at', 'service_ports_by_type', 'namespaces', 'detail', ...Object.values(METRIC_COLUMNS)]
  const updates = columns.filter((c) => c !== 'version_id').map((c) => `${c} = excluded.${c}`)
  await db.query(
    `INSERT INTO version_stats (${columns.join(', ')})
     SELECT ${columns.join(', ')} FROM jsonb_populate_recordset(NULL::version_stats, $1::jsonb)
     ON CONFLICT (version_id) DO UPDATE SET ${updates.join(', ')}`,
    [JSON.stringify(records.map(toRow))],
  )
}

export interface ClusterRef {
  id: number
  name: string
}

export async function findCluster(db: Queryable, name: string): Promise<ClusterRef | null> {
  const { rows } = await db.query('SELECT id, name FROM clusters WHERE name = $1', [name])
  return rows[0] ? { id: rows[0].id, name: rows[0].name } : null
}

/** Bounds of a range query: a version number or a point in time, inclusive. */
export type Bound = { version: number } | { at: Date }

function boundSql(bound: Bound | undefined, op: '>=' | '<=', values: unknown[]): string {
  if (!bound) return ''
  if ('version' in bound) {
    values.push(bound.version)
    return ` AND number ${op} $${values.length}`
  }
  values.push(bound.at.toISOString())
  return ` AND created_at ${op} $${values.length}::timestamptz`
}

export interface StatsPoint {
  version: number
  createdAt: Date
  values: Partial<Record<StoredMetric, number | null>>
}

/**
 * The chosen metrics of every version of a cluster in [from, to], oldest first. Only the asked
 * columns leave the database.
 */
export async function readStatsRange(
  db: Queryable,
  clusterId: number,
  metrics: readonly StoredMetric[],
  range: { from?: Bound; to?: Bound } = {},
): Promise<StatsPoint[]> {
  const values: unknown[] = [clusterId]
  const where = `cluster_id = $1${boundSql(range.from, '>=', values)}${boundSql(range.to, '<=', values)}`
  const cols = metrics.map((m) => `${METRIC_COLUMNS[m]}${m === 'scriptBytes' || m === 'deltaBytes' ? '::float8' : ''} AS "${m}"`)
  const { rows } = await db.query(
    `SELECT number, created_at${cols.length ? ', ' + cols.join(', ') : ''} FROM version_stats WHERE ${where} ORDER BY number`,
    values,
  )
  return rows.map((row) => {
    const v: StatsPoint['values'] = {}
    for (const m of metrics) v[m] = row[m] === null ? null : Number(row[m])
    return { version: row.number, createdAt: new Date(row.created_at), values: v }
  })
}

export interface NamespaceSnapshot {
  version: number
  createdAt: Date
  namespaces: Record<string, NamespaceCounts>
}

/** The per-namespace counts of the newest version at or before `bound` (newest when absent). */
export function readNamespacesAt(db: Queryable, clusterId: number, bound?: Bound): Promise<NamespaceSnapshot | null> {
  return readNamespacesEdge(db, clusterId, bound, 'newest-before')
}

/** The oldest version at or after `bound` (for the start of a top-growers window). */
export function readNamespacesFrom(db: Queryable, clusterId: number, bound?: Bound): Promise<NamespaceSnapshot | null> {
  return readNamespacesEdge(db, clusterId, bound, 'oldest-after')
}

async function readNamespacesEdge(
  db: Queryable,
  clusterId: number,
  bound: Bound | undefined,
  edge: 'newest-before' | 'oldest-after',
): Promise<NamespaceSnapshot | null> {
  const values: unknown[] = [clusterId]
  const where = `cluster_id = $1${boundSql(bound, edge === 'newest-before' ? '<=' : '>=', values)}`
  const { rows } = await db.query(
    `SELECT number, created_at, namespaces FROM version_stats WHERE ${where} ORDER BY number ${edge === 'newest-before' ? 'DESC' : 'ASC'} LIMIT 1`,
    values,
  )
  const row = rows[0]
  return row ? { version: row.number, createdAt: new Date(row.created_at), namespaces: row.namespaces } : null
}

/** One namespace's counts across versions in a range (growth by namespace). */
export async function readNamespaceSeries(
  db: Queryable,
  clusterId: number,
  namespace: string,
  range: { from?: Bound; to?: Bound } = {},
): Promise<Array<{ version: number; createdAt: Date; counts: NamespaceCounts | null }>> {
  const values: unknown[] = [clusterId, namespace]
  const where = `cluster_id = $1${boundSql(range.from, '>=', values)}${boundSql(range.to, '<=', values)}`
  const { rows } = await db.query(`SELECT number, created_at, namespaces -> $2 AS counts FROM version_stats WHERE ${where} ORDER BY number`, values)
  return rows.map((r) => ({ version: r.number, createdAt: new Date(r.created_at), counts: r.counts ?? null }))
}

/** Full row of one version (for the cleanup/summary views and the UI). */
export async function readVersionStats(db: Queryable, clusterId: number, version: number): Promise<VersionStatsRecord | null> {
  const { rows } = await db.query('SELECT * FROM version_stats WHERE cluster_id = $1 AND number = $2', [clusterId, version])
  const row = rows[0]
  if (!row) return null
  const rec: Record<string, unknown> = {
    versionId: row.version_id,
    clusterId: row.cluster_id,
    number: row.number,
    createdAt: new Date(row.created_at),
    servicePortsByType: row.service_ports_by_type,
    namespaces: row.namespaces,
    detail: row.detail,
  }
  for (const [metric, column] of Object.entries(METRIC_COLUMNS)) rec[metric] = row[column] === null ? null : Number(row[column])
  return rec as unknown as VersionStatsRecord
}

/**
 * Versions that have no statistics row yet (created before this table, or by a path that did not
 * call the hook), oldest first; `clusterId` limits it to one cluster.
 */
export async function versionsWithoutStats(
  db: Queryable,
  opts: { clusterId?: number; limit?: number } = {},
): Promise<Array<{ versionId: string; clusterId: number; cluster: string; number: number; createdAt: Date }>> {
  const values: unknown[] = [opts.limit ?? 100]
  let where = 's.version_id IS NULL'
  if (opts.clusterId !== undefined) {
    values.push(opts.clusterId)
    where += ' AND v.cluster_id = $2'
  }
  const { rows } = await db.query(
    `SELECT v.id, v.cluster_id, c.name, v.number, v.created_at FROM versions v
       JOIN clusters c ON c.id = v.cluster_id
       LEFT JOIN version_stats s ON s.version_id = v.id
      WHERE ${where} ORDER BY v.cluster_id, v.number LIMIT $1`,
    values,
  )
  return rows.map((r) => ({ versionId: String(r.id), clusterId: r.cluster_id, cluster: r.name, number: r.number, createdAt: new Date(r.created_at) }))
}
