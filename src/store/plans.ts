/** Plans: per family, a manifest of segment ids; warnings and counts alongside. Stored once per sha256. */
import type { Family, FamilyPlan, Plan, PlanWarning, Segment } from '../planner/types.js'
import type pg from 'pg'
import { num, type Queryable } from './db.js'
import { decodeIds, encodeIds } from './manifest.js'
import { loadSegments, putSegments, type SegmentRow } from './content.js'
import { findId, type PutResult } from './snapshots.js'

export interface PlanInput {
  sha256: string
  families: Array<{ family: Family; segments: SegmentRow[] }>
  warnings: PlanWarning[]
  counts: Plan['counts']
}

interface LayoutEntry {
  family: Family
  segments: number
}

/** `known`: segment ids by storage key the caller vouches for (see putObjects). */
export async function putPlan(db: pg.ClientBase, plan: PlanInput, known?: ReadonlyMap<string, number>): Promise<PutResult & { ids?: number[] }> {
  const existing = await findId(db, 'plans', plan.sha256)
  if (existing !== null) return { id: existing, insertedContent: 0 }
  const all = plan.families.flatMap((f) => f.segments)
  const { ids, inserted } = await putSegments(db, all, known)
  const layout: LayoutEntry[] = plan.families.map((f) => ({ family: f.family, segments: f.segments.length }))
  const res = await db.query<{ id: string }>(
    `INSERT INTO plans (sha256, layout, manifest, warnings, counts) VALUES (decode($1, 'hex'), $2::jsonb, $3, $4::jsonb, $5::jsonb)
     ON CONFLICT (sha256) DO NOTHING RETURNING id`,
    [plan.sha256, JSON.stringify(layout), encodeIds(ids), JSON.stringify(plan.warnings), JSON.stringify(plan.counts)],
  )
  const id = res.rows[0] ? num(res.rows[0].id) : await findId(db, 'plans', plan.sha256)
  if (id === null) throw new Error('plan insert lost')
  return { id, insertedContent: inserted, ids }
}

export interface LoadedPlan {
  plan: Plan
  /** Segment hashes per family, parallel to plan.families[i].segments (for diffs). */
  hashes: string[][]
}

interface PlanRow {
  layout: LayoutEntry[]
  manifest: Buffer
  warnings: PlanWarning[]
  counts: Plan['counts']
}

async function planRow(db: Queryable, id: number): Promise<PlanRow> {
  const res = await db.query<PlanRow>('SELECT layout, manifest, warnings, counts FROM plans WHERE id = $1', [id])
  const row = res.rows[0]
  if (!row) throw new Error(`plan ${id} missing`)
  return row
}

export async function loadPlan(db: Queryable, id: number, only?: Family): Promise<LoadedPlan> {
  const row = await planRow(db, id)
  const ids = decodeIds(row.manifest)
  const families: FamilyPlan[] = []
  const hashes: string[][] = []
  let offset = 0
  for (const entry of row.layout) {
    const slice = ids.slice(offset, offset + entry.segments)
    offset += entry.segments
    if (only && entry.family !== only) continue
    const loaded = await loadSegments(db, slice)
    families.push({ family: entry.family, segments: loaded.map((l) => l.segment) })
    hashes.push(loaded.map((l) => l.sha256))
  }
  return { plan: { families, warnings: row.warnings, counts: row.counts }, hashes }
}

/** The key and service of every segment of a stored plan (no bodies), for checks of what it names. */
export async function planSegmentNames(db: Queryable, id: number): Promise<Array<{ key: string; service: string | null }>> {
  const row = await planRow(db, id)
  const res = await db.query<{ key: string; service: string | null }>('SELECT key, service FROM segments WHERE id = ANY($1::int8[])', [decodeIds(row.manifest)])
  return res.rows
}

/** The families of a stored plan, in order, without loading segments. */
export async function planFamilies(db: Queryable, id: number): Promise<Family[]> {
  const res = await db.query<{ layout: LayoutEntry[] }>('SELECT layout FROM plans WHERE id = $1', [id])
  return (res.rows[0]?.layout ?? []).map((l) => l.family)
}

/**
 * A stored plan as the growth delta needs it (src/services/stats-record.ts deltaCounts), reading only
 * what that needs: every segment's key and storage hash (no bodies), and the full segments only
 * where `next` (the new plan, with its storage keys) differs — a changed hash or a key it lacks.
 * The other segments are placeholders that carry their key alone; deltaCounts never reads their
 * lines, because equal storage keys mean equal content.
 */
export async function loadPlanForDelta(db: Queryable, id: number, next: Plan, nextKeys: readonly (readonly string[])[]): Promise<LoadedPlan> {
  const row = await planRow(db, id)
  const ids = decodeIds(row.manifest)
  const outline = await db.query<{ id: string; h: string; key: string }>(
    `SELECT id, encode(sha256, 'hex') AS h, key FROM segments WHERE id = ANY($1::int8[])`,
    [ids],
  )
  const byId = new Map(outline.rows.map((r) => [num(r.id), r]))
  const families: FamilyPlan[] = []
  const hashes: string[][] = []
  const wanted: number[] = []
  let offset = 0
  for (const entry of row.layout) {
    const slice = ids.slice(offset, offset + entry.segments)
    offset += entry.segments
    const fi = next.families.findIndex((f) => f.family === entry.family)
    const nextHash = new Map<string, string>()
    if (fi >= 0) next.families[fi]!.segments.forEach((s, j) => nextHash.set(s.key, nextKeys[fi]![j]!))
    const segments: Segment[] = []
    const famHashes: string[] = []
    for (const sid of slice) {
      const r = byId.get(sid)
      if (!r) throw new Error(`segment ${sid} missing: the plan manifest is corrupt`)
      famHashes.push(r.h)
      segments.push({ key: r.key, filterChains: '', filterRules: '', natChains: '', natRules: '' })
      if (nextHash.get(r.key) !== r.h) wanted.push(sid)
    }
    families.push({ family: entry.family, segments })
    hashes.push(famHashes)
  }
  if (wanted.length > 0) {
    const full = new Map<number, Segment>()
    const loaded = await loadSegments(db, wanted)
    wanted.forEach((sid, k) => full.set(sid, loaded[k]!.segment))
    offset = 0
    families.forEach((f) => {
      f.segments = f.segments.map((s, k) => full.get(ids[offset + k]!) ?? s)
      offset += f.segments.length
    })
  }
  return { plan: { families, warnings: row.warnings, counts: row.counts }, hashes }
}
