/**
 * Per-node statistics of a version (prisma/schema.prisma NodeStats): written in the version's
 * transaction, read for growth per node and the spread across nodes.
 */
import type { Queryable } from './db.js'
import type { PrismaClient } from '../generated/prisma/client.js'
import type { Bound } from './stats.js'
import type { NodePoint, NodeSpreadPoint } from './records.js'

export type { NodePoint, NodeSpreadPoint } from './records.js'

/** A growth range as a Prisma filter: bounds are version numbers or times. */
function rangeWhere(range: { from?: Bound; to?: Bound }): { number?: { gte?: number; lte?: number }; createdAt?: { gte?: Date; lte?: Date } } {
  const number: { gte?: number; lte?: number } = {}
  const createdAt: { gte?: Date; lte?: Date } = {}
  for (const [b, op] of [
    [range.from, 'gte'],
    [range.to, 'lte'],
  ] as const) {
    if (!b) continue
    if ('version' in b) number[op] = b.version
    else createdAt[op] = b.at
  }
  return { number, createdAt }
}

export interface NodeStatsRow {
  node: string
  variant: number
  natChains: number
  natRules: number
  filterChains: number
  filterRules: number
  kubeServices: number
  scriptBytes: number
}

/**
 * The rows of version `number` of cluster `clusterId`. Raw SQL: it runs on the ingest's own pg
 * transaction client (Prisma's client would take another connection, outside the transaction),
 * and one INSERT … SELECT FROM unnest() writes 5,000 rows in one round trip.
 */
export async function insertNodeStats(db: Queryable, clusterId: number, number: number, rows: readonly NodeStatsRow[]): Promise<void> {
  if (rows.length === 0) return
  const col = <K extends keyof NodeStatsRow>(k: K) => rows.map((r) => r[k])
  await db.query(
    `INSERT INTO node_stats (version_id, cluster_id, number, created_at, node, variant, nat_chains, nat_rules, filter_chains, filter_rules, kube_services_rules, script_bytes)
     SELECT v.id, v.cluster_id, v.number, v.created_at, u.*
     FROM versions v, unnest($3::text[], $4::int[], $5::int[], $6::int[], $7::int[], $8::int[], $9::int[], $10::bigint[]) AS u
     WHERE v.cluster_id = $1 AND v.number = $2`,
    [
      clusterId,
      number,
      col('node'),
      col('variant'),
      col('natChains'),
      col('natRules'),
      col('filterChains'),
      col('filterRules'),
      col('kubeServices'),
      col('scriptBytes'),
    ],
  )
}

/** A rollback's version has its source's nodes: their rows, copied. */
export async function copyNodeStats(db: Queryable, clusterId: number, from: number, to: number): Promise<void> {
  await db.query(
    `INSERT INTO node_stats (version_id, cluster_id, number, created_at, node, variant, nat_chains, nat_rules, filter_chains, filter_rules, kube_services_rules, script_bytes)
     SELECT t.id, t.cluster_id, t.number, t.created_at, s.node, s.variant, s.nat_chains, s.nat_rules, s.filter_chains, s.filter_rules, s.kube_services_rules, s.script_bytes
     FROM node_stats s JOIN versions t ON t.cluster_id = s.cluster_id AND t.number = $3
     WHERE s.cluster_id = $1 AND s.number = $2`,
    [clusterId, from, to],
  )
}

/** Per version in [from, to], oldest first: the spread across its nodes (Prisma's groupBy). */
export async function readNodeSpread(prisma: PrismaClient, clusterId: number, range: { from?: Bound; to?: Bound }): Promise<NodeSpreadPoint[]> {
  const where = { clusterId, ...rangeWhere(range) }
  const groups = await prisma.nodeStats.groupBy({
    by: ['number', 'createdAt'],
    where,
    orderBy: { number: 'asc' },
    _count: { node: true },
    _min: { natRules: true, kubeServices: true, scriptBytes: true },
    _max: { natRules: true, kubeServices: true, scriptBytes: true, variant: true },
  })
  return groups.map((g) => ({
    version: g.number,
    createdAt: g.createdAt,
    nodes: g._count.node,
    variants: (g._max.variant ?? -1) + 1,
    natRules: { min: g._min.natRules ?? 0, max: g._max.natRules ?? 0 },
    kubeServices: { min: g._min.kubeServices ?? 0, max: g._max.kubeServices ?? 0 },
    scriptBytes: { min: Number(g._min.scriptBytes ?? 0), max: Number(g._max.scriptBytes ?? 0) },
  }))
}

/** One node's rows in [from, to], oldest first. */
export async function readNodeSeries(prisma: PrismaClient, clusterId: number, node: string, range: { from?: Bound; to?: Bound }): Promise<NodePoint[]> {
  const rows = await prisma.nodeStats.findMany({
    where: { clusterId, node, ...rangeWhere(range) },
    orderBy: { number: 'asc' },
    select: {
      number: true,
      createdAt: true,
      variant: true,
      natChains: true,
      natRules: true,
      filterChains: true,
      filterRules: true,
      kubeServices: true,
      scriptBytes: true,
    },
  })
  return rows.map(({ number, scriptBytes, ...r }) => ({ version: number, ...r, scriptBytes: Number(scriptBytes) }))
}
