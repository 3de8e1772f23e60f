/**
 * Rollback: a NEW version whose content is an older version's, by reference — the version row
 * points at the same snapshot and plan rows, nothing is copied. Versions stay immutable; the
 * history says who rolled back, to what, and why.
 *
 * Numbering shares ingest's discipline (src/store/versions.ts): the cluster row is locked with
 * SELECT … FOR UPDATE before the counter is bumped, so concurrent rollbacks and ingests queue on
 * that row and never share a number.
 */
import type pg from 'pg'
import { ConflictError, versionNotFound } from '../errors.js'
import { insertHistoryEvent } from '../store/history.js'
import { findVersion, insertVersion } from '../store/versions.js'
import { loadPlan } from '../store/plans.js'
import { recordVersionStats } from './stats-record.js'
import { copyNodeStats } from '../store/node-stats.js'
import type { Plan } from '../planner/types.js'
import { inTransaction, lockExistingCluster, requireServableVersion } from './history-db.js'
import type { RollbackInput, RollbackResult } from './history-types.js'

function conflict(input: RollbackInput, latest: number): ConflictError {
  return new ConflictError(
    `version ${latest}, the latest of cluster "${input.cluster}", already has the content of version ` + `${input.toVersion}; a rollback would change nothing`,
  )
}

/**
 * The target's plan, loaded BEFORE the cluster row is locked (it feeds the growth statistics;
 * loading a 10k-service plan takes ~100 ms that ingests of the cluster should not wait for).
 * Versions are immutable, so the plan cannot change in between; the checks are repeated under
 * the lock.
 */
async function preload(pool: pg.Pool, input: RollbackInput): Promise<Plan> {
  const target = await requireServableVersion(pool, pool, input.cluster, input.toVersion)
  const latest = await findVersion(pool, input.cluster, 'latest')
  if (latest && latest.planId === target.planId && latest.snapshotId === target.snapshotId) throw conflict(input, latest.summary.version)
  return (await loadPlan(pool, target.planId)).plan
}

export async function rollback(pool: pg.Pool, input: RollbackInput): Promise<RollbackResult> {
  const plan = await preload(pool, input)
  return inTransaction(pool, async (client) => {
    const cluster = await lockExistingCluster(client, input.cluster)
    const target = await findVersion(client, input.cluster, input.toVersion)
    if (!target) throw versionNotFound(input.cluster, input.toVersion)
    const latest = await findVersion(client, input.cluster, 'latest')
    if (!latest) throw versionNotFound(input.cluster, 'latest')
    if (latest.snapshotId === target.snapshotId && latest.planId === target.planId) throw conflict(input, latest.summary.version)
    const number = await insertVersion(client, {
      clusterId: cluster.id,
      kind: 'rollback',
      actor: input.actor,
      reason: input.reason,
      sourceVersion: input.toVersion,
      snapshotId: target.snapshotId,
      planId: target.planId,
      counts: target.summary.counts,
    })
    // Growth statistics for the new version (src/services/stats-record.ts), in this transaction.
    await recordVersionStats(client, { clusterId: cluster.id, number, plan })
    await copyNodeStats(client, cluster.id, input.toVersion, number)
    await insertHistoryEvent(client, {
      clusterId: cluster.id,
      type: 'rollback',
      actor: input.actor,
      reason: input.reason,
      version: number,
      fromVersion: latest.summary.version,
      toVersion: input.toVersion,
    })
    const created = await findVersion(client, input.cluster, number)
    return { version: created!.summary, replaced: latest.summary.version }
  })
}
