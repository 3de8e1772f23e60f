/**
 * Content-addressed rows (objects, segments): one row per distinct sha256, written in bulk —
 * COPY into a session temp table, then `INSERT … SELECT … ON CONFLICT DO NOTHING` — never row
 * by row. Call inside a transaction (the staging tables empty themselves at commit).
 *
 * Which hashes already exist is asked first (hashes only, 32 bytes each), so a re-ingest with
 * 1% churn sends 1% of the bodies. New rows are inserted in sha256 order: two transactions
 * inserting overlapping sets then take the unique-index locks in the same order and cannot
 * deadlock; the second simply waits and skips the rows the first committed.
 */
import type pg from 'pg'
import { copyLine, copyRows, type CopyRow } from './copy.js'
import { num, type Queryable } from './db.js'
import type { Segment } from '../planner/types.js'
import { canonicalJson, sha256Hex } from './canonical.js'

export interface ObjectRow {
  sha256: string // hex
  /** canonical JSON; may be omitted for a row whose id the caller passes in `known` */
  body?: string
  /** instead of `body`: the row's COPY line, objectLine's bytes */
  line?: Uint8Array
}

export interface SegmentRow {
  /** hex: storageKey(segmentHash(segment), segment.meta) */
  sha256: string
  /** may be omitted for a row whose id the caller passes in `known` (as ObjectRow.body) */
  segment?: Segment
  /** instead of `segment`: the row's COPY line, segmentLine's bytes */
  line?: Uint8Array
}

/**
 * The row key of a segment. segmentHash covers the rules only; Segment.meta (statistics input)
 * is stored alongside, so when present it is folded into the key — otherwise two services with
 * identical rules but different endpoint conditions would share one meta.
 */
export function storageKey(segmentHash: string, meta: Segment['meta']): string {
  return meta === undefined ? segmentHash : sha256Hex(`${segmentHash}\n${canonicalJson(meta)}`)
}

async function existingIds(db: Queryable, table: 'objects' | 'segments', hashes: string[]): Promise<Map<string, number>> {
  const res = await db.query<{ id: string; h: string }>(`SELECT t.id, u.h FROM unnest($1::text[]) AS u(h) JOIN ${table} t ON t.sha256 = decode(u.h, 'hex')`, [
    hashes,
  ])
  return new Map(res.rows.map((r) => [r.h, num(r.id)]))
}

function missingSorted<T extends { sha256: string }>(rows: readonly T[], known: Map<string, number>): T[] {
  const seen = new Set<string>()
  const out: T[] = []
  for (const r of rows) {
    if (known.has(r.sha256) || seen.has(r.sha256)) continue
    seen.add(r.sha256)
    out.push(r)
  }
  return out.sort((a, b) => (a.sha256 < b.sha256 ? -1 : a.sha256 > b.sha256 ? 1 : 0))
}

function idsInOrder(rows: readonly { sha256: string }[], known: Map<string, number>): number[] {
  return rows.map((r) => {
    const id = known.get(r.sha256)
    if (id === undefined) throw new Error(`content row ${r.sha256} vanished during ingest`)
    return id
  })
}

/**
 * Ids the caller already knows (the previous version's rows, src/services/ingest-cache.ts) are not
 * looked up; the caller guarantees they exist for this transaction. Only the others are asked.
 */
async function lookup(
  db: Queryable,
  table: 'objects' | 'segments',
  rows: readonly { sha256: string }[],
  given?: ReadonlyMap<string, number>,
): Promise<Map<string, number>> {
  if (!given || given.size === 0)
    return existingIds(
      db,
      table,
      rows.map((r) => r.sha256),
    )
  const ask: string[] = []
  const known = new Map<string, number>()
  for (const r of rows) {
    const id = given.get(r.sha256)
    if (id !== undefined) known.set(r.sha256, id)
    else ask.push(r.sha256)
  }
  if (ask.length > 0) for (const [h, id] of await existingIds(db, table, ask)) known.set(h, id)
  return known
}

/**
 * How one content table is written: its staging columns (all text, `h` the hex sha256 first),
 * the table's columns and the expressions that fill them from a staging row, and a row's values.
 */
interface ContentTable<R> {
  table: 'objects' | 'segments'
  staging: readonly string[]
  columns: string
  select: string
  values(row: R): CopyRow
}

/** Stores the rows that are new (see the header); returns every row's id, in input order. */
async function putContent<R extends { sha256: string }>(
  db: pg.ClientBase,
  t: ContentTable<R>,
  rows: readonly R[],
  given?: ReadonlyMap<string, number>,
): Promise<{ ids: number[]; inserted: number }> {
  const known = await lookup(db, t.table, rows, given)
  const fresh = missingSorted(rows, known)
  if (fresh.length === 0) return { ids: idsInOrder(rows, known), inserted: 0 }
  const stage = `${t.table}_in`
  await db.query(`CREATE TEMP TABLE IF NOT EXISTS ${stage} (${t.staging.map((c) => `${c} text`).join(', ')}) ON COMMIT DELETE ROWS`)
  await copyRows(
    db,
    stage,
    t.staging,
    fresh.map((r) => t.values(r)),
  )
  const res = await db.query<{ id: string; h: string }>(
    `INSERT INTO ${t.table} (${t.columns})
     SELECT ${t.select} FROM ${stage} ORDER BY h
     ON CONFLICT (sha256) DO NOTHING
     RETURNING id, encode(sha256, 'hex') AS h`,
  )
  await db.query(`TRUNCATE ${stage}`)
  for (const r of res.rows) known.set(r.h, num(r.id))
  await fillRaced(db, t.table, fresh, known)
  return { ids: idsInOrder(rows, known), inserted: res.rowCount ?? 0 }
}

const OBJECTS: ContentTable<ObjectRow> = {
  table: 'objects',
  staging: ['h', 'b'],
  columns: 'sha256, body',
  select: "decode(h, 'hex'), b",
  values: (r) => {
    if (r.line) return r.line
    if (r.body === undefined) throw new Error(`object ${r.sha256} has no body and is not stored`)
    return [r.sha256, r.body]
  },
}

const SEGMENTS: ContentTable<SegmentRow> = {
  table: 'segments',
  staging: ['h', 'k', 's', 'p', 'fc', 'fr', 'nc', 'nr', 'm'],
  columns: 'sha256, key, service, protocol, filter_chains, filter_rules, nat_chains, nat_rules, meta',
  select: "decode(h, 'hex'), k, s, p, fc, fr, nc, nr, m::jsonb",
  values: ({ sha256, segment: g, line }) => {
    if (line) return line
    if (g === undefined) throw new Error(`segment ${sha256} has no lines and is not stored`)
    return [
      sha256,
      g.key,
      g.service ?? null,
      g.protocol ?? null,
      g.filterChains,
      g.filterRules,
      g.natChains,
      g.natRules,
      g.meta === undefined ? null : JSON.stringify(g.meta),
    ]
  },
}

/** An object row's COPY line (as putObjects would write it), for a caller that encodes rows ahead. */
export function objectLine(row: ObjectRow): string {
  return copyLine(OBJECTS.values(row) as ReadonlyArray<string | null>)
}

/** A segment row's COPY line (as putSegments would write it). */
export function segmentLine(row: SegmentRow): string {
  return copyLine(SEGMENTS.values(row) as ReadonlyArray<string | null>)
}

/** Stores the objects that are new; returns every object's id, in input order. */
export function putObjects(db: pg.ClientBase, rows: readonly ObjectRow[], given?: ReadonlyMap<string, number>): Promise<{ ids: number[]; inserted: number }> {
  return putContent(db, OBJECTS, rows, given)
}

/** Rows a concurrent transaction committed between our lookup and our insert. */
async function fillRaced(db: Queryable, table: 'objects' | 'segments', fresh: readonly { sha256: string }[], known: Map<string, number>): Promise<void> {
  const raced = fresh.filter((r) => !known.has(r.sha256)).map((r) => r.sha256)
  if (raced.length === 0) return
  for (const [h, id] of await existingIds(db, table, raced)) known.set(h, id)
}

/**
 * A segment's buffer as stored: every line followed by "\n" (exactly the bytes it contributes
 * to the restore input), so [] and [""] stay distinct and rendering needs no join.
 */
export function encodeLines(lines: readonly string[]): string {
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`
}

export function decodeLines(text: string): string[] {
  return text === '' ? [] : text.slice(0, -1).split('\n')
}

/** Stores the segments that are new; returns every segment's id, in input order. */
export function putSegments(db: pg.ClientBase, rows: readonly SegmentRow[], given?: ReadonlyMap<string, number>): Promise<{ ids: number[]; inserted: number }> {
  return putContent(db, SEGMENTS, rows, given)
}

export interface LoadedSegment {
  sha256: string
  segment: Segment
}

/** Segments by id, returned in the order of `ids` (duplicates allowed). */
export async function loadSegments(db: Queryable, ids: readonly number[]): Promise<LoadedSegment[]> {
  const res = await db.query<{
    id: string
    h: string
    key: string
    service: string | null
    protocol: string | null
    filter_chains: string
    filter_rules: string
    nat_chains: string
    nat_rules: string
    meta: Segment['meta'] | null
  }>(
    `SELECT id, encode(sha256, 'hex') AS h, key, service, protocol, filter_chains, filter_rules, nat_chains, nat_rules, meta
     FROM segments WHERE id = ANY($1::int8[])`,
    [ids],
  )
  const byId = new Map<number, LoadedSegment>()
  for (const r of res.rows) {
    const segment: Segment = {
      key: r.key,
      filterChains: r.filter_chains,
      filterRules: r.filter_rules,
      natChains: r.nat_chains,
      natRules: r.nat_rules,
    }
    if (r.service !== null) segment.service = r.service
    if (r.protocol !== null) segment.protocol = r.protocol as Segment['protocol']
    if (r.meta !== null) segment.meta = r.meta
    byId.set(num(r.id), { sha256: r.h, segment })
  }
  return ids.map((id) => {
    const s = byId.get(id)
    if (!s) throw new Error(`segment ${id} missing: the plan manifest is corrupt`)
    return s
  })
}

/** Object bodies (canonical JSON) by id, in the order of `ids`. */
export async function loadObjectBodies(db: Queryable, ids: readonly number[]): Promise<string[]> {
  const res = await db.query<{ id: string; body: string }>('SELECT id, body FROM objects WHERE id = ANY($1::int8[])', [ids])
  const byId = new Map(res.rows.map((r) => [num(r.id), r.body]))
  return ids.map((id) => {
    const b = byId.get(id)
    if (b === undefined) throw new Error(`object ${id} missing: the snapshot manifest is corrupt`)
    return b
  })
}
