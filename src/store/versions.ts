/**
 * Clusters and their numbered, immutable versions.
 *
 * Numbering: the cluster row holds the counter. The ingest transaction locks that row
 * (SELECT … FOR UPDATE), re-checks "identical to the latest?", then bumps the counter with
 * UPDATE … RETURNING and inserts the version — so concurrent ingests serialise only for
 * those few statements, numbers are gap-free, and none is lost or duplicated
 * (UNIQUE (cluster_id, number) backs this up).
 *
 * SQL on pg rather than Prisma Client: bench/prisma.ts times these reads both ways, and Prisma
 * costs more than 10 % on each (docs/storage.md, "Prisma Client or SQL").
 */
import type { PlanWarning } from '../planner/types.js'
import { scriptLines, type ClusterSummary, type LatestGaugeRow, type VersionCounts, type VersionKind, type VersionSummary } from './records.js'
import { num, type Queryable } from './db.js'

export interface LockedCluster {
  id: number
  lastVersion: number
}

/** Creates the cluster if needed and locks its row until the transaction ends. */
export async function lockCluster(db: Queryable, name: string): Promise<LockedCluster> {
  await db.query('INSERT INTO clusters (name) VALUES ($1) ON CONFLICT (name) DO NOTHING', [name])
  const res = await db.query<{ id: number; last_version: number }>('SELECT id, last_version FROM clusters WHERE name = $1 FOR UPDATE', [name])
  const row = res.rows[0]!
  return { id: row.id, lastVersion: row.last_version }
}

/** The latest version's snapshot hash, or null for an unknown/empty cluster. */
export async function latestSnapshotSha(db: Queryable, cluster: string): Promise<string | null> {
  const res = await db.query<{ h: string }>(
    `SELECT encode(s.sha256, 'hex') AS h FROM clusters c
     JOIN versions v ON v.cluster_id = c.id AND v.number = c.last_version
     JOIN snapshots s ON s.id = v.snapshot_id
     WHERE c.name = $1`,
    [cluster],
  )
  return res.rows[0]?.h ?? null
}

export interface NewVersion {
  clusterId: number
  kind: VersionKind
  actor: string
  reason: string | null
  sourceVersion: number | null
  snapshotId: number
  planId: number
  counts: VersionCounts
}

/** Allocates the next number and inserts the version; call with the cluster row locked. */
export async function insertVersion(db: Queryable, v: NewVersion): Promise<number> {
  const bumped = await db.query<{ n: number }>('UPDATE clusters SET last_version = last_version + 1 WHERE id = $1 RETURNING last_version AS n', [v.clusterId])
  const number = bumped.rows[0]!.n
  await db.query(
    `INSERT INTO versions (cluster_id, number, kind, actor, reason, source_version, snapshot_id, plan_id, counts)
     VALUES ($1, $2, $3::"VersionKind", $4, $5, $6, $7, $8, $9::jsonb)`,
    [v.clusterId, number, v.kind, v.actor, v.reason, v.sourceVersion, v.snapshotId, v.planId, JSON.stringify(v.counts)],
  )
  return number
}

const SUMMARY_COLUMNS = `c.name AS cluster, v.number, v.kind, v.created_at, v.actor, v.reason, v.source_version,
  encode(s.sha256, 'hex') AS snapshot_sha256, encode(p.sha256, 'hex') AS plan_sha256, v.counts, p.warnings,
  v.snapshot_id, v.plan_id`
const SUMMARY_JOINS = `FROM versions v JOIN clusters c ON c.id = v.cluster_id
  JOIN snapshots s ON s.id = v.snapshot_id JOIN plans p ON p.id = v.plan_id`

interface SummaryRow {
  cluster: string
  number: number
  kind: VersionKind
  created_at: Date
  actor: string
  reason: string | null
  source_version: number | null
  snapshot_sha256: string
  plan_sha256: string
  counts: VersionCounts
  warnings: PlanWarning[]
  snapshot_id: string
  plan_id: string
}

/** A version summary plus the ids the services need to load its content. */
export interface VersionRow {
  summary: VersionSummary
  snapshotId: number
  planId: number
}

function toRow(r: SummaryRow): VersionRow {
  return {
    summary: {
      cluster: r.cluster,
      version: r.number,
      kind: r.kind,
      createdAt: r.created_at.toISOString(),
      actor: r.actor,
      reason: r.reason,
      sourceVersion: r.source_version,
      snapshotSha256: r.snapshot_sha256,
      planSha256: r.plan_sha256,
      counts: r.counts,
      warnings: r.warnings,
    },
    snapshotId: num(r.snapshot_id),
    planId: num(r.plan_id),
  }
}

/** One version by number, or the latest when `number` is 'latest'. */
export async function findVersion(db: Queryable, cluster: string, number: number | 'latest'): Promise<VersionRow | null> {
  const res =
    number === 'latest'
      ? await db.query<SummaryRow>(`SELECT ${SUMMARY_COLUMNS} ${SUMMARY_JOINS} WHERE c.name = $1 AND v.number = c.last_version`, [cluster])
      : await db.query<SummaryRow>(`SELECT ${SUMMARY_COLUMNS} ${SUMMARY_JOINS} WHERE c.name = $1 AND v.number = $2`, [cluster, number])
  return res.rows[0] ? toRow(res.rows[0]) : null
}

/** Newest first, numbers strictly below `before` (when given). */
export async function listVersionRows(db: Queryable, clusterId: number, limit: number, before: number | null): Promise<VersionRow[]> {
  const res = await db.query<SummaryRow>(
    `SELECT ${SUMMARY_COLUMNS} ${SUMMARY_JOINS}
     WHERE v.cluster_id = $1 AND ($2::int IS NULL OR v.number < $2)
     ORDER BY v.number DESC LIMIT $3`,
    [clusterId, before, limit],
  )
  return res.rows.map(toRow)
}

/** Many (cluster, number) pairs in one round trip; null where absent, in input order. */
export async function findVersions(db: Queryable, keys: ReadonlyArray<{ cluster: string; version: number }>): Promise<Array<VersionRow | null>> {
  if (keys.length === 0) return []
  const res = await db.query<SummaryRow & { ord: string }>(
    `SELECT k.ord, ${SUMMARY_COLUMNS}
     FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS k(cluster, number, ord)
     JOIN clusters c ON c.name = k.cluster
     JOIN versions v ON v.cluster_id = c.id AND v.number = k.number
     JOIN snapshots s ON s.id = v.snapshot_id JOIN plans p ON p.id = v.plan_id`,
    [keys.map((k) => k.cluster), keys.map((k) => k.version)],
  )
  const out: Array<VersionRow | null> = keys.map(() => null)
  for (const r of res.rows) out[num(r.ord) - 1] = toRow(r)
  return out
}

export async function findCluster(db: Queryable, name: string): Promise<LockedCluster | null> {
  const res = await db.query<{ id: number; last_version: number }>('SELECT id, last_version FROM clusters WHERE name = $1', [name])
  return res.rows[0] ? { id: res.rows[0].id, lastVersion: res.rows[0].last_version } : null
}

/**
 * Clusters by name, after `after` (exclusive), or the one cluster `name`. Versions can be pruned,
 * so the count is counted, not taken from the numbering counter.
 */
export async function listClusterRows(db: Queryable, limit: number, after: string | null, name?: string): Promise<ClusterSummary[]> {
  const res = await db.query<{ name: string; created_at: Date; latest: number | null; n: string }>(
    `SELECT c.name, c.created_at,
            (SELECT max(v.number) FROM versions v WHERE v.cluster_id = c.id) AS latest,
            (SELECT count(*) FROM versions v WHERE v.cluster_id = c.id) AS n
       FROM clusters c
      WHERE ($1::text IS NULL OR c.name > $1) AND ($3::text IS NULL OR c.name = $3)
      ORDER BY c.name LIMIT $2`,
    [after, limit, name ?? null],
  )
  return res.rows.map((r) => ({
    name: r.name,
    createdAt: r.created_at.toISOString(),
    latestVersion: r.latest,
    versions: Number(r.n),
  }))
}

/** Every cluster's latest version counts (for /metrics gauges). */
export async function latestGauges(db: Queryable): Promise<LatestGaugeRow[]> {
  const res = await db.query<{
    name: string
    number: number
    created_at: Date
    counts: VersionCounts
    kube_services: number | null
    nodes: Array<{
      node: string
      kubeServices: number
      scriptBytes: string
      natRules: number
      filterRules: number
      natChains: number
      filterChains: number
    }> | null
  }>(
    `SELECT c.name, v.number, v.created_at, v.counts, s.kube_services_rules AS kube_services,
            (SELECT json_agg(json_build_object('node', n.node, 'kubeServices', n.kube_services_rules, 'scriptBytes', n.script_bytes,
                                               'natRules', n.nat_rules, 'filterRules', n.filter_rules,
                                               'natChains', n.nat_chains, 'filterChains', n.filter_chains) ORDER BY n.node)
             FROM node_stats n WHERE n.version_id = v.id) AS nodes
     FROM clusters c
     JOIN versions v ON v.cluster_id = c.id AND v.number = c.last_version
     LEFT JOIN version_stats s ON s.version_id = v.id
     ORDER BY c.name`,
  )
  return res.rows.map((r) => {
    const tables = Object.values(r.counts.families).flatMap((f) => (f ? [f.filter, f.nat] : []))
    // node_stats adds a node's families up per table; each family frames its two tables.
    const families = tables.length / 2
    return {
      cluster: r.name,
      version: r.number,
      createdAt: r.created_at,
      scriptBytes: r.counts.scriptBytes,
      kubeServices: r.kube_services,
      scriptLines: scriptLines(tables),
      nodes: (r.nodes ?? []).map(({ natChains, filterChains, ...n }) => ({
        ...n,
        scriptBytes: Number(n.scriptBytes),
        scriptLines: 4 * families + natChains + filterChains + n.natRules + n.filterRules,
      })),
    }
  })
}

export async function latestCounts(db: Queryable): Promise<Array<{ cluster: string; version: number; counts: VersionCounts }>> {
  const res = await db.query<{ name: string; number: number; counts: VersionCounts }>(
    `SELECT c.name, v.number, v.counts FROM clusters c
     JOIN versions v ON v.cluster_id = c.id AND v.number = c.last_version ORDER BY c.name`,
  )
  return res.rows.map((r) => ({ cluster: r.name, version: r.number, counts: r.counts }))
}

/**
 * Inside an ingest transaction: does version `number` of the cluster still exist? Takes ACCESS
 * SHARE locks on objects and segments first, which keep garbage collection (ACCESS EXCLUSIVE)
 * out until commit, so the rows that version references cannot vanish meanwhile.
 */
export async function versionStillExists(db: Queryable, clusterId: number, number: number): Promise<boolean> {
  await db.query('LOCK TABLE objects, segments IN ACCESS SHARE MODE')
  const res = await db.query('SELECT 1 FROM versions WHERE cluster_id = $1 AND number = $2', [clusterId, number])
  return (res.rowCount ?? 0) > 0
}
