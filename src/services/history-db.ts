/** Shared plumbing of the history use-cases: transactions and version lookups (pages: ./pagination.ts). */
import type pg from 'pg'
export { inTransaction } from '../db/transaction.js'
import { clusterNotFound, versionNotFound } from '../errors.js'
import { findCluster, findVersion, type LockedCluster, type VersionRow } from '../store/versions.js'
import type { VersionRef } from './contract.js'
import { assertServable, type StoredVersionRef } from './servable.js'

export interface HistoryDb {
  pool: pg.Pool
}

/** Runs `fn` in one transaction on one pooled client; rolls back on any error. */
export async function requireCluster(db: pg.Pool | pg.PoolClient, cluster: string): Promise<LockedCluster> {
  const c = await findCluster(db, cluster)
  if (!c) throw clusterNotFound(cluster)
  return c
}

/** Locks an EXISTING cluster's row (the version counter) until the transaction ends. */
export async function lockExistingCluster(client: pg.PoolClient, cluster: string): Promise<LockedCluster> {
  const res = await client.query<{ id: number; last_version: number }>('SELECT id, last_version FROM clusters WHERE name = $1 FOR UPDATE', [cluster])
  const row = res.rows[0]
  if (!row) throw clusterNotFound(cluster)
  return { id: row.id, lastVersion: row.last_version }
}

export const servableRef = (row: VersionRow): StoredVersionRef => ({
  cluster: row.summary.cluster,
  version: row.summary.version,
  planId: row.planId,
  snapshotId: row.snapshotId,
})

/**
 * A version whose content is about to be read (plan, scripts, diffs, rollbacks): found, and
 * servable (./servable.ts). `owner` is the pool the servable verdicts are kept for.
 */
export async function requireServableVersion(owner: pg.Pool, db: pg.Pool | pg.PoolClient, cluster: string, ref: VersionRef): Promise<VersionRow> {
  const row = await requireVersion(db, cluster, ref)
  await assertServable(owner, db, servableRef(row))
  return row
}

export async function requireVersion(db: pg.Pool | pg.PoolClient, cluster: string, ref: VersionRef): Promise<VersionRow> {
  const row = await findVersion(db, cluster, ref)
  if (row) return row
  await requireCluster(db, cluster)
  throw versionNotFound(cluster, ref)
}

/** Opaque cursors: base64url of a small JSON value. */
