/**
 * Ingest: validate → plan → store, as ONE transaction so a failure leaves no partial version.
 *
 * Order inside the transaction matters for concurrency: content rows first (each table in
 * sha256 order, so overlapping ingests wait for each other instead of deadlocking), the cluster
 * row lock last and briefly — re-check "identical to the latest version?" under that lock,
 * then take the next number.
 *
 * The CPU work — parsing, validation, hashing, planning, statistics — happens in the ingest
 * worker thread (./ingest-prepare.ts, ./ingest-workers.ts); this file is the database half, on
 * the main thread, and asks the worker for the pieces in turn: validate (→ sha256, deduplicated
 * on before planning), plan, then commit (or discard).
 *
 * Incremental: the previous version this process wrote for the cluster (src/services/ingest-cache.ts)
 * lets an item sent exactly as last time skip validation and canonical hashing, lets the planner
 * reuse the segments of unchanged service ports, and lets the store skip looking up rows it
 * already knows. Results are identical to a cold ingest (test/services/incremental.test.ts).
 */
import { IngestQueue, type IngestQueueOptions } from './ingest-queue.js'
import { insertNodeStats } from '../store/node-stats.js'
import type { Database } from '../db/index.js'
import { loadPlanForDelta } from '../store/plans.js'
import type { Plan, Segment } from '../planner/types.js'
import { putPlan } from '../store/plans.js'
import { putSnapshot } from '../store/snapshots.js'
import { recordComputedStats } from './stats-record.js'
import { findVersion, insertVersion, latestSnapshotSha, lockCluster } from '../store/versions.js'
import { recordDuplicateIngest, recordIngestEvent } from '../store/history.js'
import { stateStillValid, StoredIdsCache, type StoredIds } from './ingest-cache.js'
import { unpackRows, type Planned, type Rows, type Validated } from './ingest-prepare.js'
import type { NodesOutline } from './content.js'
import type { IngestWorkers } from './ingest-workers.js'
import type { ComputedStats } from './stats-record.js'
import type { IngestInput, IngestResult, VersionSummary } from './contract.js'
import { inTransaction, rollback } from '../db/transaction.js'

/** Where an ingest spent its time (for benchmarks and debug logs). */
export interface IngestStats {
  created: boolean
  /** parse + validation + canonical snapshot hashing (in the worker) */
  validateMs: number
  /** plan + segment hashes + counts + statistics, in the worker (0 when deduplicated before planning) */
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

/** One cache of row ids per database handle (the services layer's lifetime); a WeakMap, so it goes with it. */
const caches = new WeakMap<Database, StoredIdsCache>()

function idsOf(db: Database): StoredIdsCache {
  let c = caches.get(db)
  if (!c) caches.set(db, (c = new StoredIdsCache()))
  return c
}

export interface IngestDeps {
  workers: IngestWorkers
  onStats?: (s: IngestStats) => void
  /** What the node views need of a version this ingest stored, by snapshot sha256 (./nodes.ts). */
  onPlanned?: (snapshotSha256: string, outline: NodesOutline) => void
  queue?: IngestQueueOptions
}

export async function ingest(db: Database, input: IngestInput, deps: IngestDeps): Promise<IngestResult> {
  const { workers } = deps
  const cluster = input.cluster
  const stats: IngestStats = { created: false, validateMs: 0, planMs: 0, storeMs: 0, insertedContent: 0 }
  const report = <T>(r: T): T => {
    deps.onStats?.(stats)
    return r
  }
  // A document already parsed (GraphQL, the CLI) crosses to the worker as JSON text: one
  // JSON.stringify costs the event loop a fraction of a structured clone of the same objects.
  const text = input.body || workers.threads === 0 ? undefined : JSON.stringify(input.document)
  const body = input.body ?? (text === undefined ? undefined : { bytes: Buffer.from(text), type: 'json' as const })
  const validated = await workers.run<Validated>(cluster, {
    op: 'validate',
    cluster,
    ...(body ? { body } : { document: input.document }),
    ...(input.proxy && { proxy: input.proxy }),
    // The bytes of a request are held to its limits; a document's depth was bounded by whatever parsed it.
    ...(input.body ? input.limits && { limits: input.limits } : { limits: { maxDepth: Number.MAX_SAFE_INTEGER, yamlMaxAliases: 0 } }),
  })
  stats.validateMs = validated.validateMs
  try {
    // One cluster's ingests in turn; identical content in flight is stored once (./ingest-queue.ts).
    return await queueOf(db, deps.queue).run(
      cluster,
      validated.sha256,
      () => store(db, input, validated, deps, stats, report),
      (theirs) => report({ created: false, version: theirs.version }),
    )
  } finally {
    // Committed ingests have left the worker already; the others are forgotten there.
    await workers.run(cluster, { op: 'discard', token: validated.token }).catch(() => undefined)
  }
}

async function store(
  db: Database,
  input: IngestInput,
  validated: Validated,
  deps: IngestDeps,
  stats: IngestStats,
  report: <T>(r: T) => T,
): Promise<IngestResult> {
  const { workers } = deps
  const { token, sha256 } = validated
  const ids = idsOf(db)
  const t1 = performance.now()

  // Cheap early exit before planning: agents re-POST unchanged snapshots all the time.
  if ((await latestSnapshotSha(db.pool, input.cluster)) === sha256) {
    const existing = await findVersion(db.pool, input.cluster, 'latest')
    if (existing && existing.summary.snapshotSha256 === sha256) {
      await recordDuplicateIngest(db.pool, { cluster: input.cluster, version: existing.summary.version, actor: input.actor })
      stats.storeMs = performance.now() - t1
      return report({ created: false, version: existing.summary })
    }
  }

  const planned = await workers.run<Planned>(input.cluster, { op: 'plan', token })
  stats.planMs = planned.planMs
  const t2 = performance.now()
  const known = ids.get(input.cluster)

  const stored = await inTransaction(db.pool, async (client) => {
    // The worker left out what `basedOn` stored: usable only if these are that version's ids, still alive.
    const basedOn = planned.basedOn
    const valid =
      known && basedOn && known.clusterId === basedOn.clusterId && known.number === basedOn.number && (await stateStillValid(client, known)) ? known : undefined
    let { snapshot, content } = unpackRows(planned)
    if (!valid && planned.partial) ({ snapshot, content } = unpackRows(await workers.run<Rows>(input.cluster, { op: 'full', token })))
    const snap = await putSnapshot(client, snapshot, valid?.objectIds)
    const pl = await putPlan(client, content, valid?.segmentIds)
    const cluster = await lockCluster(client, input.cluster)
    // Lost the race to an identical concurrent ingest: nothing of ours is kept.
    if ((await latestSnapshotSha(client, input.cluster)) === sha256) return rollback(undefined)
    const number = await insertVersion(client, {
      clusterId: cluster.id,
      kind: 'snapshot',
      actor: input.actor,
      reason: null,
      sourceVersion: null,
      snapshotId: snap.id,
      planId: pl.id,
      counts: planned.counts,
    })
    // History (src/store/history.ts): the event commits with the version it records.
    await recordIngestEvent(client, { clusterId: cluster.id, created: true, version: number, actor: input.actor })
    // Growth statistics, in the same transaction (src/services/stats-record.ts): the worker's,
    // computed against its previous plan, when that plan is this version's predecessor.
    await recordComputedStats(client, cluster.id, number, async (previousPlanId): Promise<ComputedStats> => {
      const against = basedOn ? basedOn.clusterId === cluster.id && basedOn.number === number - 1 : previousPlanId === null
      if (against) return planned.stats
      // The predecessor's segments as the delta needs them: keys everywhere, lines only where they differ (store/plans.ts).
      const outline = planned.content.families.map((f, fi) => ({ family: f.family, segments: planned.segmentNames[fi]!.map((key) => ({ key }) as Segment) }))
      const previous = previousPlanId === null ? null : await loadPlanForDelta(client, previousPlanId, { families: outline } as Plan, planned.keys)
      return workers.run<ComputedStats>(input.cluster, { op: 'stats', token, previous: previous && { plan: previous.plan, keys: previous.hashes } })
    })
    // Every node's sizes, for growth per node (store/node-stats.ts).
    await insertNodeStats(client, cluster.id, number, planned.nodeRows)
    const row = await findVersion(client, input.cluster, number)
    return { cluster, number, snap, pl, row: row! }
  })
  if (!stored) {
    const existing = await findVersion(db.pool, input.cluster, 'latest')
    await recordDuplicateIngest(db.pool, { cluster: input.cluster, version: existing!.summary.version, actor: input.actor })
    stats.storeMs = performance.now() - t2
    return report({ created: false, version: existing!.summary })
  }
  const { cluster, number, snap, pl, row } = stored
  deps.onPlanned?.(sha256, planned.nodes)
  ids.set(input.cluster, storedIds(cluster.id, number, planned, snap.ids, pl.ids))
  // The worker's memory of this version serves the next ingest, whose tasks queue behind this one
  // in the same thread (FIFO): the client does not wait for it. Should it fail, the next ingest
  // only finds no memory and prepares everything, as after a restart.
  void workers
    .run(input.cluster, {
      op: 'commit',
      token,
      cluster: input.cluster,
      clusterId: cluster.id,
      number,
      objectRows: !!snap.ids,
      segmentRows: !!pl.ids,
    })
    .catch(() => undefined)
  Object.assign(stats, { created: true, storeMs: performance.now() - t2, insertedContent: snap.insertedContent + pl.insertedContent })
  return report({ created: true, version: row.summary as VersionSummary })
}

/** The ids of this version's rows (none are known when the snapshot or plan row already existed: no id is guessed). */
function storedIds(
  clusterId: number,
  number: number,
  planned: Planned,
  objectIds: readonly number[] | undefined,
  segmentIds: readonly number[] | undefined,
): StoredIds {
  const oids = new Map<string, number>()
  if (objectIds) planned.snapshot.objects.forEach((o, i) => oids.set(o.sha256, objectIds[i]!))
  const sids = new Map<string, number>()
  if (segmentIds) {
    let k = 0
    for (const f of planned.keys) for (const key of f) sids.set(key, segmentIds[k++]!)
  }
  return { clusterId, number, objectIds: oids, segmentIds: sids }
}
