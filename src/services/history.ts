/**
 * The history use-cases: diffs between stored versions, rollbacks, the event
 * history, backups, imports and retention — `createHistoryServices(db)`, kept apart from the
 * core Services so each area evolves on its own; `Services.history` exposes it to the API.
 */
import type pg from 'pg'
import { guard } from '../db/errors.js'
import { BadRequestError } from '../errors.js'
import { HISTORY_EVENT_TYPES, listHistoryEvents, type HistoryEventType } from '../store/history.js'
import type { Page } from './contract.js'
import { createBackup, downloadBackup, getBackup, importBackup, listBackups, type ImportLimits } from './backup.js'
import { requireCluster } from './history-db.js'
import { decodeCursor, encodeCursor, pageSize } from './pagination.js'
import { diffJson, diffRestore, diffUnified } from './history-diff.js'
import { VersionNodes } from './nodes.js'
import type { HistoryEvent, HistoryQuery, HistoryServices } from './history-types.js'
import type { RetentionPolicy } from '../config.js'
import { deleteCluster, prune, sweepRetention } from './retention.js'
import { rollback } from './rollback.js'

export interface HistoryServicesOptions {
  /** The timed retention policy (config.ts, NATPLAN_RETAIN_*); default: none. */
  retention?: RetentionPolicy
  /** Import limits; default 64 MiB compressed (the default body limit), 1 GiB unpacked. */
  importLimits?: Partial<ImportLimits>
  /** Every node's plan of a version (./nodes.ts), for diffs between nodes. */
  nodes?: VersionNodes
}

const isIdCursor = (v: unknown): v is { e: string } => typeof v === 'object' && v !== null && /^[0-9]{1,19}$/.test(String((v as { e: unknown }).e))

function parseInstant(value: string | undefined, pointer: string): Date | undefined {
  if (value === undefined) return undefined
  const d = new Date(value)
  if (Number.isNaN(d.getTime()))
    throw new BadRequestError(`${pointer.slice(1)} must be an ISO 8601 date-time`, [{ pointer, detail: `"${value}" is not a date-time` }])
  return d
}

export async function listHistory(pool: pg.Pool, cluster: string, q: HistoryQuery = {}): Promise<Page<HistoryEvent>> {
  const c = await requireCluster(pool, cluster)
  const unknown = (q.types ?? []).filter((t) => !HISTORY_EVENT_TYPES.includes(t as HistoryEventType))
  if (unknown.length > 0) {
    throw new BadRequestError(`unknown event type ${unknown.join(', ')}; known: ${HISTORY_EVENT_TYPES.join(', ')}`, [
      { pointer: '/type', detail: 'unknown event type' },
    ])
  }
  const limit = pageSize(q.limit)
  const at = decodeCursor(q.cursor || undefined, isIdCursor)
  const before = at ? Number(at.e) : undefined
  const rows = await listHistoryEvents(pool, c.id, {
    types: q.types,
    since: parseInstant(q.since, '/since'),
    until: parseInstant(q.until, '/until'),
    beforeId: before,
    limit: limit + 1,
  })
  const items = rows.slice(0, limit).map((r) => ({ ...r, id: String(r.id) }))
  const last = items[items.length - 1]
  return { items, next: rows.length > limit && last ? encodeCursor({ e: last.id }) : null }
}

export function createHistoryServices(db: { pool: pg.Pool }, opts: HistoryServicesOptions = {}): HistoryServices {
  const pool = db.pool
  const nodes = opts.nodes ?? new VersionNodes(pool)
  const policy = opts.retention ?? { intervalSeconds: 3600 }
  const limits: ImportLimits = {
    maxCompressedBytes: opts.importLimits?.maxCompressedBytes ?? 64 * 1024 * 1024,
    maxUncompressedBytes: opts.importLimits?.maxUncompressedBytes ?? 1024 * 1024 * 1024,
    maxSnapshotBytes: opts.importLimits?.maxSnapshotBytes,
  }
  // guard: connection failures become UnavailableError (503 + Retry-After), as in createServices.
  return {
    diffJson: (cluster, q) => guard(() => diffJson(pool, cluster, q, nodes)),
    diffUnified: (cluster, q) => guard(() => diffUnified(pool, cluster, q, nodes)),
    diffRestore: (cluster, q) => guard(() => diffRestore(pool, cluster, q, nodes)),
    rollback: (input) => guard(() => rollback(pool, input)),
    history: (cluster, q) => guard(() => listHistory(pool, cluster, q)),
    createBackup: (input) => guard(() => createBackup(pool, input)),
    listBackups: (q) => guard(() => listBackups(pool, q)),
    getBackup: (id) => guard(() => getBackup(pool, id)),
    downloadBackup: (id) => guard(() => downloadBackup(pool, id)),
    importBackup: (input) =>
      guard(() => importBackup(pool, { ...input, limits: { ...limits, maxCompressedBytes: input.maxBytes ?? limits.maxCompressedBytes } })),
    prune: (input) => guard(() => prune(pool, input)),
    sweepRetention: (options) => guard(() => sweepRetention(pool, policy, new Date(), undefined, options?.dryRun ?? policy.dryRun === true)),
    deleteCluster: (cluster) => guard(() => deleteCluster(pool, cluster)),
    retentionPolicy: () => policy,
  }
}
