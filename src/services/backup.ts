/**
 * Backups: point-in-time, self-contained tar.gz archives of a cluster's versions (format in
 * backup-archive.ts), stored immutably in PostgreSQL, downloadable byte-identically, and
 * importable into any cluster.
 *
 * Creation reads everything inside one REPEATABLE READ transaction: the archive is a consistent
 * point in time, and a concurrent prune's garbage collection (which needs ACCESS EXCLUSIVE on
 * the content tables) cannot remove rows the backup is still reading.
 *
 * Import verifies the whole archive (every sha256 and size against the manifest) BEFORE it
 * writes anything, then writes all versions and the `backup.imported` event in one transaction:
 * a failed import leaves no trace.
 */
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import type pg from 'pg'
import { BadRequestError, NotFoundError, UnprocessableError, ValidationError, versionNotFound } from '../errors.js'
import { renderRestoreBytes, toEnvelope } from '../planner/index.js'
import type { ClusterPlan, Plan } from '../planner/types.js'
import { canonicalJson, sha256Hex } from '../store/canonical.js'
import {
  BACKUP_CHUNK_BYTES,
  completeBackup,
  findBackup,
  insertBackup,
  insertBackupChunk,
  listBackupRows,
  readBackupChunks,
  type BackupMeta,
} from '../store/backups.js'
import { insertHistoryEvent } from '../store/history.js'
import { loadPlan, putPlan } from '../store/plans.js'
import { loadSnapshot, putSnapshot } from '../store/snapshots.js'
import { recordVersionStats } from './stats-record.js'
import { findVersions, insertVersion, lockCluster } from '../store/versions.js'
import type { Page, VersionCounts } from './contract.js'
import { canonicalSnapshot, nodeStatsRows, planContent, planOrReject, versionCounts } from './content.js'
import { insertNodeStats, type NodeStatsRow } from '../store/node-stats.js'
import { variantSummaries } from '../planner/analysis/index.js'
import { chunker, packArchive, readArchive, type ArchiveFile, type Manifest, type ManifestVersion, type VerifiedArchive } from './backup-archive.js'
import { inTransaction, requireCluster, servableRef } from './history-db.js'
import { decodeCursor, encodeCursor, pageSize } from './pagination.js'
import { assertServable } from './servable.js'
import type { Backup, BackupDownload, BackupInput, ImportInput, ImportResult } from './history-types.js'

/** natplan's version from package.json (found by walking up: src/ and dist/src/ alike). */
export const NATPLAN_VERSION: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'natplan' && pkg.version) return pkg.version
    } catch {
      // not here; go up
    }
    dir = dirname(dir)
  }
  return '0.0.0'
})()

/**
 * The planner ships inside natplan, so its version is natplan's, qualified by the canonical
 * segment format (src/planner/iptables/hash.ts) that decides how plans are content-addressed.
 */
export const PLANNER_VERSION = `${NATPLAN_VERSION}+natplan-segment/v1`

const toBackup = (m: BackupMeta): Backup => m

// ---------------------------------------------------------------------------------------------
// Create

async function backupRange(client: pg.PoolClient, clusterId: number, input: BackupInput): Promise<number[]> {
  const res = await client.query<{ number: number }>('SELECT number FROM versions WHERE cluster_id = $1 ORDER BY number', [clusterId])
  const all = res.rows.map((r) => r.number)
  for (const [field, v] of [
    ['fromVersion', input.fromVersion],
    ['toVersion', input.toVersion],
  ] as const) {
    if (v !== undefined && !all.includes(v)) throw new NotFoundError(`cluster "${input.cluster}" has no version ${v} (${field})`)
  }
  const from = input.fromVersion ?? all[0]
  const to = input.toVersion ?? all[all.length - 1]
  if (from === undefined || to === undefined) throw versionNotFound(input.cluster, 'latest')
  if (from > to) throw new BadRequestError('fromVersion is after toVersion', [{ pointer: '/fromVersion', detail: `${from} > ${to}` }])
  return all.filter((n) => n >= from && n <= to)
}

/** The stored snapshot as an envelope, serialised canonically (sorted keys, no whitespace). */
async function snapshotText(client: pg.PoolClient, snapshotId: number): Promise<Buffer> {
  const s = await loadSnapshot(client, snapshotId)
  return Buffer.from(`{"proxy":${canonicalJson(s.proxy)},"resources":{"apiVersion":"v1","items":[${s.items.join(',')}],"kind":"List"}}`)
}

/**
 * The last plan loaded, kept for the next file: a version's families are consecutive files,
 * and rollbacks make neighbouring versions share a plan. One entry bounds the memory.
 */
function planLoader(client: pg.PoolClient): (planId: number) => Promise<Plan> {
  let last: { id: number; plan: Promise<Plan> } | undefined
  return (planId) => {
    if (last?.id !== planId) last = { id: planId, plan: loadPlan(client, planId).then((l) => l.plan) }
    return last.plan
  }
}

async function restoreText(load: (planId: number) => Promise<Plan>, planId: number, index: number): Promise<Buffer> {
  const p = await load(planId)
  return renderRestoreBytes(p.families[index]!)
}

function restorePath(n: number, index: number): string {
  return index === 0 ? `versions/${n}/restore.rules` : `versions/${n}/restore-ipv6.rules`
}

async function archiveContent(
  pool: pg.Pool,
  client: pg.PoolClient,
  cluster: string,
  numbers: number[],
): Promise<{ versions: ManifestVersion[]; files: ArchiveFile[] }> {
  const rows = await findVersions(
    client,
    numbers.map((version) => ({ cluster, version })),
  )
  // A backup carries restore scripts: none of a version that may not be served (./servable.ts).
  for (const row of rows) if (row) await assertServable(pool, client, servableRef(row))
  const versions: ManifestVersion[] = []
  const files: ArchiveFile[] = []
  const load = planLoader(client)
  for (const row of rows) {
    if (!row) throw new Error('version vanished inside a repeatable-read transaction')
    const s = row.summary
    const n = s.version
    const familyCount = Object.keys(s.counts.families).length || 1
    const restore = Array.from({ length: familyCount }, (_, i) => restorePath(n, i))
    const own: ArchiveFile[] = restore.map((path, i) => ({ path, content: () => restoreText(load, row.planId, i) }))
    own.push({ path: `versions/${n}/snapshot.json`, content: () => snapshotText(client, row.snapshotId) })
    // Versions in numeric order, each version's files by name (a fixed order: same bytes).
    files.push(...own.sort((x, y) => (x.path < y.path ? -1 : 1)))
    versions.push({
      version: n,
      kind: s.kind,
      createdAt: s.createdAt,
      actor: s.actor,
      reason: s.reason,
      sourceVersion: s.sourceVersion,
      snapshotSha256: s.snapshotSha256,
      planSha256: s.planSha256,
      snapshot: `versions/${n}/snapshot.json`,
      restore,
    })
  }
  return { versions, files }
}

export async function createBackup(pool: pg.Pool, input: BackupInput): Promise<Backup> {
  // REPEATABLE READ: the archive is one point in time (see the header).
  return inTransaction(
    pool,
    async (client) => {
      const cluster = await requireCluster(client, input.cluster)
      const numbers = await backupRange(client, cluster.id, input)
      const { versions, files } = await archiveContent(pool, client, input.cluster, numbers)
      const id = randomUUID()
      const base = {
        cluster: input.cluster,
        natplanVersion: NATPLAN_VERSION,
        plannerVersion: PLANNER_VERSION,
        fromVersion: numbers[0]!,
        toVersion: numbers[numbers.length - 1]!,
        note: input.note ?? null,
        versions,
      }
      // The row goes in first (chunks reference it), completed with the archive's sha256 and size
      // once packed — all inside this transaction, so no reader ever sees it unfinished.
      await insertBackup(client, {
        id,
        cluster: input.cluster,
        fromVersion: base.fromVersion,
        toVersion: base.toVersion,
        versions: numbers.length,
        note: base.note,
        actor: input.actor,
      })
      let seq = 0
      const sink = chunker(BACKUP_CHUNK_BYTES, (chunk) => insertBackupChunk(client, id, seq++, Buffer.from(chunk)))
      const packed = await packArchive(base, files, (c) => sink.push(c))
      await sink.end()
      const meta = await completeBackup(client, id, { sha256: packed.sha256, bytes: packed.bytes, manifest: packed.manifest })
      await insertHistoryEvent(client, {
        clusterId: cluster.id,
        type: 'backup.created',
        actor: input.actor,
        reason: base.note,
        fromVersion: base.fromVersion,
        toVersion: base.toVersion,
        backupId: id,
        details: { sha256: packed.sha256, bytes: packed.bytes, versions: numbers.length },
      })
      return toBackup(meta)
    },
    { isolation: 'REPEATABLE READ' },
  )
}

// ---------------------------------------------------------------------------------------------
// Read

export async function getBackup(pool: pg.Pool, id: string): Promise<Backup> {
  const meta = await findBackup(pool, id)
  if (!meta) throw new NotFoundError(`no backup ${id}`)
  return toBackup(meta)
}

interface BackupCursor {
  c: string
  i: string
}
const isBackupCursor = (v: unknown): v is BackupCursor =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as BackupCursor).c === 'string' &&
  typeof (v as BackupCursor).i === 'string' &&
  !Number.isNaN(Date.parse((v as BackupCursor).c)) &&
  /^[0-9a-f-]{36}$/.test((v as BackupCursor).i)

export async function listBackups(pool: pg.Pool, q: { cluster?: string; limit?: number; cursor?: string } = {}): Promise<Page<Backup>> {
  const limit = pageSize(q.limit)
  const before = decodeCursor(q.cursor || undefined, isBackupCursor)
  const rows = await listBackupRows(pool, { cluster: q.cluster, limit: limit + 1, before: before && { createdAt: before.c, id: before.i } })
  const items = rows.slice(0, limit).map(toBackup)
  const last = items[items.length - 1]
  return { items, next: rows.length > limit && last ? encodeCursor({ c: last.createdAt, i: last.id }) : null }
}

export async function downloadBackup(pool: pg.Pool, id: string): Promise<BackupDownload> {
  const backup = await getBackup(pool, id)
  return { backup, body: readBackupChunks(pool, id) }
}

// ---------------------------------------------------------------------------------------------
// Import

export interface ImportLimits {
  maxCompressedBytes: number
  maxUncompressedBytes: number
  /** One archived snapshot.json (default: maxCompressedBytes, the body limit). */
  maxSnapshotBytes?: number
}

function importReason(m: Manifest, v: ManifestVersion, sha: string): string {
  const what = v.kind === 'rollback' && v.sourceVersion !== null ? `rollback to ${v.sourceVersion}` : v.kind
  const why = v.reason ? `: ${v.reason}` : ''
  return `imported from archive ${sha.slice(0, 12)} — version ${v.version} of cluster "${m.cluster}" (${what} by ${v.actor} at ${v.createdAt}${why})`
}

/** Parses and plans one archived snapshot; a snapshot this natplan rejects makes the import 422. */
function planArchived(archive: VerifiedArchive, v: ManifestVersion, index: number) {
  let doc: unknown
  try {
    doc = JSON.parse(archive.snapshot(v.snapshot))
  } catch {
    throw new UnprocessableError(`${v.snapshot} is not valid JSON`, [{ pointer: `/${v.snapshot}`, detail: 'invalid JSON' }])
  }
  const parsed = toEnvelope(doc)
  if (!parsed.ok) {
    throw new UnprocessableError(
      `${v.snapshot} is not a snapshot this natplan accepts; nothing was imported`,
      parsed.issues.slice(0, 20).map((i) => ({ pointer: `/${v.snapshot}${i.pointer}`, detail: i.detail })),
    )
  }
  let planned: Plan
  let cluster: ClusterPlan
  try {
    ;({ plan: planned, cluster } = planOrReject(parsed.envelope))
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err
    throw new UnprocessableError(
      `${v.snapshot} is not a snapshot this natplan accepts; nothing was imported`,
      err.issues.map((i) => ({ pointer: `/${v.snapshot}${i.pointer}`, detail: i.detail })),
    )
  }
  // Does this natplan plan the archived snapshot to the archived rules, byte for byte?
  const same = planned.families.every((fp, i) => {
    const path = v.restore[i]
    if (!path) return false
    return sha256Hex(renderRestoreBytes(fp)) === archive.fileSha256.get(path)
  })
  return { index, planned, cluster, snapshot: canonicalSnapshot(parsed.envelope), replanned: !same || planned.families.length !== v.restore.length }
}

export async function importBackup(pool: pg.Pool, input: ImportInput & { limits: ImportLimits }): Promise<ImportResult> {
  const archive = await readArchive(input.body as Readable, input.limits)
  const m = archive.manifest
  const ordered = [...m.versions].sort((a, b) => a.version - b.version)
  return inTransaction(pool, async (client) => {
    // Content first (planning is the slow part), the cluster row lock last and briefly — as
    // ingest does — so an import does not hold up the cluster's ingests while it re-plans.
    const prepared: Array<{ v: ManifestVersion; snapshotId: number; planId: number; counts: VersionCounts; plan: Plan; nodes: NodeStatsRow[] }> = []
    const replanned: number[] = []
    for (const [i, v] of ordered.entries()) {
      const p = planArchived(archive, v, i)
      if (p.replanned) replanned.push(v.version)
      const snap = await putSnapshot(client, p.snapshot)
      const stored = await putPlan(client, planContent(p.planned))
      prepared.push({
        v,
        snapshotId: snap.id,
        planId: stored.id,
        counts: versionCounts(p.planned, p.cluster),
        plan: p.planned,
        nodes: nodeStatsRows(p.cluster, variantSummaries(p.cluster)),
      })
    }
    const cluster = await lockCluster(client, input.cluster)
    // Idempotent: an archived version whose content (snapshot and plan) the cluster already had
    // before this import is reported as existing, not copied again, so importing an archive twice
    // (or restoring a backup into the cluster it came from) adds nothing.
    const before = new Map<string, number>()
    const had = await client.query<{ number: number; snapshot_id: string; plan_id: string }>(
      'SELECT number, snapshot_id, plan_id FROM versions WHERE cluster_id = $1 ORDER BY number',
      [cluster.id],
    )
    // The newest version with that content is the one reported.
    for (const r of had.rows) before.set(`${r.snapshot_id}:${r.plan_id}`, r.number)
    const out: ImportResult['versions'] = []
    const existing: ImportResult['existing'] = []
    for (const p of prepared) {
      const same = before.get(`${p.snapshotId}:${p.planId}`)
      if (same !== undefined) {
        existing.push({ version: same, archivedVersion: p.v.version })
        continue
      }
      const number = await insertVersion(client, {
        clusterId: cluster.id,
        kind: 'import',
        actor: input.actor,
        reason: importReason(m, p.v, archive.sha256),
        sourceVersion: null,
        snapshotId: p.snapshotId,
        planId: p.planId,
        counts: p.counts,
      })
      // Growth statistics for each imported version (src/services/stats-record.ts), in this transaction.
      await recordVersionStats(client, { clusterId: cluster.id, number, plan: p.plan })
      await insertNodeStats(client, cluster.id, number, p.nodes)
      out.push({ version: number, archivedVersion: p.v.version })
    }
    const result = { cluster: input.cluster, versions: out, existing, archiveSha256: archive.sha256, sourceCluster: m.cluster, replanned }
    if (out.length === 0) return result
    const known = await client.query<{ id: string }>("SELECT id FROM backups WHERE sha256 = decode($1, 'hex') ORDER BY created_at LIMIT 1", [archive.sha256])
    await insertHistoryEvent(client, {
      clusterId: cluster.id,
      type: 'backup.imported',
      actor: input.actor,
      version: out[out.length - 1]!.version,
      fromVersion: out[0]!.version,
      toVersion: out[out.length - 1]!.version,
      backupId: known.rows[0]?.id ?? null,
      reason: m.note,
      details: {
        archiveSha256: archive.sha256,
        sourceCluster: m.cluster,
        archivedVersions: out.map((v) => v.archivedVersion),
        existing,
        natplanVersion: m.natplanVersion,
        plannerVersion: m.plannerVersion,
        replanned,
      },
    })
    return result
  })
}
