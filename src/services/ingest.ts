/**
 * Ingest: validate → plan → store, as ONE transaction so a failure leaves no partial version.
 *
 * Order inside the transaction matters for concurrency: content rows first (each table in
 * sha256 order, so overlapping ingests wait for each other instead of deadlocking), the cluster
 * row lock last and briefly — re-check "identical to the latest version?" under that lock,
 * then take the next number.
 */
import { plan, toEnvelope } from '../planner/index.js'
import type { Database } from '../db/index.js'
import { ValidationError } from '../errors.js'
import { putPlan } from '../store/plans.js'
import { putSnapshot } from '../store/snapshots.js'
import { recordVersionStats } from '../store/stats-record.js'
import { findVersion, insertVersion, latestSnapshotSha, lockCluster } from '../store/versions.js'
import { recordDuplicateIngest, recordIngestEvent } from '../store/history.js'
import { canonicalSnapshot, planContent, versionCounts } from './content.js'
import type { IngestInput, IngestResult, VersionSummary } from './contract.js'

/** Where an ingest spent its time (for benchmarks and debug logs). */
export interface IngestStats {
  created: boolean
  /** toEnvelope + canonical snapshot hashing */
  validateMs: number
  /** plan + segment hashes + counts (0 when deduplicated before planning) */
  planMs: number
  /** the transaction */
  storeMs: number
  /** Content rows newly written (objects + segments): the churn this version added. */
  insertedContent: number
}

export async function ingest(db: Database, input: IngestInput, onStats?: (s: IngestStats) => void): Promise<IngestResult> {
  const t0 = performance.now()
  const stats: IngestStats = { created: false, validateMs: 0, planMs: 0, storeMs: 0, insertedContent: 0 }
  const report = <T>(r: T): T => {
    onStats?.(stats)
    return r
  }
  const parsed = toEnvelope(input.document, input.proxy)
  if (!parsed.ok) throw new ValidationError('The snapshot is not valid.', parsed.issues)
  const snapshot = canonicalSnapshot(parsed.envelope)
  const t1 = performance.now()
  stats.validateMs = t1 - t0

  // Cheap early exit before planning: agents re-POST unchanged snapshots all the time.
  if ((await latestSnapshotSha(db.pool, input.cluster)) === snapshot.sha256) {
    const existing = await findVersion(db.pool, input.cluster, 'latest')
    if (existing && existing.summary.snapshotSha256 === snapshot.sha256) {
      await recordDuplicateIngest(db.pool, { cluster: input.cluster, version: existing.summary.version, actor: input.actor })
      stats.storeMs = performance.now() - t1
      return report({ created: false, version: existing.summary })
    }
  }

  const p = plan(parsed.envelope)
  const content = planContent(p)
  const counts = versionCounts(p)
  const t2 = performance.now()
  stats.planMs = t2 - t1

  const client = await db.pool.connect()
  try {
    await client.query('BEGIN')
    const snap = await putSnapshot(client, snapshot)
    const pl = await putPlan(client, content)
    const cluster = await lockCluster(client, input.cluster)
    if ((await latestSnapshotSha(client, input.cluster)) === snapshot.sha256) {
      // Lost the race to an identical concurrent ingest: nothing of ours is kept.
      await client.query('ROLLBACK')
      const existing = await findVersion(db.pool, input.cluster, 'latest')
      await recordDuplicateIngest(db.pool, { cluster: input.cluster, version: existing!.summary.version, actor: input.actor })
      stats.storeMs = performance.now() - t2
      return report({ created: false, version: existing!.summary })
    }
    const number = await insertVersion(client, {
      clusterId: cluster.id,
      kind: 'snapshot',
      actor: input.actor,
      reason: null,
      sourceVersion: null,
      snapshotId: snap.id,
      planId: pl.id,
      counts,
    })
    // History (src/store/history.ts): the event commits with the version it records.
    await recordIngestEvent(client, { clusterId: cluster.id, created: true, version: number, actor: input.actor })
    // Growth statistics, in the same transaction (src/store/stats-record.ts).
    await recordVersionStats(client, { clusterId: cluster.id, number, plan: p, keys: content.families.map((f) => f.segments.map((s) => s.sha256)) })
    const row = await findVersion(client, input.cluster, number)
    await client.query('COMMIT')
    Object.assign(stats, { created: true, storeMs: performance.now() - t2, insertedContent: snap.insertedContent + pl.insertedContent })
    return report({ created: true, version: row!.summary as VersionSummary })
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {})
    throw err
  } finally {
    client.release()
  }
}
