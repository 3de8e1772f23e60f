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
import { copyRows } from './copy.js'
import { num, type Queryable } from './db.js'
import type { Segment } from '../planner/types.js'
import { canonicalJson, sha256Hex } from './canonical.js'

export interface ObjectRow {
  sha256: string // hex
  /** canonical JSON; may be omitted for a row whose id the caller passes in `known` */
  body?: string
}

export interface SegmentRow {
  /** hex: storageKey(segmentHash(segment), segment.meta) */
  sha256: string
  segment: Segment
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
  const res = await db.query<{ id: string; h: string }>(
    `SELECT t.id, u.h FROM unnest($1::text[]) AS u(h) JOIN ${table} t ON t.sha256 = decode(u.h, 'hex')`,
    [hashes],
  )
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
 * Ids the caller already knows (the previous version's rows, src/store/ingest-cache.ts) are not
 * looked up; the caller guarantees they exist for this transaction. Only the others are asked.
 */
async function lookup(db: Queryable, table: 'objects' | 'segments', rows: readonly { sha256: string }[], given?: ReadonlyMap<string, number>): Promise<Map<string, number>> {
  if (!given || given.size === 0) return existingIds(db, table, rows.map((r) => r.sha256))
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

/** Stores the objects that are new; returns every object's id, in input order. */
export async function putObjects(db: pg.ClientBase, rows: readonly ObjectRow[], given?: ReadonlyMap<string, number>): Promise<{ ids: number[]; inserted: number }> {
  const known = await lookup(db, 'objects', rows, given)
  const fresh = missingSorted(rows, known)
  let inserted = 0
  if (fresh.length > 0) {
    await db.query('CREATE TEMP TABLE IF NOT EXISTS objects_in (h text, b text) ON COMMIT DELETE ROWS')
    await copyRows(db, 'objects_in', ['h', 'b'], fresh.map((r) => {
      if (r.body === undefined) throw new Error(`object ${r.sha256} has no body and is not stored`)
      return [r.sha256, r.body]
    }))
    const res = await db.query<{ id: string; h: string }>(
      `INSERT INTO objects (sha256, body)
       SELECT decode(h, 'hex'), b FROM objects_in ORDER BY h
       ON CONFLICT (sha256) DO NOTHING
       RETURNING id, encode(sha256, 'hex') AS h`,
    )
    await db.query('TRUNCATE objects_in')
    inserted = res.rowCount ?? 0
    for (const r of res.rows) known.set(r.h, num(r.id))
    await fillRaced(db, 'objects', fresh, known)
  }
  return { ids: idsInOrder(rows, known), inserted }
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
export async function putSegments(db: pg.ClientBase, rows: readonly SegmentRow[], given?: ReadonlyMap<string, number>): Promise<{ ids: number[]; inserted: number }> {
  const known = await lookup(db, 'segments', rows, given)
  const fresh = missingSorted(rows, known)
  let inserted = 0
  if (fresh.length > 0) {
    await db.query(
      `CREATE TEMP TABLE IF NOT EXISTS segments_in (h text, k text, s text, p text, fc text, fr text, nc text, nr text, m text)
       ON COMMIT DELETE ROWS`,
    )
    await copyRows(
      db,
      'segments_in',
      ['h', 'k', 's', 'p', 'fc', 'fr', 'nc', 'nr', 'm'],
      fresh.map(({ sha256, segment: g }) => [
        sha256,
        g.key,
        g.service ?? null,
        g.protocol ?? null,
        g.filterChains,
        g.filterRules,
        g.natChains,
        g.natRules,
        g.meta === undefined ? null : JSON.stringify(g.meta),
      ]),
    )
    const res = await db.query<{ id: string; h: string }>(
      `INSERT INTO segments (sha256, key, service, protocol, filter_chains, filter_rules, nat_chains, nat_rules, meta)
       SELECT decode(h, 'hex'), k, s, p, fc, fr, nc, nr, m::jsonb FROM segments_in ORDER BY h
       ON CONFLICT (sha256) DO NOTHING
       RETURNING id, encode(sha256, 'hex') AS h`,
    )
    await db.query('TRUNCATE segments_in')
    inserted = res.rowCount ?? 0
    for (const r of res.rows) known.set(r.h, num(r.id))
    await fillRaced(db, 'segments', fresh, known)
  }
  return { ids: idsInOrder(rows, known), inserted }
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
