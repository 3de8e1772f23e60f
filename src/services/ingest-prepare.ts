/**
 * The CPU half of an ingest — parse the body, validate, put the objects in canonical order, hash
 * them, plan every node, hash the segments, count and compute the growth statistics — with the
 * per-cluster memory that makes a re-ingest pay only for what changed (./ingest-cache.ts). No
 * I/O: the other half (./ingest.ts) does the database work on the main thread.
 *
 * It runs in the ingest worker thread (./ingest-worker.ts), so a 10k-service POST does not hold
 * the event loop for seconds: reads go on being served while it is parsed and planned. What
 * comes back is as little as the store needs: the rows to write as COPY lines in two buffers that
 * are moved, not copied (packRows), the rest plain data; the bodies of objects and the lines of
 * segments whose rows the previous version already stored are left out ("partial"); `full`
 * supplies them when the main thread finds, inside its transaction, that those rows can no longer
 * be trusted.
 *
 * An ingest is several tasks against one token: `validate` (→ the snapshot's sha256, which the
 * main thread deduplicates on before any planning), `plan`, then `commit` or `discard`.
 */
import { createHash } from 'node:crypto'
import { toEnvelope, type Envelope } from '../planner/index.js'
import type { Segment } from '../planner/types.js'
import { variantSummaries } from '../planner/analysis/index.js'
import type { PlanReuse } from '../planner/reuse.js'
import { DomainError, ValidationError } from '../errors.js'
import { canonicalJson } from '../store/canonical.js'
import type { NodeStatsRow } from '../store/node-stats.js'
import type { PlanInput } from '../store/plans.js'
import type { VersionCounts } from '../store/records.js'
import type { SnapshotInput } from '../store/snapshots.js'
import { objectLine, segmentLine } from '../store/content.js'
import { DEFAULT_PARSE_LIMITS, type ParseLimits } from './bounded.js'
import { canonicalOrder, nodeCounts, nodeStatsRows, outlineOf, planOrReject, planStoredSync, type NodesOutline } from './content.js'
import { countsOf, planInput, rawFingerprint, rawItems, snapshotInput, type KnownItem, type WorkerClusterState } from './ingest-cache.js'
import { itemsLayout, layoutFingerprints, memoryOf, parseItem, withItems, type LayoutMemory } from './json-items.js'
import { parseBody, type BodyType } from './parse-body.js'
import { computeVersionStats, sharedMemo, type ComputedStats, type SegmentKeys } from './stats-record.js'
import type { Plan } from '../planner/types.js'

/** The request body as received (parsed here), or a document already parsed (GraphQL). */
export interface ValidateTask {
  op: 'validate'
  cluster: string
  body?: { bytes: Uint8Array; type: BodyType }
  document?: unknown
  proxy?: Record<string, unknown>
  limits?: ParseLimits
}

export interface Validated {
  token: number
  sha256: string
  validateMs: number
}

/** The version a partial answer leaves out rows of (they are that version's). */
export interface BasedOn {
  clusterId: number
  number: number
}

/** Rows' COPY lines in one buffer (moved across, not copied); row i is bytes[offsets[i], offsets[i+1]), empty: not sent. */
export interface PackedLines {
  bytes: Uint8Array
  offsets: Uint32Array
}

/** The rows to store, their bodies as COPY lines (store/content.ts objectLine, segmentLine). */
export interface Rows {
  snapshot: SnapshotInput
  content: PlanInput
  objectLines: PackedLines
  /** Over every family's segments in order. */
  segmentLines: PackedLines
}

export interface Planned extends Rows {
  /** Some object bodies or segment lines are left out: those `basedOn` stored. */
  partial: boolean
  basedOn: BasedOn | null
  /** Growth statistics against `basedOn`'s plan (the previous version), or against none when null. */
  stats: ComputedStats
  counts: VersionCounts
  keys: string[][]
  /** Each segment's key (service port), aligned with `keys`: enough of the plan to load the predecessor's for a delta. */
  segmentNames: string[][]
  nodes: NodesOutline
  nodeRows: NodeStatsRow[]
  planMs: number
}

export type Task =
  | ValidateTask
  | { op: 'plan'; token: number }
  | { op: 'full'; token: number }
  | { op: 'stats'; token: number; previous: { plan: Plan; keys: SegmentKeys } | null }
  | { op: 'commit'; token: number; cluster: string; clusterId: number; number: number; objectRows: boolean; segmentRows: boolean }
  | { op: 'discard'; token: number }
  | { op: 'planStored'; proxy: unknown; items: string[] }

/** A DomainError as data (errors lose their class crossing a thread). */
export interface ErrorData {
  name: string
  status: number
  title: string
  detail: string
  issues: DomainError['issues']
  limit?: { name: string; value: number; env?: string }
}

/** `transfer`: the buffers the answer holds, moved rather than copied (./ingest-worker.ts). */
export type Answer<T> = { ok: true; value: T; transfer?: ArrayBuffer[] } | { ok: false; error: ErrorData }

function pack(lines: ReadonlyArray<string | undefined>): PackedLines {
  // One join and one encoding of the whole text: far cheaper than encoding 40k rows one by one.
  const text = lines.map((l) => l ?? '').join('')
  const encoded = Buffer.from(text, 'utf8')
  // A buffer of its own (small ones come from node's shared pool), so it can be moved.
  const bytes = encoded.byteOffset === 0 && encoded.byteLength === encoded.buffer.byteLength ? encoded : Buffer.allocUnsafeSlow(encoded.length)
  if (bytes !== encoded) encoded.copy(bytes)
  const ascii = bytes.length === text.length
  const offsets = new Uint32Array(lines.length + 1)
  let total = 0
  lines.forEach((l, i) => {
    if (l !== undefined) total += ascii ? l.length : Buffer.byteLength(l)
    offsets[i + 1] = total
  })
  return { bytes, offsets }
}

/** The snapshot and plan rows with their bodies and lines taken out, and packed as COPY lines. */
function packRows(snapshot: SnapshotInput, content: PlanInput): Rows {
  const objectLines = pack(snapshot.objects.map((o) => (o.body === undefined ? undefined : objectLine(o))))
  const segmentLines = pack(content.families.flatMap((f) => f.segments.map((g) => (g.segment === undefined ? undefined : segmentLine(g)))))
  return {
    snapshot: { ...snapshot, objects: snapshot.objects.map((o) => ({ sha256: o.sha256 })) },
    content: { ...content, families: content.families.map((f) => ({ family: f.family, segments: f.segments.map((g) => ({ sha256: g.sha256 })) })) },
    objectLines,
    segmentLines,
  }
}

/** The rows as they are, for a preparer on the main thread: nothing crosses, so nothing is packed. */
function unpacked(snapshot: SnapshotInput, content: PlanInput): Rows {
  const none = { bytes: new Uint8Array(0), offsets: new Uint32Array(0) }
  return { snapshot, content, objectLines: none, segmentLines: none }
}

function transferOf(r: Rows): ArrayBuffer[] {
  return [r.objectLines.bytes.buffer as ArrayBuffer, r.segmentLines.bytes.buffer as ArrayBuffer]
}

/** On the main thread: the rows as the store takes them, each sent line on its row. */
export function unpackRows(r: Rows): Pick<Rows, 'snapshot' | 'content'> {
  // Not packed (the preparer runs on this thread): the rows are still whole.
  if (r.objectLines.offsets.length === 0) return { snapshot: r.snapshot, content: r.content }
  const line = (p: PackedLines, i: number) => (p.offsets[i]! < p.offsets[i + 1]! ? p.bytes.subarray(p.offsets[i]!, p.offsets[i + 1]!) : undefined)
  const objects = r.snapshot.objects.map((o, i) => {
    const l = line(r.objectLines, i)
    return l ? { sha256: o.sha256, line: l } : { sha256: o.sha256 }
  })
  let k = 0
  const families = r.content.families.map((f) => ({
    family: f.family,
    segments: f.segments.map((g) => {
      const l = line(r.segmentLines, k++)
      return l ? { sha256: g.sha256, line: l } : { sha256: g.sha256 }
    }),
  }))
  return { snapshot: { ...r.snapshot, objects }, content: { ...r.content, families } }
}

/**
 * A body's document, and for a JSON body the fingerprints of its items' bytes. When the cluster's
 * previous version is known here, an item whose bytes it had is that version's validated object,
 * not parsed again, and only the rest of the body is (./json-items.ts). Whatever does not read
 * that way is parsed whole, so its errors are the parser's. Without a previous version nothing
 * needs the fingerprints before the snapshot is found valid, so they are computed only then
 * (`fingerprints()`): a refused body of a million tiny items is not hashed a million times.
 */
function readBody(
  body: { bytes: Uint8Array; type: BodyType },
  limits: ParseLimits,
  state: WorkerClusterState | undefined,
): { document: unknown; fingerprints: () => string[] | null; layout: () => LayoutMemory | undefined } {
  const layout = body.type === 'json' ? itemsLayout(body.bytes, limits.maxDepth, state?.layout) : null
  const fingerprints = () => (layout ? layoutFingerprints(body.bytes, layout) : null)
  const memory = () => (layout ? memoryOf(layout, limits.maxDepth) : undefined)
  if (layout && state) {
    const fps = fingerprints()!
    const values: unknown[] = new Array(fps.length)
    let ok = true
    for (let i = 0; i < values.length && ok; i++) {
      const known = state.objectsByRaw.get(fps[i]!)
      values[i] = known ? known.item : parseItem(body.bytes, layout.starts[i]!, layout.ends[i]!)
      ok = values[i] !== undefined
    }
    const document = ok ? withItems(body.bytes, layout, values) : null
    if (document) return { document, fingerprints, layout: memory }
  }
  const text = Buffer.from(body.bytes.buffer, body.bytes.byteOffset, body.bytes.byteLength).toString('utf8')
  return { document: parseBody(text, body.type, limits), fingerprints, layout: memory }
}

const bodySha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('base64')

interface Pending {
  cluster: string
  /** The body's shape (see BodyKey), and its sha256 or, until that is computed, its bytes. */
  body?: { shape: string; sha256?: string; bytes?: Uint8Array }
  /** Not validated yet: the bytes are the previous version's, so is their snapshot; `plan` validates them if asked. */
  deferred?: ValidateTask
  envelope?: Envelope
  items?: Envelope['resources']['items']
  fingerprints?: string[] | null
  layout?: LayoutMemory
  snapshot?: SnapshotInput
  state: WorkerClusterState | undefined
  planned?: { plan: Plan; keys: string[][]; reuse: PlanReuse; content: PlanInput }
}

/** One per thread: the clusters' memory and the ingests in flight. */
export class IngestPreparer {
  private readonly clusters = new Map<string, WorkerClusterState>()
  private readonly pending = new Map<number, Pending>()
  private readonly segmentKeys = new WeakMap<Segment, string>()
  private next = 1

  /** `pack`: answers cross a thread (see packRows); false when the preparer runs on the main thread. */
  constructor(
    private readonly maxClusters = 8,
    private readonly pack = true,
  ) {}

  handle(task: Task): Answer<unknown> {
    try {
      const value = this.run(task)
      return this.pack && (task.op === 'plan' || task.op === 'full') ? { ok: true, value, transfer: transferOf(value as Rows) } : { ok: true, value }
    } catch (err) {
      if (!(err instanceof DomainError)) throw err
      const limit = (err as { limit?: ErrorData['limit'] }).limit
      return { ok: false, error: { name: err.name, status: err.status, title: err.title, detail: err.message, issues: err.issues, ...(limit && { limit }) } }
    }
  }

  private run(task: Task): unknown {
    switch (task.op) {
      case 'validate':
        return this.validate(task)
      case 'plan':
        return this.plan(task.token)
      case 'full':
        return this.full(task.token)
      case 'stats': {
        const p = this.planned(task.token)
        return computeVersionStats(p.planned!.plan, task.previous?.plan ?? null, { plan: p.planned!.keys, previous: task.previous?.keys })
      }
      case 'commit':
        return this.commit(task)
      case 'discard':
        return void this.pending.delete(task.token)
      case 'planStored':
        return planStoredSync(task.proxy, task.items)
    }
  }

  /**
   * Agents re-POST unchanged snapshots all the time: bytes identical to those of the cluster's
   * latest version here (with the same settings) are that version's snapshot, known without
   * parsing them. Anything else is parsed, validated and hashed.
   */
  private validate(task: ValidateTask): Validated {
    const t0 = performance.now()
    const state = this.clusters.get(task.cluster)
    const shape = task.body ? `${task.body.bytes.byteLength}\u0000${task.body.type}\u0000${canonicalJson(task.proxy ?? null)}` : undefined
    // Hashed now only if it may be the same bytes (./ingest-cache.ts BodyKey).
    const sha256 = shape !== undefined && state?.body?.shape === shape ? bodySha256(task.body!.bytes) : undefined
    const body = shape !== undefined ? { body: sha256 !== undefined ? { shape, sha256 } : { shape, bytes: task.body!.bytes } } : {}
    const token = this.next++
    if (sha256 !== undefined && state!.body!.sha256 === sha256) {
      this.pending.set(token, { cluster: task.cluster, ...body, deferred: task, state })
      return { token, sha256: state!.sha256, validateMs: performance.now() - t0 }
    }
    const p: Pending = { cluster: task.cluster, state, ...body }
    this.parse(task, p)
    this.pending.set(token, p)
    return { token, sha256: p.snapshot!.sha256, validateMs: performance.now() - t0 }
  }

  private parse(task: ValidateTask, p: Pending): void {
    const { state } = p
    // Items sent exactly as in the previous version passed validation then: not checked again.
    const trusted = new Set<unknown>()
    const read = task.body ? readBody(task.body, task.limits ?? DEFAULT_PARSE_LIMITS, state) : null
    const document = read ? read.document : task.document
    const raw = rawItems(document)
    const fingerprintsOf = (): string[] | null => {
      if (!raw) return null
      const fromBytes = read?.fingerprints()
      return fromBytes && fromBytes.length === raw.length ? fromBytes : raw.map(rawFingerprint)
    }
    // Needed before validation only to find the items known already; else once the snapshot is valid.
    let fingerprints = state ? fingerprintsOf() : null
    if (raw && fingerprints && state) {
      // From bytes, a known item is the previous version's object itself (readBody); otherwise an equal one.
      raw.forEach((item, i) => state.objectsByRaw.has(fingerprints![i]!) && trusted.add(item))
    }
    const parsed = toEnvelope(document, task.proxy, { trusted })
    if (!parsed.ok) throw new ValidationError('The snapshot is not valid.', parsed.issues)
    if (!state) fingerprints = fingerprintsOf()
    if (fingerprints && fingerprints.length !== parsed.envelope.resources.items.length) fingerprints = null
    // The same cluster state is the same version whatever order the objects came in.
    const order = canonicalOrder(parsed.envelope.resources.items)
    if (order) {
      parsed.envelope.resources.items = order.map((i) => parsed.envelope.resources.items[i]!)
      if (fingerprints) fingerprints = order.map((i) => fingerprints![i]!)
    }
    p.envelope = parsed.envelope
    p.items = parsed.envelope.resources.items
    p.fingerprints = fingerprints
    // Kept only with fingerprints: the next body's items are recognised by them.
    const layout = fingerprints && read ? read.layout() : undefined
    if (layout) p.layout = layout
    p.snapshot = snapshotInput(parsed.envelope.proxy, p.items, fingerprints, state)
  }

  private take(token: number): Pending {
    const p = this.pending.get(token)
    if (!p) throw new Error(`ingest ${token} is not in flight in this worker`)
    return p
  }

  private planned(token: number): Pending {
    const p = this.take(token)
    if (!p.planned) throw new Error(`ingest ${token} has not been planned`)
    return p
  }

  private plan(token: number): Planned {
    const t0 = performance.now()
    const p = this.take(token)
    if (p.deferred) {
      const sha256 = p.state!.sha256
      this.parse(p.deferred, p)
      delete p.deferred
      if (p.snapshot!.sha256 !== sha256) throw new Error('identical bytes made another snapshot')
    }
    const { state } = p
    // The planner's memory is per cluster; a new one when this thread has not planned the cluster.
    const reuse = state?.reuse ?? { families: {} }
    const vp = planOrReject(p.envelope!, { reuse, itemHashes: p.snapshot!.objects.map((o) => o.sha256), stats: sharedMemo })
    const plan = vp.plan
    const content = planInput(plan, this.segmentKeys)
    const keys = content.families.map((f) => f.segments.map((s) => s.sha256))
    p.planned = { plan, keys, reuse, content }
    // Segments whose rows the previous version stored travel as their key alone.
    let partial = p.snapshot!.objects.some((o) => o.body === undefined)
    let sent = content
    if (state && state.storedSegments.size > 0) {
      sent = { ...content }
      sent.families = content.families.map((f) => ({
        family: f.family,
        segments: f.segments.map((s) => (state.storedSegments.has(s.sha256) ? ((partial = true), { sha256: s.sha256 }) : s)),
      }))
    }
    const summaries = variantSummaries(vp.cluster, sharedMemo)
    const cp = vp.cluster
    return {
      ...(this.pack ? packRows(p.snapshot!, sent) : unpacked(p.snapshot!, sent)),
      partial,
      basedOn: state ? { clusterId: state.clusterId, number: state.number } : null,
      stats: computeVersionStats(plan, state?.plan ?? null, { plan: keys, previous: state?.keys }),
      counts: { ...countsOf(plan, sharedMemo), nodes: nodeCounts(cp) },
      keys,
      segmentNames: plan.families.map((f) => f.segments.map((g) => g.key)),
      nodes: outlineOf({ cp, summaries }),
      nodeRows: nodeStatsRows(cp, summaries),
      planMs: performance.now() - t0,
    }
  }

  /** Every body and every segment's lines: the previous version's rows could not be used. */
  private full(token: number): Rows {
    const p = this.planned(token)
    const objects = p.snapshot!.objects.map((o, i) => (o.body !== undefined ? o : { sha256: o.sha256, body: canonicalJson(p.items![i]) }))
    return (this.pack ? packRows : unpacked)({ ...p.snapshot!, objects }, p.planned!.content)
  }

  private commit(task: Extract<Task, { op: 'commit' }>): void {
    const p = this.take(task.token)
    this.pending.delete(task.token)
    const { plan, keys, reuse } = p.planned!
    const objectsByRaw = new Map<string, KnownItem>()
    if (p.fingerprints) p.fingerprints.forEach((f, i) => objectsByRaw.set(f, { sha256: p.snapshot!.objects[i]!.sha256, item: p.items![i]! }))
    // Rows the main thread learnt the ids of (it does not when the snapshot or plan row already existed).
    const storedObjects = new Set<string>(task.objectRows ? p.snapshot!.objects.map((o) => o.sha256) : [])
    const storedSegments = new Set<string>(task.segmentRows ? keys.flat() : [])
    this.clusters.delete(p.cluster)
    this.clusters.set(p.cluster, {
      clusterId: task.clusterId,
      number: task.number,
      sha256: p.snapshot!.sha256,
      ...(p.body && { body: { shape: p.body.shape, sha256: p.body.sha256 ?? bodySha256(p.body.bytes!) } }),
      objectsByRaw,
      ...(p.layout && { layout: p.layout }),
      storedObjects,
      storedSegments,
      plan,
      keys,
      reuse,
    })
    while (this.clusters.size > this.maxClusters) this.clusters.delete(this.clusters.keys().next().value!)
  }
}
