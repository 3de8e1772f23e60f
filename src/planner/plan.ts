/**
 * Table assembly: snapshot envelope in, one FamilyPlan per IP family out.
 */
import type { ClusterPlan, Family, Plan, PlanVariant, PlanWarning, Segment, VariantFamily } from './types.js'
import type { Envelope, Issue } from './kube/envelope.js'
import { isKubeProxyConfigMap, resolveNodes, type NodeConfig } from './kube/settings.js'
import { safeWord } from './iptables/words.js'
import { nodesReading, usesLocalEndpoints } from './topology.js'
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
import { familyContext, LOCAL_CIDR, nodeFamilies, type FamilyContext } from './context.js'
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
  /** The LoadBalancerIPMode gate (cluster-wide): whether ipMode Proxy ingresses are left out. */
  ipMode: boolean
}

function index(env: Envelope, ipMode: boolean): Indexed {
  const out: Indexed = {
    items: env.resources.items.length,
    services: [],
    slices: [],
    slicesOf: new Map(),
    legacyItemsOf: new Map(),
    legacy: [],
    ignored: 0,
    ignoredKinds: new Map(),
    ipMode,
  }
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
        // kube-proxy's own ConfigMap is read by kube/settings.ts; any other object is ignored.
        if (isKubeProxyConfigMap(o)) break
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
    for (const sp of servicePortsOf(obj, family, item, warn, ix.ipMode)) {
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
  from: FamilyReuse | undefined
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
  deps?: Map<number, Endpoint[]>,
): { segments: Segment[]; endpoints: number; slots: number; memo?: FamilyReuse['segments']; memoEps?: FamilyReuse['endpoints'] } {
  const from = reusing?.from?.segments
  let misses = input.ports.length
  if (from) {
    misses = 0
    for (const fp of reusing.fps) if (!from.has(fp)) misses++
  }
  // A few new segments among reused ones: each gets its own text (see SegmentWriter).
  const w = new SegmentWriter(from && misses * 10 < input.ports.length ? 0 : undefined)
  const memo = reusing ? new Map<string, Segment>() : undefined
  const memoEps = reusing ? new Map<string, Endpoint[]>() : undefined
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
      const eps = reusing!.from!.endpoints.get(fp!)
      if (eps) {
        memoEps!.set(fp!, eps)
        deps?.set(k, eps)
      }
      continue
    }
    const eps = slices ? sliceEndpoints(sp, slices, ctx.family, read) : sortedEndpoints(input.legacy.get(epKey(sp.serviceKey, sp.portName, sp.protocol)))
    endpoints += eps.length
    // Kept for the nodes' own segments where the port's rules may read the node.
    const readsNode = usesLocalEndpoints(sp) || (sp.sourceRanges.length > 0 && sp.lbVIPs.length > 0) || eps.some(hinted)
    if (readsNode) deps?.set(k, eps)
    const seg = serviceSegment(sp, eps, ctx, w, stats)
    segments[k] = seg
    if (fp !== undefined) {
      memo!.set(fp, seg)
      if (readsNode) memoEps!.set(fp, eps)
    }
  }
  w.flush()
  return { segments, endpoints, slots: read.slots, memo, memoEps }
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

const hinted = (e: Endpoint): boolean => e.nodeHints !== null || e.zoneHints !== null

function pushTo<T>(m: Map<string, T[]>, key: string, v: T): void {
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

/** A node of the snapshot, as planned: its settings, and its context per family. */
interface NodeRef {
  cfg: NodeConfig
  families: Family[]
}

/** Nodes whose service segments are written alike in one family: one shared context. */
interface NodeClass {
  /** The shared context: no node name, zone or primary IP; with many nodes and NodeCIDR, LOCAL_CIDR. */
  ctx: FamilyContext
  nodes: NodeRef[]
}

/** What a node's context holds of its own (the rest is its class's). */
function nodeContext(shared: FamilyContext, own: FamilyContext): FamilyContext {
  return { ...shared, nodeName: own.nodeName, zone: own.zone, primaryIP: own.primaryIP, nodePortIPs: own.nodePortIPs, nodePortMatchAll: own.nodePortMatchAll }
}

/** The shared context of a node's class in `family`, and the class's key. */
function sharedContext(cfg: NodeConfig, family: Family, large: boolean): { ctx: FamilyContext; key: string } {
  const own = familyContext(cfg, family, large, true)
  const ctx: FamilyContext = { ...own, nodeName: '', zone: '', primaryIP: null, nodePortIPs: [], nodePortMatchAll: true }
  return { ctx, key: contextKey(ctx) }
}

function classesOf(nodes: NodeRef[], family: Family, large: boolean): NodeClass[] {
  const byKey = new Map<string, NodeClass>()
  for (const n of nodes) {
    if (!n.families.includes(family)) continue
    const { ctx, key } = sharedContext(n.cfg, family, large)
    const c = byKey.get(key)
    if (c) c.nodes.push(n)
    else byKey.set(key, { ctx, nodes: [n] })
  }
  // One node needs no placeholder: its own pod CIDR is written in place.
  for (const c of byKey.values())
    if (c.nodes.length === 1 && c.ctx.localCIDR === LOCAL_CIDR) c.ctx = { ...c.ctx, localCIDR: familyContext(c.nodes[0]!.cfg, family, large).localCIDR }
  return [...byKey.values()]
}

/** One family's plan for every node: per class the shared segments, per node what it has of its own. */
interface FamilyNodes {
  family: Family
  classes: Array<{
    services: Segment[]
    /** The shared segments hold LOCAL_CIDR (each node's pod CIDR goes in its place). */
    placeholder: boolean
    /** Per node of the class: head, tail and overrides, deduplicated (equal texts are one object). */
    nodes: Map<string, { head: Segment; tail: Segment; overrides: Array<[number, Segment]>; localCIDR?: string }>
  }>
  ports: ServicePort[]
  endpoints: number
  reuse?: FamilyReuse
}

/** Where a node's settings are given (pointers in errors about one node). */
const NODE_POINTER = '/proxy/nodes/'

/** Segments of equal text become one object, so that equal plans can be told by identity. */
class Interner {
  private byText = new Map<string, Segment>()
  private ids = new Map<Segment, number>()
  intern(seg: Segment, slot: string | number): Segment {
    const k = `${slot}\0${seg.filterChains}\0${seg.filterRules}\0${seg.natChains}\0${seg.natRules}`
    const had = this.byText.get(k)
    if (had) return had
    this.byText.set(k, seg)
    this.ids.set(seg, this.ids.size)
    return seg
  }
  id(seg: Segment): number {
    let id = this.ids.get(seg)
    if (id === undefined) this.ids.set(seg, (id = this.ids.size))
    return id
  }
}

const sameText = (a: Segment, b: Segment): boolean =>
  a.natRules === b.natRules && a.natChains === b.natChains && a.filterRules === b.filterRules && a.filterChains === b.filterChains

function familyNodes(
  ix: Indexed,
  family: Family,
  nodes: NodeRef[],
  warnings: Warnings,
  interner: Interner,
  inc: Incremental | undefined,
  stats: PlanOptions['stats'],
): FamilyNodes {
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
  // Large-cluster mode counts every endpoint of every service port, usable or not. Endpoints
  // are built one service port at a time, so the mode is decided on an upper bound (every
  // slot of every slice, duplicates and unusable addresses included) and the plan redone in
  // the rare case the exact count is at the threshold or below.
  let bound = slots
  for (const m of input.legacy.values()) bound += m.size
  let large = bound > LARGE_CLUSTER_ENDPOINTS
  let classes = classesOf(nodes, family, large)
  // Segments are reused only when every family-wide input is as it was (context key), and
  // only for a snapshot whose nodes are of one class.
  const reusing = (ctx: FamilyContext): Reusing | undefined =>
    fps && classes.length === 1 ? { fps, from: inc!.previous?.context === contextKey(ctx) ? inc!.previous : undefined } : undefined
  const zones = new Map<string, string[]>()
  for (const n of nodes) if (n.cfg.zone !== '') pushTo(zones, n.cfg.zone, n.cfg.nodeName)
  let first = classes[0]!
  let deps = new Map<number, Endpoint[]>()
  let built = serviceSegments(ix, input, first.ctx, sliceWarnings, reusing(first.ctx), stats, deps)
  if (large && built.endpoints <= LARGE_CLUSTER_ENDPOINTS) {
    large = false
    classes = classesOf(nodes, family, large)
    first = classes[0]!
    deps = new Map()
    built = serviceSegments(ix, input, first.ctx, sliceWarnings, reusing(first.ctx), stats, deps)
  }
  for (const ref of ix.slices) scanSlice(ref, family, sliceWarnings)
  sliceWarnings.sort((a, b) => a.item - b.item || a.index - b.index)
  warnings.insertAt(
    sliceWarningsAt,
    sliceWarnings.map((w) => w.warning),
  )
  const out: FamilyNodes['classes'] = []
  for (const c of classes) {
    const shared = c === first ? built : serviceSegments(ix, input, c.ctx, [], undefined, stats, (deps = new Map()))
    // Classes may write equal segments (a setting that changes nothing here): made one object,
    // so that planCluster can tell equal plans of different classes by identity.
    const services = classes.length > 1 ? shared.segments.map((seg, k) => interner.intern(seg, k)) : shared.segments
    const placeholder = c.ctx.localCIDR === LOCAL_CIDR && services.some((seg) => seg.natRules.includes(LOCAL_CIDR))
    out.push({ services, placeholder, nodes: nodeSegments(c, services, input.ports, deps, family, large, zones, interner, stats) })
  }
  const unplanned = unplannedEndpoints(ix, input, family, built.slots === slots)
  const reuse = built.memo && { context: contextKey(first.ctx), segments: built.memo, endpoints: built.memoEps! }
  return { family, classes: out, ports, endpoints: built.endpoints + unplanned, reuse }
}

/**
 * Each node's head, tail and own segments in its class: the ports whose rules read the node
 * (topology.ts nodesReading; a firewall chain's allow-from-node rule reads the node's primary
 * IP) are written again for that node, and kept where they differ from the shared ones.
 */
function nodeSegments(
  c: NodeClass,
  shared: Segment[],
  ports: ServicePort[],
  deps: Map<number, Endpoint[]>,
  family: Family,
  large: boolean,
  zones: Map<string, string[]>,
  interner: Interner,
  stats: PlanOptions['stats'],
): FamilyNodes['classes'][number]['nodes'] {
  const inClass = new Set(c.nodes.map((n) => n.cfg.nodeName))
  const reading = new Map<string, number[]>()
  const firewalled: number[] = []
  for (const [k, eps] of deps) {
    const sp = ports[k]!
    if (sp.sourceRanges.length > 0 && sp.lbVIPs.length > 0) firewalled.push(k)
    const names = nodesReading(sp, eps, (z) => zones.get(z) ?? [])
    if (names) for (const n of names) if (inClass.has(n)) pushTo(reading, n, k)
  }
  const w = new SegmentWriter(0)
  const out: FamilyNodes['classes'][number]['nodes'] = new Map()
  for (const n of c.nodes) {
    const own = familyContext(n.cfg, family, large, true)
    const ctx = nodeContext(c.ctx, own)
    const ks = new Set(reading.get(n.cfg.nodeName))
    if (ctx.primaryIP) for (const k of firewalled) ks.add(k)
    const overrides: Array<[number, Segment]> = []
    for (const k of [...ks].sort((a, b) => a - b)) {
      const seg = serviceSegment(ports[k]!, deps.get(k)!, ctx, w, stats)
      w.flush()
      if (!sameText(seg, shared[k]!)) overrides.push([k, interner.intern(seg, k)])
    }
    const localCIDR =
      c.ctx.localCIDR === LOCAL_CIDR ? safeWord(familyContext(n.cfg, family, large).localCIDR!, 'pod CIDR', `${NODE_POINTER}${n.cfg.nodeName}`) : undefined
    const stale = staleChains(n.cfg.existingChains?.[family], shared, overrides)
    out.set(n.cfg.nodeName, { head: interner.intern(headSegment(ctx), 'head'), tail: interner.intern(tailSegment(ctx, stale), 'tail'), overrides, localCIDR })
  }
  return out
}

/** KUBE-SVC/SVL/EXT/FW/SEP chains: the only ones kube-proxy deletes (proxier.go isServiceChainName). */
const SERVICE_CHAIN = /^KUBE-(?:SVC|SVL|EXT|FW|SEP)-/

/**
 * The node's existing service chains its plan does not declare, in byte order (kube-proxy walks
 * a set difference in map order; any order deletes the same chains). Only read when the node's
 * chains are given: every chain line of its segments is looked at.
 */
function staleChains(existing: readonly string[] | undefined, shared: readonly Segment[], overrides: ReadonlyArray<readonly [number, Segment]>): string[] {
  if (!existing?.some((c) => SERVICE_CHAIN.test(c))) return []
  const own = new Map(overrides)
  const active = new Set<string>()
  for (let k = 0; k < shared.length; k++) {
    const text = (own.get(k) ?? shared[k]!).natChains
    for (let i = 0; i < text.length;) {
      const end = text.indexOf(' ', i)
      active.add(text.slice(i + 1, end))
      i = text.indexOf('\n', end) + 1
    }
  }
  return [...new Set(existing.filter((c) => SERVICE_CHAIN.test(c) && !active.has(c)))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
}

/**
 * Plans every node of an envelope (kube/settings.ts resolveNodes names them and their
 * settings). The service segments are written once per class of nodes that share their
 * settings; a node has its own only where its rules read it (local endpoints, hints, its primary
 * IP), so the cost grows with what differs between nodes. With `opts.reuse` (caller-owned,
 * src/planner/reuse.ts) the segments of service ports whose inputs are unchanged since the
 * previous call are reused, and `reuse` is updated to this plan; the result is the same as
 * without it (test/planner/reuse.test.ts).
 */
export function planCluster(envelope: Envelope, opts: PlanOptions = {}): ClusterPlan {
  const resolved = resolveNodes(envelope)
  if (resolved.issues.length > 0) throw new PlanInputError(resolved.issues)
  const warnings = new Warnings()
  for (const w of resolved.warnings) warnings.add(w)
  const ix = index(envelope, resolved.gates.LoadBalancerIPMode)
  const items = envelope.resources.items
  const texts: string[] = []
  const hashOf = opts.reuse ? (i: number): string => opts.itemHashes?.[i] ?? (texts[i] ??= JSON.stringify(items[i])) : undefined
  const nextReuse: NonNullable<PlanOptions['reuse']>['families'] = {}
  const nodes: NodeRef[] = resolved.nodes.map((cfg) => ({ cfg, families: nodeFamilies(cfg) }))
  const interner = new Interner()
  // Services with a planned port in either family, by item (a Set of small integers: keying it
  // by `ns/name` cost ~3 ms at 10k in flattening and hashing those strings). Two objects with
  // one namespace/name, which the API server cannot hold, would count twice.
  const servicesSeen = new Set<number>()
  let servicePortCount = 0
  let endpoints = 0
  const fams: FamilyNodes[] = []
  for (const family of ['IPv4', 'IPv6'] as const) {
    if (!nodes.some((n) => n.families.includes(family))) continue
    const fam = familyNodes(ix, family, nodes, warnings, interner, hashOf && { previous: opts.reuse!.families[family], hashOf }, opts.stats)
    if (fam.reuse) nextReuse[family] = fam.reuse
    fams.push(fam)
    servicePortCount += fam.ports.length
    for (const p of fam.ports) servicesSeen.add(p.item)
    endpoints += fam.endpoints
  }
  for (const [kind, at] of ix.ignoredKinds) {
    warnings.list.push({ code: 'unknown-kind', message: `objects of kind ${kind} are not read by kube-proxy and were ignored`, pointer: at })
  }
  if (opts.reuse) opts.reuse.families = nextReuse
  // Nodes whose every family has the same segments (by identity, see Interner) share a variant.
  // Within a class the shared segments are the same, so the node's own ones tell; across
  // classes every segment is compared (rare: only per-node settings make classes).
  const exact = fams.some((f) => f.classes.length > 1)
  const variants: PlanVariant[] = []
  const variantOf = new Map<string, number>()
  const planned = nodes.map(({ cfg, families }) => {
    const vfs: VariantFamily[] = []
    let key = ''
    for (const fam of fams) {
      if (!families.includes(fam.family)) continue
      const ci = fam.classes.findIndex((c) => c.nodes.has(cfg.nodeName))
      const { services, placeholder } = fam.classes[ci]!
      const own = fam.classes[ci]!.nodes.get(cfg.nodeName)!
      const localCIDR = placeholder || own.overrides.some(([, seg]) => seg.natRules.includes(LOCAL_CIDR)) ? own.localCIDR : undefined
      const vf: VariantFamily = {
        family: fam.family,
        head: own.head,
        services,
        overrides: own.overrides,
        tail: own.tail,
        ...(localCIDR !== undefined && { localCIDR }),
      }
      const segs = exact ? [vf.head, ...services, vf.tail].map((seg) => interner.id(seg)) : []
      for (const [k, seg] of own.overrides) if (exact) segs[k + 1] = interner.id(seg)
      key += exact
        ? `${fam.family}:${localCIDR ?? ''}:${segs.join(',')};`
        : `${fam.family}:${ci}:${interner.id(own.head)}:${interner.id(own.tail)}:${localCIDR ?? ''}:${own.overrides.map(([k, seg]) => `${k}=${interner.id(seg)}`).join(',')};`
      vfs.push(vf)
    }
    let v = variantOf.get(key)
    if (v === undefined) {
      variantOf.set(key, (v = variants.length))
      variants.push({ families: vfs, nodes: [] })
    }
    variants[v]!.nodes.push(cfg.nodeName)
    return { name: cfg.nodeName, variant: v }
  })
  return {
    nodes: planned,
    variants,
    defaultNode: resolved.defaultNode,
    defaulted: resolved.defaulted,
    warnings: warnings.list,
    counts: { services: servicesSeen.size, servicePorts: servicePortCount, endpoints, ignoredObjects: ix.ignored },
  }
}

/** The segments of one family of a variant, in plan order, with the node's pod CIDR written in. */
export function variantSegments(vf: VariantFamily): Segment[] {
  const segs = [vf.head, ...vf.services, vf.tail]
  for (const [k, seg] of vf.overrides) segs[k + 1] = seg
  const cidr = vf.localCIDR
  if (cidr === undefined) return segs
  return segs.map((s) => (s.natRules.includes(LOCAL_CIDR) ? { ...s, natRules: s.natRules.replaceAll(LOCAL_CIDR, cidr) } : s))
}

/** A variant's plan, as one node's. */
export function variantPlan(cp: ClusterPlan, variant: number): Plan {
  const v = cp.variants[variant]!
  return { families: v.families.map((vf) => ({ family: vf.family, segments: variantSegments(vf) })), warnings: cp.warnings, counts: cp.counts }
}

/** One node's plan (by name). */
export function nodePlan(cp: ClusterPlan, node: string): Plan | undefined {
  const n = cp.nodes.find((p) => p.name === node)
  return n && variantPlan(cp, n.variant)
}

/** The envelope's settings cannot be planned (they contradict each other or the Node objects). */
export class PlanInputError extends Error {
  constructor(readonly issues: Issue[]) {
    super(issues.map((i) => `${i.pointer}: ${i.detail}`).join('; '))
    this.name = 'PlanInputError'
  }
}

/** The snapshot has many nodes and names none: a one-node view must be told which. */
export class AmbiguousNodeError extends Error {
  constructor(readonly nodes: string[]) {
    super(
      `the snapshot has ${nodes.length} nodes and names none (proxy.nodeName); choose one of ${nodes.slice(0, 5).join(', ')}${nodes.length > 5 ? ', …' : ''}`,
    )
    this.name = 'AmbiguousNodeError'
  }
}

/**
 * Plans the envelope's default node (the one its settings name, or its only one); throws
 * AmbiguousNodeError for a snapshot of many nodes that names none. See planCluster.
 */
export function plan(envelope: Envelope, opts: PlanOptions = {}): Plan {
  const cp = planCluster(envelope, opts)
  if (cp.defaultNode === null) throw new AmbiguousNodeError(cp.nodes.map((n) => n.name))
  return nodePlan(cp, cp.defaultNode)!
}
