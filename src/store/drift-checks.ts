/**
 * The last drift check of each node and family (prisma/schema.prisma DriftCheck): written by
 * every POST …/drift, read by /metrics. Plain relational rows, so Prisma Client does both.
 */
import type { PrismaClient } from '../generated/prisma/client.js'
import type { DriftCheckRow, DriftSummary } from './records.js'

export type { DriftCheckRow, DriftSummary } from './records.js'

/** Replaces the node's last check of `family` (a cluster deleted meanwhile writes nothing). */
export async function recordDriftCheck(prisma: PrismaClient, row: DriftCheckRow): Promise<void> {
  const cluster = await prisma.cluster.findUnique({ where: { name: row.cluster }, select: { id: true } })
  if (!cluster) return
  const data = { version: row.version, checkedAt: row.checkedAt, inSync: row.inSync, summary: row.summary }
  await prisma.driftCheck.upsert({
    where: { clusterId_node_family: { clusterId: cluster.id, node: row.node, family: row.family } },
    create: { clusterId: cluster.id, node: row.node, family: row.family, ...data },
    update: data,
  })
}

/** Every cluster's last checks, by cluster, node and family. */
export async function lastDriftChecks(prisma: PrismaClient): Promise<DriftCheckRow[]> {
  const rows = await prisma.driftCheck.findMany({
    orderBy: [{ clusterId: 'asc' }, { node: 'asc' }, { family: 'asc' }],
    include: { cluster: { select: { name: true } } },
  })
  return rows.map((r) => ({
    cluster: r.cluster.name,
    node: r.node,
    family: r.family,
    version: r.version,
    checkedAt: r.checkedAt,
    inSync: r.inSync,
    summary: r.summary as unknown as DriftSummary,
  }))
}
