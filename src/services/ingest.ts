/**
 * Ingest: validate → plan → store, as ONE transaction so a failure leaves no partial version.
 *
 * Order inside the transaction matters for concurrency: content rows first (each table in
 * sha256 order, so overlapping ingests wait for each other instead of deadlocking), the cluster
 * row lock last and briefly — re-check "identical to the latest version?" under that lock,
 * then take the next number.
 *
 * Incremental: the previous version this process wrote for the cluster (src/services/ingest-cache.ts)
 * lets an item sent exactly as last time skip validation and canonical hashing, lets the planner
 * reuse the segments of unchanged service ports, and lets the store skip looking up rows it
 * already knows. Results are identical to a cold ingest (test/services/incremental.test.ts).
 */
import { toEnvelope, type Envelope } from '../planner/index.js'
import { IngestQueue, type IngestQueueOptions } from './ingest-queue.js'
import { canonicalOrder, nodeCounts, nodeStatsRows, planOrReject } from './content.js'
import { variantSummaries, type VariantSummary } from '../planner/analysis/index.js'
import { insertNodeStats } from '../store/node-stats.js'
import type { Database } from '../db/index.js'
import { ValidationError } from '../errors.js'
import { putPlan } from '../store/plans.js'
import { putSnapshot } from '../store/snapshots.js'
import { recordVersionStats } from './stats-record.js'
import type { ClusterPlan, Plan } from '../planner/types.js'
import type { PlanReuse } from '../planner/reuse.js'
import { findVersion, insertVersion, latestSnapshotSha, lockCluster } from '../store/versions.js'
import { recordDuplicateIngest, recordIngestEvent } from '../store/history.js'
import { countsOf, IngestCache, planInput, rawFingerprint, rawItems, snapshotInput, stateStillValid, type ClusterState } from './ingest-cache.js'
import { sharedMemo } from './stats-record.js'
import type { IngestInput, IngestResult, VersionSummary } from './contract.js'
import { inTransaction, rollback } from '../db/transaction.js'

/** Where an ingest spent its time (for benchmarks and debug logs). */
export interface IngestStats {
  created: boolean
  /** toEnvelope + canonical snapshot hashing */
  validateMs: number
  /** plan + segment hashes + counts (0 when deduplicated before planning) */
  planMs: number
  /** the transaction */
  storeMs: number
  /** Content rows newly written (objects + segments): the churn this version added. */
  insertedContent: number
}

/** One queue per database handle, as the caches. */
const queues = new WeakMap<Database, IngestQueue>()

function queueOf(db: Database, options: IngestQueueOptions = { waitMs: 30_000, maxWaiting: 200 }): IngestQueue {
  let q = queues.get(db)
  if (!q) queues.set(db, (q = new IngestQueue(options)))
  return q
}

/** One cache per database handle (the services layer's lifetime); a WeakMap, so it goes with it. */
const caches = new WeakMap<Database, IngestCache>()

function cacheOf(db: Database): IngestCache {
  let c = caches.get(db)
  if (!c) caches.set(db, (c = new IngestCache()))
  return c
}

/**
 * `onPlanned`: every node's plan of a version this ingest stored, by snapshot sha256, so that the
 * node views need not plan the snapshot again (./nodes.ts).
 */
export async function ingest(
  db: Database,
  input: IngestInput,
  onStats?: (s: IngestStats) => void,
  onPlanned?: (snapshotSha256: string, cp: ClusterPlan, summaries: VariantSummary[]) => void,
  queue?: IngestQueueOptions,
): Promise<IngestResult> {
  const cache = cacheOf(db)
  const state = cache.get(input.cluster)
  const t0 = performance.now()
  const stats: IngestStats = { created: false, validateMs: 0, planMs: 0, storeMs: 0, insertedContent: 0 }
  const report = <T>(r: T): T => {
    onStats?.(stats)
    return r
  }
  const raw = rawItems(input.document)
  let fingerprints = raw ? raw.map(rawFingerprint) : null
  // Items sent exactly as in the previous version passed validation then: not checked again.
  const trusted = new Set<unknown>()
  if (raw && fingerprints && state) raw.forEach((item, i) => state.objectsByRaw.has(fingerprints![i]!) && trusted.add(item))
  const parsed = toEnvelope(input.document, input.proxy, { trusted })
  if (!parsed.ok) throw new ValidationError('The snapshot is not valid.', parsed.issues)
  if (fingerprints && fingerprints.length !== parsed.envelope.resources.items.length) fingerprints = null
  // The same cluster state is the same version whatever order the objects came in.
  const order = canonicalOrder(parsed.envelope.resources.items)
  if (order) {
    parsed.envelope.resources.items = order.map((i) => parsed.envelope.resources.items[i]!)
    if (fingerprints) fingerprints = order.map((i) => fingerprints![i]!)
  }
  const items = parsed.envelope.resources.items
  const snapshot = snapshotInput(parsed.envelope.proxy, items, fingerprints, state)
  stats.validateMs = performance.now() - t0
  // One cluster's ingests in turn; identical content in flight is stored once (./ingest-queue.ts).
  return queueOf(db, queue).run(
    input.cluster,
    snapshot.sha256,
    () => store(db, input, { parsed: parsed.envelope, items, fingerprints, snapshot, state, stats, report }, onPlanned),
    (theirs) => report({ created: false, version: theirs.version }),
  )
}

interface Prepared {
  parsed: Envelope
  items: Envelope['resources']['items']
  fingerprints: string[] | null
  snapshot: ReturnType<typeof snapshotInput>
  state: ClusterState | undefined
  stats: IngestStats
  report: <T>(r: T) => T
}

async function store(
  db: Database,
  input: IngestInput,
  prep: Prepared,
  onPlanned?: (snapshotSha256: string, cp: ClusterPlan, summaries: VariantSummary[]) => void,
): Promise<IngestResult> {
  const { items, fingerprints, stats, report } = prep
  let { snapshot } = prep
  const cache = cacheOf(db)
  // What the snapshot's hashing above relied on (stateStillValid checks it inside the transaction).
  const state = prep.state
  const parsed = { envelope: prep.parsed }
  const t1 = performance.now()

  // Cheap early exit before planning: agents re-POST unchanged snapshots all the time.
  if ((await latestSnapshotSha(db.pool, input.cluster)) === snapshot.sha256) {
    const existing = await findVersion(db.pool, input.cluster, 'latest')
    if (existing && existing.summary.snapshotSha256 === snapshot.sha256) {
      await recordDuplicateIngest(db.pool, { cluster: input.cluster, version: existing.summary.version, actor: input.actor })
      stats.storeMs = performance.now() - t1
      return report({ created: false, version: existing.summary })
    }
  }

  // The planner's memory is per cluster; a new one when this process has not planned the cluster.
  const reuse = state?.reuse ?? { families: {} }
  const planned = planOrReject(parsed.envelope, { reuse, itemHashes: snapshot.objects.map((o) => o.sha256), stats: sharedMemo })
  const p = planned.plan
  const content = planInput(p, cache.segmentKeys)
  const counts = { ...countsOf(p, sharedMemo), nodes: nodeCounts(planned.cluster) }
  const t2 = performance.now()
  stats.planMs = t2 - t1

  const stored = await inTransaction(db.pool, async (client) => {
    const valid = state && (await stateStillValid(client, state)) ? state : undefined
    // Its version is gone (cluster deleted, pruned): bodies skipped for its rows are needed after all.
    if (state && !valid) snapshot = snapshotInput(parsed.envelope.proxy, items, null, undefined)
    const snap = await putSnapshot(client, snapshot, valid?.objectIds)
    const pl = await putPlan(client, content, valid?.segmentIds)
    const cluster = await lockCluster(client, input.cluster)
    // Lost the race to an identical concurrent ingest: nothing of ours is kept.
    if ((await latestSnapshotSha(client, input.cluster)) === snapshot.sha256) return rollback(undefined)
    const number = await insertVersion(client, {
      clusterId: cluster.id,
      kind: 'snapshot',
      actor: input.actor,
      reason: null,
      sourceVersion: null,
      snapshotId: snap.id,
      planId: pl.id,
      counts,
    })
    // History (src/store/history.ts): the event commits with the version it records.
    await recordIngestEvent(client, { clusterId: cluster.id, created: true, version: number, actor: input.actor })
    // Growth statistics, in the same transaction (src/services/stats-record.ts).
    const keys = content.families.map((f) => f.segments.map((s) => s.sha256))
    const previous = state && state.clusterId === cluster.id && state.number === number - 1 ? state : undefined
    await recordVersionStats(client, {
      clusterId: cluster.id,
      number,
      plan: p,
      keys,
      ...(previous && { previous: previous.plan, previousKeys: previous.keys }),
    })
    // Every node's sizes, for growth per node (store/node-stats.ts).
    const summaries = variantSummaries(planned.cluster, sharedMemo)
    await insertNodeStats(client, cluster.id, number, nodeStatsRows(planned.cluster, summaries))
    const row = await findVersion(client, input.cluster, number)
    return { cluster, number, keys, snap, pl, summaries, row: row! }
  })
  if (!stored) {
    const existing = await findVersion(db.pool, input.cluster, 'latest')
    await recordDuplicateIngest(db.pool, { cluster: input.cluster, version: existing!.summary.version, actor: input.actor })
    stats.storeMs = performance.now() - t2
    return report({ created: false, version: existing!.summary })
  }
  const { cluster, number, keys, snap, pl, summaries, row } = stored
  onPlanned?.(snapshot.sha256, planned.cluster, summaries)
  cache.set(input.cluster, nextState(cluster.id, number, p, keys, snapshot.objects, snap.ids, content.families, pl.ids, fingerprints, reuse))
  Object.assign(stats, { created: true, storeMs: performance.now() - t2, insertedContent: snap.insertedContent + pl.insertedContent })
  return report({ created: true, version: row.summary as VersionSummary })
}

/** What the next ingest of the cluster may reuse: this version's hashes and the row ids we learnt. */
function nextState(
  clusterId: number,
  number: number,
  plan: Plan,
  keys: string[][],
  objects: ReadonlyArray<{ sha256: string }>,
  objectIds: readonly number[] | undefined,
  families: ReadonlyArray<{ segments: ReadonlyArray<{ sha256: string }> }>,
  segmentIds: readonly number[] | undefined,
  fingerprints: readonly string[] | null,
  reuse: PlanReuse,
): ClusterState {
  const objectsByRaw = new Map<string, string>()
  if (fingerprints) fingerprints.forEach((f, i) => objectsByRaw.set(f, objects[i]!.sha256))
  const oids = new Map<string, number>()
  // Without fresh ids (the snapshot or plan row already existed) nothing is known: no id is guessed.
  if (objectIds) objects.forEach((o, i) => oids.set(o.sha256, objectIds[i]!))
  const sids = new Map<string, number>()
  if (segmentIds) {
    let k = 0
    for (const f of families) for (const s of f.segments) sids.set(s.sha256, segmentIds[k++]!)
  }
  return { clusterId, number, objectsByRaw, objectIds: oids, segmentIds: sids, plan, keys, reuse }
}
