/**
 * Table assembly: snapshot envelope in, one FamilyPlan per IP family out.
 */
import type { Family, FamilyPlan, Plan, PlanWarning, Segment } from './types.js'
import type { Envelope } from './kube/envelope.js'
import type { EndpointSliceObject, EndpointsObject, ServiceObject } from './kube/schemas.js'
import {
  collectLegacyEndpoints,
  collectSlice,
  epKey,
  itemPointer,
  servicePortsOf,
  scanSlice,
  sliceBound,
  sliceEndpoints,
  sliceSlots,
  sortedEndpoints,
  type Endpoint,
  type ServicePort,
  type SliceRef,
  type SliceWarning,
} from './model.js'
import { familyContext, nodeFamilies, type FamilyContext } from './context.js'
import { headSegment, tailSegment } from './rules/fixed.js'
import { serviceSegment } from './rules/service.js'
import { SegmentWriter } from './rules/writer.js'
import { contextKey, type FamilyReuse, type PlanOptions } from './reuse.js'

/** kube-proxy's largeClusterEndpointsThreshold (proxier.go). */
export const LARGE_CLUSTER_ENDPOINTS = 1000

type Warn = (w: PlanWarning) => void

/** The plan's warnings, each reported once (both families parse the same objects). */
class Warnings {
  readonly list: PlanWarning[] = []
  private seen = new Set<string>()

  readonly add: Warn = (w) => {
    if (this.fresh(w)) this.list.push(w)
  }

  /** Adds `ws` at position `at`, where they belong in the report's order. */
  insertAt(at: number, ws: PlanWarning[]): void {
    this.list.splice(at, 0, ...ws.filter((w) => this.fresh(w)))
  }

  private fresh(w: PlanWarning): boolean {
    const k = `${w.code}\0${w.pointer ?? ''}\0${w.message}`
    if (this.seen.has(k)) return false
    this.seen.add(k)
    return true
  }
}

interface Ref<T> {
  obj: T
  /** Index in the envelope's items (pointers are built only for warnings). */
  item: number
}

interface Indexed {
  /** The envelope's item count. */
  items: number
  services: Ref<ServiceObject>[]
  slices: SliceRef[]
  /**
   * EndpointSlices by namespace, then `kubernetes.io/service-name` label (any address type), in
   * item order; keyed by the objects' own strings, so no `ns/name` key is built per object.
   */
  slicesOf: Map<string, Map<string, SliceRef[]>>
  /** Item indexes of legacy Endpoints by `namespace/name` (for reuse fingerprints). */
  legacyItemsOf: Map<string, number[]>
  legacy: Ref<EndpointsObject>[]
  ignored: number
  ignoredKinds: Map<string, string>
}

function index(env: Envelope): Indexed {
  const out: Indexed = { items: env.resources.items.length, services: [], slices: [], slicesOf: new Map(), legacyItemsOf: new Map(), legacy: [], ignored: 0, ignoredKinds: new Map() }
  const items = env.resources.items
  for (let i = 0; i < items.length; i++) {
    const o = items[i]!
    switch (o.kind) {
      case 'Service':
        out.services.push({ obj: o as unknown as ServiceObject, item: i })
        break
      case 'EndpointSlice':
        addSlice(out, { obj: o as unknown as EndpointSliceObject, item: i, scanned: false, asIs: false })
        break
      case 'Endpoints':
        out.legacy.push({ obj: o as unknown as EndpointsObject, item: i })
        pushTo(out.legacyItemsOf, `${(o as unknown as EndpointsObject).metadata.namespace ?? 'default'}/${(o as unknown as EndpointsObject).metadata.name}`, i)
        break
      case 'Node':
        break
      default:
        out.ignored++
        if (!out.ignoredKinds.has(o.kind)) out.ignoredKinds.set(o.kind, itemPointer(i))
    }
  }
  return out
}

function addSlice(ix: Indexed, ref: SliceRef): void {
  ix.slices.push(ref)
  const svcName = ref.obj.metadata.labels?.['kubernetes.io/service-name']
  if (!svcName) return
  const ns = ref.obj.metadata.namespace ?? 'default'
  let byName = ix.slicesOf.get(ns)
  if (!byName) ix.slicesOf.set(ns, (byName = new Map()))
  const list = byName.get(svcName)
  if (list) list.push(ref)
  else byName.set(svcName, [ref])
}

/** The EndpointSlices of Service `namespace/name`, in item order. */
function slicesFor(ix: Indexed, namespace: string, name: string): SliceRef[] | undefined {
  return ix.slicesOf.get(namespace)?.get(name)
}

function byNameThenProtocol(a: ServicePort, b: ServicePort): number {
  const x = a.name
  const y = b.name
  if (x < y) return -1
  if (x !== y) return 1
  return a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0
}

/** The family's service ports, in plan order. */
function servicePorts(ix: Indexed, family: Family, warn: Warn, itemOf?: Map<ServicePort, number>): ServicePort[] {
  const ports: ServicePort[] = []
  for (const { obj, item } of ix.services) {
    for (const sp of servicePortsOf(obj, family, item, warn)) {
      ports.push(sp)
      itemOf?.set(sp, item)
    }
  }
  // Same name+protocol twice (the API would reject it): the later one wins, as in kube-proxy's
  // map. The sort is stable, so the later one is the last of its run.
  ports.sort(byNameThenProtocol)
  let w = 0
  for (let r = 0; r < ports.length; r++) {
    const sp = ports[r]!
    if (w > 0 && byNameThenProtocol(ports[w - 1]!, sp) === 0) ports[w - 1] = sp
    else ports[w++] = sp
  }
  ports.length = w
  return ports
}

/** Legacy v1 Endpoints, read only for planned services without any EndpointSlice. */
function legacyEndpoints(ix: Indexed, family: Family, ports: ServicePort[], warn: Warn): Map<string, Map<string, Endpoint>> {
  const out = new Map<string, Map<string, Endpoint>>()
  if (ix.legacy.length === 0) return out
  const serviceKeys = new Set(ports.map((p) => p.serviceKey))
  for (const { obj, item } of ix.legacy) {
    const key = `${obj.metadata.namespace ?? 'default'}/${obj.metadata.name}`
    if (slicesFor(ix, obj.metadata.namespace ?? 'default', obj.metadata.name) || !serviceKeys.has(key)) continue
    warn({
      code: 'legacy-endpoints',
      message: `${key}: no EndpointSlice, using the v1 Endpoints object (kube-proxy itself reads only EndpointSlices)`,
      pointer: itemPointer(item),
    })
    collectLegacyEndpoints(obj, family, out)
  }
  return out
}

interface FamilyInput {
  ports: ServicePort[]
  legacy: Map<string, Map<string, Endpoint>>
}

/** Per input port: its reuse fingerprint, and the previous plan's segments. */
interface Reusing {
  fps: string[]
  from: Map<string, Segment> | undefined
}

/**
 * The indexes of `ports` (in plan order) in the order of their Services in the envelope. The
 * segments are built in this order and placed in plan order: a snapshot's objects lie in memory
 * roughly in the order JSON.parse met them, so reading the Services and their EndpointSlices in
 * item order rather than by name keeps the reads near each other (at 10k services, reading the
 * endpoints by name order cost ~40 ms in cache misses, reading them in item order ~5 ms).
 */
function itemOrder(ports: readonly ServicePort[], items: number): Int32Array {
  // A counting sort on the item index: stable, so a Service's ports keep their plan order.
  const starts = new Int32Array(items + 1)
  for (const sp of ports) starts[sp.item + 1]!++
  for (let i = 1; i <= items; i++) starts[i] += starts[i - 1]!
  const order = new Int32Array(ports.length)
  for (let k = 0; k < ports.length; k++) order[starts[ports[k]!.item]!++] = k
  return order
}

/**
 * Every service segment, in one pass: each port's endpoints are built, written and dropped, or,
 * when incremental, the previous plan's segment of an unchanged port is taken as is. Returns the
 * segments, the number of endpoints over all service ports, how many slice endpoint slots the
 * ports read, and (incremental) the segments by fingerprint for the next plan.
 */
function serviceSegments(
  ix: Indexed,
  input: FamilyInput,
  ctx: FamilyContext,
  sliceWarnings: SliceWarning[],
  reusing?: Reusing,
  stats?: PlanOptions['stats'],
): { segments: Segment[]; endpoints: number; slots: number; memo?: Map<string, Segment> } {
  const from = reusing?.from
  let misses = input.ports.length
  if (from) {
    misses = 0
    for (const fp of reusing.fps) if (!from.has(fp)) misses++
  }
  // A few new segments among reused ones: each gets its own text (see SegmentWriter).
  const w = new SegmentWriter(from && misses * 10 < input.ports.length ? 0 : undefined)
  const memo = reusing ? new Map<string, Segment>() : undefined
  const segments: Segment[] = new Array<Segment>(input.ports.length)
  const read = { slots: 0, warnings: sliceWarnings }
  let endpoints = 0
  for (const k of itemOrder(input.ports, ix.items)) {
    const sp = input.ports[k]!
    const slices = slicesFor(ix, sp.namespace, sp.serviceName)
    const fp = reusing?.fps[k]
    const hit = fp !== undefined ? from?.get(fp) : undefined
    if (hit) {
      if (slices) read.slots += sliceSlots(sp, slices, ctx.family)
      endpoints += hit.meta!.endpoints.total
      segments[k] = hit
      memo!.set(fp!, hit)
      continue
    }
    const eps = slices
      ? sliceEndpoints(sp, slices, ctx.family, read)
      : sortedEndpoints(input.legacy.get(epKey(sp.serviceKey, sp.portName, sp.protocol)))
    endpoints += eps.length
    const seg = serviceSegment(sp, eps, ctx, w, stats)
    segments[k] = seg
    if (fp !== undefined) memo!.set(fp, seg)
  }
  w.flush()
  return { segments, endpoints, slots: read.slots, memo }
}

/**
 * A service port's reuse fingerprint: the content hashes of its Service object and of the
 * Service's EndpointSlices in item order (plus the port, to tell a Service's ports apart); for a
 * Service without slices, of the legacy Endpoints objects it may read instead.
 */
function fingerprints(ix: Indexed, ports: readonly ServicePort[], itemOf: Map<ServicePort, number>, hashOf: (item: number) => string): string[] {
  return ports.map((sp) => {
    const slices = slicesFor(ix, sp.namespace, sp.serviceName)
    let fp = `${hashOf(itemOf.get(sp)!)}\n${sp.name}\n${sp.protocol}\n${slices ? 'slices' : 'legacy'}`
    for (const i of slices?.map((r) => r.item) ?? ix.legacyItemsOf.get(sp.serviceKey) ?? []) fp += `\n${hashOf(i)}`
    return fp
  })
}

function pushTo(m: Map<string, number[]>, key: string, v: number): void {
  const list = m.get(key)
  if (list) list.push(v)
  else m.set(key, [v])
}

/**
 * Endpoints in the family's slices and legacy objects that no planned port reads (counted in
 * Plan.counts.endpoints as kube-proxy's cache holds them, never planned). When the ports read
 * every slot of every slice there are none, and the slices need not be read again.
 */
function unplannedEndpoints(ix: Indexed, input: FamilyInput, family: Family, allRead: boolean): number {
  if (allRead && input.legacy.size === 0) return 0
  const planned = new Set(input.ports.map((sp) => epKey(sp.serviceKey, sp.portName, sp.protocol)))
  let n = 0
  if (!allRead) {
    const acc = new Map<string, Map<string, Endpoint>>()
    for (const { obj } of ix.slices) collectSlice(obj, family, acc, planned)
    for (const m of acc.values()) n += m.size
  }
  for (const [key, m] of input.legacy) if (!planned.has(key)) n += m.size
  return n
}

interface Incremental {
  previous: FamilyReuse | undefined
  hashOf: (item: number) => string
}

function familyPlan(
  env: Envelope,
  ix: Indexed,
  family: Family,
  warnings: Warnings,
  inc: Incremental | undefined,
  stats: PlanOptions['stats'],
): { fp: FamilyPlan; ports: ServicePort[]; endpoints: number; reuse?: FamilyReuse } {
  const warn = warnings.add
  const itemOf = inc ? new Map<ServicePort, number>() : undefined
  const ports = servicePorts(ix, family, warn, itemOf)
  let slots = 0
  for (const ref of ix.slices) slots += sliceBound(ref, family)
  // The slices' address warnings come next in the report, in item order; they are found as the
  // service ports first read each slice (scanSlice), and for the rest after the segments.
  const sliceWarningsAt = warnings.list.length
  const sliceWarnings: SliceWarning[] = []
  const input: FamilyInput = { ports, legacy: legacyEndpoints(ix, family, ports, warn) }
  const fps = inc ? fingerprints(ix, ports, itemOf!, inc.hashOf) : undefined
  // Segments are reused only when every family-wide input is as it was (context key).
  const reusing = (ctx: FamilyContext): Reusing | undefined =>
    fps && { fps, from: inc!.previous?.context === contextKey(ctx) ? inc!.previous.segments : undefined }
  // Large-cluster mode counts every endpoint of every service port, usable or not. Endpoints
  // are built one service port at a time, so the mode is decided on an upper bound (every
  // slot of every slice, duplicates and unusable addresses included) and the plan redone in
  // the rare case the exact count is at the threshold or below.
  let bound = slots
  for (const m of input.legacy.values()) bound += m.size
  let ctx = familyContext(env.proxy, family, bound > LARGE_CLUSTER_ENDPOINTS)
  let built = serviceSegments(ix, input, ctx, sliceWarnings, reusing(ctx), stats)
  if (!ctx.comments && built.endpoints <= LARGE_CLUSTER_ENDPOINTS) {
    ctx = familyContext(env.proxy, family, false)
    built = serviceSegments(ix, input, ctx, sliceWarnings, reusing(ctx), stats)
  }
  for (const ref of ix.slices) scanSlice(ref, family, sliceWarnings)
  sliceWarnings.sort((a, b) => a.item - b.item || a.index - b.index)
  warnings.insertAt(sliceWarningsAt, sliceWarnings.map((w) => w.warning))
  const segments = [headSegment(ctx), ...built.segments, tailSegment(ctx)]
  const unplanned = unplannedEndpoints(ix, input, family, built.slots === slots)
  const reuse = built.memo && { context: contextKey(ctx), segments: built.memo }
  return { fp: { family, segments }, ports, endpoints: built.endpoints + unplanned, reuse }
}

/**
 * Plans an envelope. With `opts.reuse` (caller-owned, src/planner/reuse.ts) the segments of
 * service ports whose inputs are unchanged since the previous call are reused, and `reuse` is
 * updated to this plan; the result is the same as without it (test/planner/reuse.test.ts).
 */
export function plan(envelope: Envelope, opts: PlanOptions = {}): Plan {
  const warnings = new Warnings()
  const ix = index(envelope)
  const items = envelope.resources.items
  const texts: string[] = []
  const hashOf = opts.reuse ? (i: number): string => opts.itemHashes?.[i] ?? (texts[i] ??= JSON.stringify(items[i])) : undefined
  const nextReuse: NonNullable<PlanOptions['reuse']>['families'] = {}
  const families: FamilyPlan[] = []
  // Services with a planned port in either family, by item (a Set of small integers: keying it
  // by `ns/name` cost ~3 ms at 10k in flattening and hashing those strings). Two objects with
  // one namespace/name, which the API server cannot hold, would count twice.
  const servicesSeen = new Set<number>()
  let servicePortCount = 0
  let endpoints = 0
  for (const family of nodeFamilies(envelope.proxy)) {
    const fam = familyPlan(envelope, ix, family, warnings, hashOf && { previous: opts.reuse!.families[family], hashOf }, opts.stats)
    if (fam.reuse) nextReuse[family] = fam.reuse
    families.push(fam.fp)
    servicePortCount += fam.ports.length
    for (const p of fam.ports) servicesSeen.add(p.item)
    endpoints += fam.endpoints
  }
  for (const [kind, at] of ix.ignoredKinds) {
    warnings.list.push({ code: 'unknown-kind', message: `objects of kind ${kind} are not read by kube-proxy and were ignored`, pointer: at })
  }
  if (opts.reuse) opts.reuse.families = nextReuse
  return {
    families,
    warnings: warnings.list,
    counts: { services: servicesSeen.size, servicePorts: servicePortCount, endpoints, ignoredObjects: ix.ignored },
  }
}
