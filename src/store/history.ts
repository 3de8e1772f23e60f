/**
 * The history of a cluster: one row per event, written with the same client (so in the same
 * transaction) as the change it records — an event exists exactly when its change committed.
 *
 * SQL on pg rather than Prisma Client: bench/prisma.ts times these reads both ways, and Prisma
 * costs more than 10 % on each (docs/storage.md, "Prisma Client or SQL").
 */
import { num, type Queryable } from './db.js'
import type { HistoryEventRow, HistoryEventType } from './records.js'

export { HISTORY_EVENT_TYPES, type HistoryEventRow, type HistoryEventType } from './records.js'

export interface NewHistoryEvent {
  clusterId: number
  type: HistoryEventType
  actor: string
  reason?: string | null
  version?: number | null
  fromVersion?: number | null
  toVersion?: number | null
  backupId?: string | null
  details?: Record<string, unknown>
}

export async function insertHistoryEvent(db: Queryable, e: NewHistoryEvent): Promise<number> {
  const res = await db.query<{ id: string }>(
    `INSERT INTO history_events (cluster_id, type, actor, reason, version, from_version, to_version, backup_id, details)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8::uuid, $9::jsonb) RETURNING id`,
    [
      e.clusterId,
      e.type,
      e.actor,
      e.reason ?? null,
      e.version ?? null,
      e.fromVersion ?? null,
      e.toVersion ?? null,
      e.backupId ?? null,
      JSON.stringify(e.details ?? {}),
    ],
  )
  return num(res.rows[0]!.id)
}

/**
 * The hook ingest calls inside its transaction: `snapshot.ingested` for a new version,
 * `snapshot.duplicate` when the snapshot equalled the latest version and nothing was stored.
 */
export async function recordIngestEvent(db: Queryable, e: { clusterId: number; created: boolean; version: number; actor: string }): Promise<void> {
  await insertHistoryEvent(db, {
    clusterId: e.clusterId,
    type: e.created ? 'snapshot.ingested' : 'snapshot.duplicate',
    actor: e.actor,
    version: e.version,
  })
}

export interface HistoryFilter {
  types?: readonly HistoryEventType[]
  /** Inclusive lower / exclusive upper bound on created_at. */
  since?: Date
  until?: Date
  /** Only events with an id below this (the cursor). */
  beforeId?: number
  limit: number
}

interface EventDbRow {
  id: string
  cluster: string
  type: HistoryEventType
  created_at: Date
  actor: string
  reason: string | null
  version: number | null
  from_version: number | null
  to_version: number | null
  backup_id: string | null
  details: Record<string, unknown>
}

/** Newest first (by id, which follows commit order closely enough and is a stable cursor). */
export async function listHistoryEvents(db: Queryable, clusterId: number, f: HistoryFilter): Promise<HistoryEventRow[]> {
  const res = await db.query<EventDbRow>(
    `SELECT e.id, c.name AS cluster, e.type, e.created_at, e.actor, e.reason, e.version, e.from_version, e.to_version,
            e.backup_id, e.details
     FROM history_events e JOIN clusters c ON c.id = e.cluster_id
     WHERE e.cluster_id = $1
       AND ($2::text[] IS NULL OR e.type = ANY($2::text[]))
       AND ($3::timestamptz IS NULL OR e.created_at >= $3)
       AND ($4::timestamptz IS NULL OR e.created_at < $4)
       AND ($5::int8 IS NULL OR e.id < $5)
     ORDER BY e.id DESC LIMIT $6`,
    [clusterId, f.types && f.types.length > 0 ? f.types : null, f.since ?? null, f.until ?? null, f.beforeId ?? null, f.limit],
  )
  return res.rows.map((r) => ({
    id: num(r.id),
    cluster: r.cluster,
    type: r.type,
    createdAt: r.created_at.toISOString(),
    actor: r.actor,
    reason: r.reason,
    version: r.version,
    fromVersion: r.from_version,
    toVersion: r.to_version,
    backupId: r.backup_id,
    details: r.details,
  }))
}

export async function deleteHistoryEvents(db: Queryable, clusterId: number): Promise<void> {
  await db.query('DELETE FROM history_events WHERE cluster_id = $1', [clusterId])
}

/**
 * `snapshot.duplicate` for a snapshot identical to the latest version: nothing else was
 * written, so this single statement is the whole change (the cluster is found by name).
 */
export async function recordDuplicateIngest(db: Queryable, e: { cluster: string; version: number; actor: string }): Promise<void> {
  await db.query(
    `INSERT INTO history_events (cluster_id, type, actor, version)
     SELECT id, 'snapshot.duplicate', $2, $3 FROM clusters WHERE name = $1`,
    [e.cluster, e.actor, e.version],
  )
}
