/**
 * What ingest keeps of the latest version it wrote per cluster, so the next POST of that cluster
 * only pays for what changed. Two halves, one per thread (./ingest-prepare.ts runs in the
 * ingest worker, ./ingest.ts on the main thread):
 *
 * - the worker's (WorkerClusterState): raw fingerprints of the request's items (sha256 of the
 *   item's bytes in a JSON body, ./json-items.ts fingerprintOf; else of `JSON.stringify(item)` as the client
 *   sent it) → the canonical object hash and the item as validated, so an item sent byte for byte
 *   as last time is neither parsed (from bytes), re-validated nor re-serialised canonically (the
 *   biggest costs before planning); the plan, whose segment objects are the planner's `reuse`
 *   input and carry memoised statistics, with each segment's storage key; and which of those
 *   rows the main thread knows the ids of (their bodies need not cross back);
 * - the main thread's (StoredIds): object and segment row ids by hash, so those rows are not
 *   looked up in PostgreSQL again.
 *
 * Validity: ids are only trusted while the version they were read from still exists, checked
 * inside the ingest transaction after taking ACCESS SHARE locks on objects and segments — the
 * garbage collector (src/services/retention.ts) needs ACCESS EXCLUSIVE on them and deletes only
 * rows no surviving manifest lists, so nothing the checked version references can vanish before
 * commit. A miss (another replica wrote the latest version, a restart, a rollback in between,
 * two ingests of the cluster prepared at once) costs only speed: the worker then sends every
 * body, and rows are looked up as for a first ingest.
 */
import { LRUCache } from 'lru-cache'
import { createHash } from 'node:crypto'
import type { Plan, Segment } from '../planner/types.js'
import type { PlanReuse } from '../planner/reuse.js'
import { segmentHash } from '../planner/iptables/hash.js'
import { statsOf, type StatsMemo } from '../planner/analysis/stats.js'
import type { VersionCounts } from '../store/records.js'
import { canonicalJson, planSha256, sha256Hex, snapshotSha256 } from '../store/canonical.js'
import { storageKey, type ObjectRow, type SegmentRow } from '../store/content.js'
import type { Queryable } from '../store/db.js'
import { versionStillExists } from '../store/versions.js'
import type { PlanInput } from '../store/plans.js'
import type { SnapshotInput } from '../store/snapshots.js'
import type { LayoutMemory } from './json-items.js'

/** The worker's memory of a cluster's latest version (the one it committed last). */
export interface WorkerClusterState {
  clusterId: number
  /** The version this state describes, and its snapshot's sha256. */
  number: number
  sha256: string
  /** The bytes it came in as, when they came as bytes. */
  body?: BodyKey
  /** raw item fingerprint → canonical object sha256, and the item as the envelope holds it */
  objectsByRaw: Map<string, KnownItem>
  /** Where its items were in the body it came in as (a JSON body with a layout, ./json-items.ts). */
  layout?: LayoutMemory
  /** Objects (sha256) and segments (storage key) whose row ids the main thread holds. */
  storedObjects: Set<string>
  storedSegments: Set<string>
  plan: Plan
  /** storage keys, aligned with plan.families[i].segments */
  keys: string[][]
  /** The planner's memory of this plan's segments (plan(…, { reuse })). */
  reuse: PlanReuse
}

/**
 * Request bytes as the identical-bytes shortcut compares them: their length, type and query
 * settings first, then their sha256 — which is computed when a body of the same shape comes and
 * otherwise when the version is committed, not while the client waits.
 */
export interface BodyKey {
  shape: string
  sha256: string
}

/** An item of the latest version: its canonical hash, and itself, validated (shared, never changed). */
export interface KnownItem {
  sha256: string
  item: Record<string, unknown>
}

/** The main thread's memory of a cluster's latest version: the ids of its rows. */
export interface StoredIds {
  clusterId: number
  number: number
  /** canonical object sha256 → objects.id */
  objectIds: Map<string, number>
  /** segment storage key → segments.id */
  segmentIds: Map<string, number>
}

/** An LRU of clusters' row ids (eight clusters: the worker keeps as many plans). */
export class StoredIdsCache {
  private readonly clusters: LRUCache<string, StoredIds>

  constructor(readonly maxClusters = 8) {
    this.clusters = new LRUCache<string, StoredIds>({ max: maxClusters })
  }

  get(cluster: string): StoredIds | undefined {
    return this.clusters.get(cluster)
  }

  set(cluster: string, ids: StoredIds): void {
    this.clusters.set(cluster, ids)
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/**
 * The request's items when each one becomes exactly one envelope item, in order (an envelope or
 * a List of plain objects: no nulls, no nested Lists); otherwise null and nothing is skipped.
 */
export function rawItems(document: unknown): unknown[] | null {
  if (!isObject(document)) return null
  let items: unknown
  if ('resources' in document) {
    const r = document.resources
    items = Array.isArray(r) ? r : isObject(r) ? r.items : undefined
  } else items = document.items
  if (!Array.isArray(items)) return null
  for (const it of items) {
    if (!isObject(it) || typeof it.kind !== 'string') return null
    if (it.kind.endsWith('List') && Array.isArray(it.items)) return null
  }
  return items
}

/** sha256 of the item as sent (key order included): equal fingerprints mean an identical item. */
export function rawFingerprint(item: unknown): string {
  return createHash('sha256').update(JSON.stringify(item)).digest('base64')
}

/**
 * The canonical snapshot (services/content.ts canonicalSnapshot: same hashes), reusing the
 * canonical hash of every item whose raw fingerprint the previous version had; bodies are only
 * serialised for the others.
 */
export function snapshotInput(
  proxy: unknown,
  items: readonly unknown[],
  fingerprints: readonly string[] | null,
  state: WorkerClusterState | undefined,
): SnapshotInput {
  const proxyJson = canonicalJson(proxy)
  const objects: ObjectRow[] = new Array(items.length)
  for (let i = 0; i < items.length; i++) {
    const known = fingerprints && state ? state.objectsByRaw.get(fingerprints[i]!)?.sha256 : undefined
    // A reused hash needs no body only if its row id is known too (putObjects never writes it).
    if (known !== undefined && state!.storedObjects.has(known)) objects[i] = { sha256: known }
    else {
      const body = canonicalJson(items[i])
      objects[i] = { sha256: sha256Hex(body), body }
    }
  }
  return { sha256: snapshotSha256(proxyJson, objects), proxyJson, objects }
}

/** The plan's storable form (services/content.ts planContent: same hashes), hashing only segments not seen before. */
export function planInput(plan: Plan, keysOf: WeakMap<Segment, string>): PlanInput {
  const families = plan.families.map((fp) => ({
    family: fp.family,
    segments: fp.segments.map((segment): SegmentRow => {
      let sha256 = keysOf.get(segment)
      if (sha256 === undefined) keysOf.set(segment, (sha256 = storageKey(segmentHash(segment), segment.meta)))
      return { sha256, segment }
    }),
  }))
  return { sha256: planSha256(families, plan.warnings, plan.counts), families, warnings: plan.warnings, counts: plan.counts }
}

/** services/content.ts versionCounts, summed from the per-segment statistics (same numbers). */
export function countsOf(plan: Plan, memo: StatsMemo): VersionCounts {
  const families: VersionCounts['families'] = {}
  let scriptBytes = 0
  for (const fp of plan.families) {
    const t = { filter: { chains: 0, rules: 0 }, nat: { chains: 0, rules: 0 } }
    scriptBytes += '*filter\nCOMMIT\n*nat\nCOMMIT\n'.length
    for (const seg of fp.segments) {
      const f = statsOf(seg, memo)
      t.filter.chains += f.declared.filter
      t.filter.rules += f.appended.filter
      t.nat.chains += f.declared.nat
      t.nat.rules += f.appended.nat
      scriptBytes += f.filterBytes + f.natBytes
    }
    families[fp.family] = t
  }
  return { ...plan.counts, families, scriptBytes }
}

/**
 * Inside the ingest transaction: may `state`'s ids be used? Takes the locks that keep garbage
 * collection out until commit, then checks that the version they came from still exists.
 */
export async function stateStillValid(db: Queryable, state: StoredIds): Promise<boolean> {
  return versionStillExists(db, state.clusterId, state.number)
}
