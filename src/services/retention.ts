/**
 * Retention: pruning old versions, deleting clusters, and garbage-collecting content rows no
 * version references any more.
 *
 * A version is pruned when it falls outside ANY of the given limits — beyond the newest `keep`
 * versions, or created before `olderThan` — and it is never the latest (the node's current
 * state must stay servable). Backups are self-contained archives, so pruning never touches them.
 *
 * Garbage collection runs in its own transaction after the prune/delete committed. It takes
 * ACCESS EXCLUSIVE locks on the content tables: an ingest that already looked up existing
 * object/segment ids holds a lock on those tables until it commits, so GC waits for it and can
 * never delete a row such an ingest is about to reference; later ingests wait for GC.
 */
import type pg from 'pg'
import type { RetentionPolicy } from '../config.js'
import { BadRequestError, NotFoundError } from '../errors.js'
import { decodeIds } from '../store/manifest.js'
import { deleteHistoryEvents, insertHistoryEvent } from '../store/history.js'
import { inTransaction, lockExistingCluster } from './history-db.js'
import type { PruneInput, PruneResult } from './history-types.js'

export function policyIsActive(p: RetentionPolicy): boolean {
  return p.keepVersions !== undefined || p.keepDays !== undefined
}

export async function prune(pool: pg.Pool, input: PruneInput): Promise<PruneResult> {
  if (input.keep === undefined && input.olderThan === undefined) {
    throw new BadRequestError('say what to prune: keep, olderThan or both', [{ pointer: '/keep', detail: 'keep or olderThan is required' }])
  }
  if (input.keep !== undefined && (!Number.isInteger(input.keep) || input.keep < 1)) {
    throw new BadRequestError('keep must be a positive integer (the latest version is always kept)', [{ pointer: '/keep', detail: 'must be >= 1' }])
  }
  const cutoff = input.olderThan === undefined ? undefined : new Date(input.olderThan)
  if (cutoff && Number.isNaN(cutoff.getTime())) {
    throw new BadRequestError('olderThan must be an ISO 8601 date-time', [{ pointer: '/olderThan', detail: 'not a date-time' }])
  }
  const result = await inTransaction(pool, async (client) => {
    const cluster = await lockExistingCluster(client, input.cluster)
    const res = await client.query<{ number: number; created_at: Date }>('SELECT number, created_at FROM versions WHERE cluster_id = $1 ORDER BY number DESC', [
      cluster.id,
    ])
    const doomed = res.rows
      .filter(
        (r, rank) => r.number !== cluster.lastVersion && ((input.keep !== undefined && rank >= input.keep) || (cutoff !== undefined && r.created_at < cutoff)),
      )
      .map((r) => r.number)
      .sort((a, b) => a - b)
    if (doomed.length > 0 && !input.dryRun) {
      await client.query('DELETE FROM versions WHERE cluster_id = $1 AND number = ANY($2::int[])', [cluster.id, doomed])
      await insertHistoryEvent(client, {
        clusterId: cluster.id,
        type: 'versions.pruned',
        actor: input.actor,
        reason: input.reason ?? null,
        fromVersion: doomed[0]!,
        toVersion: doomed[doomed.length - 1]!,
        details: { versions: doomed, keep: input.keep ?? null, olderThan: cutoff?.toISOString() ?? null },
      })
    }
    return { pruned: doomed, kept: res.rows.length - doomed.length }
  })
  const collected = result.pruned.length > 0 && !input.dryRun ? await collectGarbage(pool) : { snapshots: 0, plans: 0, objects: 0, segments: 0 }
  return { cluster: input.cluster, dryRun: input.dryRun === true, ...result, collected }
}

/** Removes a cluster with its versions and history; its backups stay (re-importable). */
export async function deleteCluster(pool: pg.Pool, cluster: string): Promise<{ cluster: string; versions: number }> {
  const versions = await inTransaction(pool, async (client) => {
    const c = await lockExistingCluster(client, cluster)
    const counted = await client.query<{ n: string }>('SELECT count(*) AS n FROM versions WHERE cluster_id = $1', [c.id])
    await deleteHistoryEvents(client, c.id)
    await client.query('DELETE FROM clusters WHERE id = $1', [c.id])
    return Number(counted.rows[0]!.n)
  })
  await collectGarbage(pool)
  return { cluster, versions }
}

/** Snapshots/plans no version uses, then objects/segments no remaining manifest lists. */
export async function collectGarbage(pool: pg.Pool): Promise<PruneResult['collected']> {
  try {
    return await inTransaction(pool, (client) => collectIn(client))
  } catch (err) {
    // GC is best-effort and idempotent: when the locks are not granted quickly (busy ingests),
    // the rows stay until the next prune, delete or retention sweep collects them.
    if ((err as { code?: string }).code === '55P03' || (err as { code?: string }).code === '40P01') {
      return { snapshots: 0, plans: 0, objects: 0, segments: 0 }
    }
    throw err
  }
}

async function collectIn(client: pg.PoolClient): Promise<PruneResult['collected']> {
  await client.query("SET LOCAL lock_timeout = '5s'")
  await client.query('LOCK TABLE snapshots, plans, objects, segments IN ACCESS EXCLUSIVE MODE')
  const snaps = await client.query<{ manifest: Buffer }>(
    'DELETE FROM snapshots s WHERE NOT EXISTS (SELECT 1 FROM versions v WHERE v.snapshot_id = s.id) RETURNING manifest',
  )
  const plans = await client.query<{ manifest: Buffer }>(
    'DELETE FROM plans p WHERE NOT EXISTS (SELECT 1 FROM versions v WHERE v.plan_id = p.id) RETURNING manifest',
  )
  const objects = await sweep(client, 'objects', 'snapshots', snaps.rows)
  const segments = await sweep(client, 'segments', 'plans', plans.rows)
  return { snapshots: snaps.rowCount ?? 0, plans: plans.rowCount ?? 0, objects, segments }
}

/** Deletes the rows the dropped manifests listed that no surviving manifest lists. */
async function sweep(
  client: pg.PoolClient,
  table: 'objects' | 'segments',
  owner: 'snapshots' | 'plans',
  dropped: Array<{ manifest: Buffer }>,
): Promise<number> {
  const candidates = new Set<number>()
  for (const r of dropped) for (const id of decodeIds(r.manifest)) candidates.add(id)
  if (candidates.size === 0) return 0
  const survivors = await client.query<{ manifest: Buffer }>(`SELECT manifest FROM ${owner}`)
  for (const r of survivors.rows) {
    for (const id of decodeIds(r.manifest)) candidates.delete(id)
    if (candidates.size === 0) return 0
  }
  const res = await client.query(`DELETE FROM ${table} WHERE id = ANY($1::int8[])`, [[...candidates]])
  return res.rowCount ?? 0
}

/**
 * The configured policy, applied to every cluster (or those in `only`), as actor `retention`.
 * `dryRun` (NATPLAN_RETAIN_DRY_RUN, or the GET /v1/retention preview) lists what it would remove.
 */
export async function sweepRetention(
  pool: pg.Pool,
  policy: RetentionPolicy,
  now = new Date(),
  only?: readonly string[],
  dryRun = policy.dryRun === true,
): Promise<PruneResult[]> {
  if (!policyIsActive(policy)) return []
  const clusters = await pool.query<{ name: string }>('SELECT name FROM clusters WHERE ($1::text[] IS NULL OR name = ANY($1)) ORDER BY name', [only ?? null])
  const olderThan = policy.keepDays === undefined ? undefined : new Date(now.getTime() - policy.keepDays * 86_400_000).toISOString()
  const results: PruneResult[] = []
  for (const { name } of clusters.rows) {
    try {
      const r = await prune(pool, { cluster: name, keep: policy.keepVersions, olderThan, actor: 'retention', reason: 'retention policy', dryRun })
      if (r.pruned.length > 0) results.push(r)
    } catch (err) {
      // Deleted between the listing and its prune: nothing left to retain.
      if (!(err instanceof NotFoundError)) throw err
    }
  }
  return results
}
