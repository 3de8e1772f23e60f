/**
 * Backup archives, stored in PostgreSQL: a metadata row plus the bytes in 1 MiB chunks
 * (backup_chunks), so a download streams chunk by chunk and never materialises one huge bytea.
 * Immutable: a backup is completed (sha256, size, manifest) inside the transaction that creates
 * it and never changed after that commits.
 *
 * SQL on pg rather than Prisma Client: bench/prisma.ts times these reads both ways, and Prisma
 * costs more than 10 % on each (docs/storage.md, "Prisma Client or SQL").
 */
import type { BackupMeta, NewBackup } from './records.js'

export type { BackupMeta, NewBackup } from './records.js'
import { num, type Queryable } from './db.js'

export const BACKUP_CHUNK_BYTES = 1024 * 1024

/** The row, before its chunks: sha256/bytes/manifest are filled by completeBackup. */
export async function insertBackup(db: Queryable, b: NewBackup): Promise<void> {
  await db.query(
    `INSERT INTO backups (id, cluster, from_version, to_version, versions, note, actor, sha256, bytes, manifest)
     VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, '\\x', 0, 'null'::jsonb)`,
    [b.id, b.cluster, b.fromVersion, b.toVersion, b.versions, b.note, b.actor],
  )
}

/** Same transaction as insertBackup: records what was packed. */
export async function completeBackup(db: Queryable, id: string, c: { sha256: string; bytes: number; manifest: unknown }): Promise<BackupMeta> {
  const res = await db.query<BackupDbRow>(
    `UPDATE backups SET sha256 = decode($2, 'hex'), bytes = $3, manifest = $4::jsonb WHERE id = $1::uuid RETURNING ${COLUMNS}`,
    [id, c.sha256, c.bytes, JSON.stringify(c.manifest)],
  )
  return toMeta(res.rows[0]!)
}

export async function insertBackupChunk(db: Queryable, backupId: string, seq: number, data: Buffer): Promise<void> {
  await db.query('INSERT INTO backup_chunks (backup_id, seq, data) VALUES ($1::uuid, $2, $3)', [backupId, seq, data])
}

const COLUMNS = `id, cluster, from_version, to_version, versions, note, actor, created_at, encode(sha256, 'hex') AS sha256, bytes, manifest`

interface BackupDbRow {
  id: string
  cluster: string
  from_version: number
  to_version: number
  versions: number
  note: string | null
  actor: string
  created_at: Date
  sha256: string
  bytes: number
  manifest: unknown
}

function toMeta(r: BackupDbRow): BackupMeta {
  return {
    id: r.id,
    cluster: r.cluster,
    fromVersion: r.from_version,
    toVersion: r.to_version,
    versions: r.versions,
    note: r.note,
    actor: r.actor,
    createdAt: r.created_at.toISOString(),
    sha256: r.sha256,
    bytes: num(r.bytes),
    manifest: r.manifest,
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export async function findBackup(db: Queryable, id: string): Promise<BackupMeta | null> {
  // A malformed id cannot exist; asking PostgreSQL would only raise a cast error.
  if (!UUID.test(id)) return null
  const res = await db.query<BackupDbRow>(`SELECT ${COLUMNS} FROM backups WHERE id = $1::uuid`, [id])
  return res.rows[0] ? toMeta(res.rows[0]) : null
}

/** Newest first; the cursor is (created_at, id) of the last row seen. */
export async function listBackupRows(db: Queryable, f: { cluster?: string; limit: number; before?: { createdAt: string; id: string } }): Promise<BackupMeta[]> {
  const res = await db.query<BackupDbRow>(
    `SELECT ${COLUMNS} FROM backups
     WHERE ($1::text IS NULL OR cluster = $1)
       AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::uuid))
     ORDER BY created_at DESC, id DESC LIMIT $4`,
    [f.cluster ?? null, f.before?.createdAt ?? null, f.before?.id ?? null, f.limit],
  )
  return res.rows.map(toMeta)
}

/** The archive bytes, one chunk per query: memory stays at one chunk whatever the size. */
export async function* readBackupChunks(db: Queryable, backupId: string): AsyncGenerator<Buffer> {
  for (let seq = 0; ; seq++) {
    const res = await db.query<{ data: Buffer }>('SELECT data FROM backup_chunks WHERE backup_id = $1::uuid AND seq = $2', [backupId, seq])
    const row = res.rows[0]
    if (!row) return
    yield row.data
  }
}
