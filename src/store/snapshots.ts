/** Snapshots: proxy settings + a manifest of object ids; identical snapshots are stored once. */
import type pg from 'pg'
import { num, type Queryable } from './db.js'
import { decodeIds, encodeIds } from './manifest.js'
import { loadObjectBodies, putObjects, type ObjectRow } from './content.js'

export interface SnapshotInput {
  sha256: string
  /** Canonical JSON of the proxy settings. */
  proxyJson: string
  objects: ObjectRow[]
}

export interface PutResult {
  id: number
  /** Rows newly written for content (objects or segments). */
  insertedContent: number
}

async function findId(db: Queryable, table: 'snapshots' | 'plans', sha256: string): Promise<number | null> {
  const res = await db.query<{ id: string }>(`SELECT id FROM ${table} WHERE sha256 = decode($1, 'hex')`, [sha256])
  return res.rows[0] ? num(res.rows[0].id) : null
}

/** `known`: object ids by sha256 the caller vouches for (see putObjects). `ids` is returned when the objects were written. */
export async function putSnapshot(db: pg.ClientBase, snap: SnapshotInput, known?: ReadonlyMap<string, number>): Promise<PutResult & { ids?: number[] }> {
  const existing = await findId(db, 'snapshots', snap.sha256)
  if (existing !== null) return { id: existing, insertedContent: 0 }
  const { ids, inserted } = await putObjects(db, snap.objects, known)
  const res = await db.query<{ id: string }>(
    `INSERT INTO snapshots (sha256, proxy, manifest, object_count) VALUES (decode($1, 'hex'), $2::jsonb, $3, $4)
     ON CONFLICT (sha256) DO NOTHING RETURNING id`,
    [snap.sha256, snap.proxyJson, encodeIds(ids), ids.length],
  )
  const id = res.rows[0] ? num(res.rows[0].id) : await findId(db, 'snapshots', snap.sha256)
  if (id === null) throw new Error('snapshot insert lost')
  return { id, insertedContent: inserted, ids }
}

export interface LoadedSnapshot {
  proxy: unknown
  /** Canonical JSON of each item, in order. */
  items: string[]
}

export async function loadSnapshot(db: Queryable, id: number): Promise<LoadedSnapshot> {
  const res = await db.query<{ proxy: unknown; manifest: Buffer }>('SELECT proxy, manifest FROM snapshots WHERE id = $1', [id])
  const row = res.rows[0]
  if (!row) throw new Error(`snapshot ${id} missing`)
  return { proxy: row.proxy, items: await loadObjectBodies(db, decodeIds(row.manifest)) }
}

/** A stored snapshot's proxy settings alone. */
export async function loadSnapshotProxy(db: Queryable, id: number): Promise<unknown> {
  const res = await db.query<{ proxy: unknown }>('SELECT proxy FROM snapshots WHERE id = $1', [id])
  if (!res.rows[0]) throw new Error(`snapshot ${id} missing`)
  return res.rows[0].proxy
}

export { findId }
