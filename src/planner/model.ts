/**
 * From Kubernetes objects to kube-proxy's internal model, for one IP family:
 * service ports (pkg/proxy/serviceport.go newBaseServiceInfo, pkg/proxy/util ShouldSkipService /
 * GetClusterIPByFamily) and their endpoints (pkg/proxy/endpointslicecache.go).
 */
import type { Family, PlanWarning, Protocol } from './types.js'
import type { EndpointSliceObject, EndpointsObject, ServiceObject } from './kube/schemas.js'
import { canonicalIPv4, parseCIDRSloppy, parseIPSloppy, type ParsedCIDR } from './kube/ip.js'

export interface ServicePort {
  /** `ns/name:port` or `ns/name` (svcPortNameString). */
  name: string
  /** `ns/name` — the key the endpoints attach to. */
  serviceKey: string
  /** The Service's namespace and name, as the objects hold them (map keys without building `serviceKey`). */
  namespace: string
  serviceName: string
  /** The Service's index in the envelope's items. */
  item: number
  portName: string
  protocol: Protocol
  clusterIP: string
  port: number
  nodePort: number
  externalIPs: string[]
  lbVIPs: string[]
  sourceRanges: ParsedCIDR[]
  /** ClientIP affinity timeout in seconds, 0 = no affinity. */
  stickySeconds: number
  externalPolicyLocal: boolean
  internalPolicyLocal: boolean
  healthCheckNodePort: number
  /** spec.type ('' and absent read as ClusterIP), for statistics. */
  type: 'ClusterIP' | 'NodePort' | 'LoadBalancer'
}

export interface Endpoint {
  ip: string
  /**
   * The identity `ip:port` (`[ip]:port` for IPv6), kube-proxy's sort key, chain-name input and
   * DNAT target, is `pre + ip + post` (`idOf`). It is kept in parts, `pre` '' or '[' and `post`
   * `:port` or `]:port` shared by the endpoints of a slice port, so that the hot paths compare,
   * hash and write it without building 100k concatenated strings.
   */
  pre: string
  post: string
  ready: boolean
  serving: boolean
  terminating: boolean
  /** The endpoint's `nodeName` ('' when absent): it is local on that node (topology.ts categorize). */
  nodeName: string
  zoneHints: string[] | null
  nodeHints: string[] | null
  /**
   * Where the rule writers find this endpoint's chain hash: its index in the service port's
   * hash bytes (rules/service.ts), set for every endpoint a rule names before any is written.
   */
  sep: number
}

export function epKey(serviceKey: string, portName: string, protocol: string): string {
  return `${serviceKey}\0${portName}\0${protocol}`
}

type Warn = (w: PlanWarning) => void

/** parseIPSloppy's family and canonical text, with the allocation-free IPv4 fast path first. */
function ipOf(s: string): { family: Family; text: string } | null {
  const v4 = canonicalIPv4(s)
  return v4 !== null ? { family: 'IPv4', text: v4 } : parseIPSloppy(s)
}

const LOWER: Record<string, Protocol> = { TCP: 'tcp', UDP: 'udp', SCTP: 'sctp' }

/** GetClusterIPByFamily (pkg/proxy/util/utils.go). */
function clusterIPForFamily(spec: ServiceObject['spec'], family: Family): { ip: string; index: number } | null {
  const fams = spec.ipFamilies ?? []
  if (fams.length === 0) {
    const ip = spec.clusterIP ?? ''
    if (ip === '' || ip === 'None') return null
    const p = ipOf(ip)
    // Unparsable: upstream's IsIPv6String is false, so it counts as IPv4 and fails later.
    const fam = p ? p.family : 'IPv4'
    return fam === family ? { ip, index: -1 } : null
  }
  const idx = fams.indexOf(family)
  if (idx < 0) return null
  const ips = spec.clusterIPs ?? []
  if (idx < ips.length) return { ip: ips[idx]!, index: idx }
  // Objects written by hand may lack clusterIPs; the API server always fills it from clusterIP.
  if (idx === 0 && spec.clusterIP) return { ip: spec.clusterIP, index: -1 }
  return null
}

/** RFC 6901 pointer of item `index` of the envelope; built only when a warning needs it. */
export const itemPointer = (index: number): string => `/resources/items/${index}`

/**
 * What a Service without external IPs, load-balancer ingress or source ranges has of each: one
 * shared empty list (frozen: never added to), not three new ones per service.
 */
const NONE: never[] = Object.freeze([]) as unknown as never[]

function familyIPs(list: readonly string[] | null | undefined, family: Family, item: number, warn: Warn): string[] {
  if (!list?.length) return NONE
  const out: string[] = []
  list.forEach((s, i) => {
    const p = ipOf(s)
    if (!p)
      warn({
        code: 'invalid-ip',
        message: `ignored unparsable IP ${JSON.stringify(s)}, as kube-proxy does`,
        pointer: `${itemPointer(item)}/spec/externalIPs/${i}`,
      })
    else if (p.family === family) out.push(p.text)
  })
  return out
}

/**
 * IsVIPMode (pkg/proxy/util/utils.go): with LoadBalancerIPMode on (`ipMode`), an ingress with
 * ipMode absent or `VIP` is a VIP and `Proxy` gets no rules (the LB proxies); with it off
 * (before 1.30 by default), every ingress IP is a VIP.
 */
function lbVIPs(svc: ServiceObject, family: Family, item: number, warn: Warn, ipMode: boolean): string[] {
  if (!svc.status?.loadBalancer?.ingress?.length) return NONE
  const out: string[] = []
  svc.status.loadBalancer.ingress.forEach((ing, i) => {
    if (!ing.ip) return
    if (ipMode && ing.ipMode && ing.ipMode !== 'VIP') return
    const p = parseIPSloppy(ing.ip)
    if (!p)
      warn({
        code: 'invalid-ip',
        message: `ignored unparsable load-balancer IP ${JSON.stringify(ing.ip)}`,
        pointer: `${itemPointer(item)}/status/loadBalancer/ingress/${i}/ip`,
      })
    else if (p.family === family) out.push(p.text)
  })
  return out
}

function sourceRanges(svc: ServiceObject, family: Family, item: number, warn: Warn): ParsedCIDR[] {
  if (!svc.spec.loadBalancerSourceRanges?.length) return NONE
  const out: ParsedCIDR[] = []
  svc.spec.loadBalancerSourceRanges.forEach((s, i) => {
    // Trimmed first (serviceport.go), then parsed sloppily and printed masked.
    const c = parseCIDRSloppy(s.trim())
    if (!c)
      warn({
        code: 'invalid-cidr',
        message: `ignored unparsable source range ${JSON.stringify(s)}`,
        pointer: `${itemPointer(item)}/spec/loadBalancerSourceRanges/${i}`,
      })
    else if (c.family === family) out.push(c)
  })
  return out
}

/** ExternallyAccessible-by-type && eTP Local (pkg/api/v1/service/util.go ExternalPolicyLocal). */
function externalPolicyLocal(spec: ServiceObject['spec']): boolean {
  const t = spec.type
  const byType = t === 'LoadBalancer' || t === 'NodePort' || (t === 'ClusterIP' && (spec.externalIPs?.length ?? 0) > 0)
  return byType && spec.externalTrafficPolicy === 'Local'
}

/** `ipMode`: the LoadBalancerIPMode gate (default on, as in the current release). */
export function servicePortsOf(svc: ServiceObject, family: Family, item: number, warn: Warn, ipMode = true): ServicePort[] {
  const spec = svc.spec
  if (spec.type === 'ExternalName') return []
  const cip = clusterIPForFamily(spec, family)
  if (!cip) return []
  const parsed = ipOf(cip.ip)
  if (!parsed || parsed.family !== family) {
    const ptr = cip.index >= 0 ? `${itemPointer(item)}/spec/clusterIPs/${cip.index}` : `${itemPointer(item)}/spec/clusterIP`
    warn({ code: 'invalid-ip', message: `service skipped: unparsable cluster IP ${JSON.stringify(cip.ip)}`, pointer: ptr })
    return []
  }
  const ns = svc.metadata.namespace ?? 'default'
  const serviceKey = `${ns}/${svc.metadata.name}`
  const extIPs = familyIPs(spec.externalIPs, family, item, warn)
  const vips = lbVIPs(svc, family, item, warn, ipMode)
  const ranges = sourceRanges(svc, family, item, warn)
  const affinity = spec.sessionAffinity === 'ClientIP'
  const eLocal = externalPolicyLocal(spec)
  const hc = spec.type === 'LoadBalancer' && eLocal ? (spec.healthCheckNodePort ?? 0) : 0
  return (spec.ports ?? []).map((p) => {
    const portName = p.name ?? ''
    return {
      name: portName === '' ? serviceKey : `${serviceKey}:${portName}`,
      serviceKey,
      namespace: ns,
      serviceName: svc.metadata.name,
      item,
      portName,
      protocol: LOWER[p.protocol ?? 'TCP']!,
      clusterIP: parsed.text,
      port: p.port,
      nodePort: p.nodePort ?? 0,
      externalIPs: extIPs,
      lbVIPs: vips,
      sourceRanges: ranges,
      stickySeconds: affinity ? (spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800) : 0,
      externalPolicyLocal: eLocal,
      internalPolicyLocal: spec.internalTrafficPolicy === 'Local',
      healthCheckNodePort: hc,
      type: spec.type === 'NodePort' || spec.type === 'LoadBalancer' ? spec.type : 'ClusterIP',
    }
  })
}

/** `pre` and `post` of an endpoint of `family` on `port` (see Endpoint). */
export function idParts(port: number, family: Family): { pre: string; post: string } {
  return family === 'IPv6' ? { pre: '[', post: `]:${port}` } : { pre: '', post: `:${port}` }
}

/** The endpoint's identity as one string (for the paths that are not hot). */
export function idOf(e: Endpoint): string {
  return e.pre + e.ip + e.post
}

/**
 * Byte order of the identities, as comparing idOf(a) with idOf(b) would give. With the same
 * `pre` and `post` (one slice port, the usual case) it compares the addresses, an address that
 * is a prefix of the other being followed by post's first character (':' or ']'), which no
 * address of its family contains, so the longer one decides there.
 */
export function compareIds(a: Endpoint, b: Endpoint): number {
  if (a.post !== b.post || a.pre !== b.pre) {
    const x = idOf(a)
    const y = idOf(b)
    return x < y ? -1 : x > y ? 1 : 0
  }
  const p = a.ip
  const q = b.ip
  const n = p.length < q.length ? p.length : q.length
  for (let i = 0; i < n; i++) {
    const d = p.charCodeAt(i) - q.charCodeAt(i)
    if (d !== 0) return d
  }
  if (p.length === q.length) return 0
  const sep = a.post.charCodeAt(0)
  return p.length < q.length ? sep - q.charCodeAt(n) : p.charCodeAt(n) - sep
}

function sameId(a: Endpoint, b: Endpoint): boolean {
  return a.ip === b.ip && a.post === b.post && a.pre === b.pre
}

/** Insert with upstream's duplicate rule: a later endpoint replaces an earlier one unless it is terminating. */
function addEndpoint(map: Map<string, Map<string, Endpoint>>, key: string, ep: Endpoint): void {
  let m = map.get(key)
  if (!m) {
    m = new Map()
    map.set(key, m)
  }
  const id = idOf(ep)
  const prev = m.get(id)
  if (prev && ep.terminating) return
  m.set(id, ep)
}

/** The canonical address of a slice endpoint in `family`, or null when kube-proxy cannot use it. */
function endpointAddress(e: SliceEndpoint, family: Family): string | null {
  const addr = e.addresses?.[0]
  if (addr === undefined) return null
  if (family === 'IPv4') {
    const fast = canonicalIPv4(addr)
    if (fast !== null) return fast
  }
  const p = parseIPSloppy(addr)
  return p && p.family === family ? p.text : null
}

type SliceEndpoint = NonNullable<EndpointSliceObject['endpoints']>[number]

/** An EndpointSlice of the envelope: its item index, and (per family, from scanSlice) whether its addresses are all canonical. */
export interface SliceRef {
  obj: EndpointSliceObject
  item: number
  /** scanSlice has run (in the slice's family; a slice belongs to one). */
  scanned: boolean
  asIs: boolean
}

/** `id` holds the slice port's identity parts (idParts). */
function sliceEndpoint(e: SliceEndpoint, ip: string, id: { pre: string; post: string }): Endpoint {
  const c = e.conditions
  return {
    ip,
    pre: id.pre,
    post: id.post,
    ready: c?.ready !== false,
    serving: c?.serving !== false,
    terminating: c?.terminating === true,
    nodeName: e.nodeName ?? '',
    zoneHints: e.hints?.forZones?.length ? e.hints.forZones.map((z) => z.name) : null,
    nodeHints: e.hints?.forNodes?.length ? e.hints.forNodes.map((z) => z.name) : null,
    sep: -1,
  }
}

/** The slice ports kube-proxy reads: it skips ports with a nil name or a nil/zero port. */
function usablePort(p: NonNullable<EndpointSliceObject['ports']>[number]): p is { name: string; port: number; protocol?: 'TCP' | 'UDP' | 'SCTP' | null } {
  return p.name !== null && p.name !== undefined && !!p.port
}

/**
 * A slice's endpoint slots in `family` (endpoints x usable ports), an upper bound of what the
 * service ports can read from it, without reading its endpoints.
 */
export function sliceBound(ref: SliceRef, family: Family): number {
  const slice = ref.obj
  if (slice.addressType !== family || !slice.metadata.labels?.['kubernetes.io/service-name']) return 0
  let ports = 0
  for (const p of slice.ports ?? []) if (usablePort(p)) ports++
  return (slice.endpoints?.length ?? 0) * ports
}

/** An `invalid-ip` warning of a slice endpoint, with its place for ordering (item, endpoint). */
export interface SliceWarning {
  item: number
  index: number
  warning: PlanWarning
}

/**
 * The first read of a slice in its family (sliceEndpoints, or plan.ts for slices no service port
 * reads): the `invalid-ip` warnings of its endpoint addresses, once per slice whatever its ports,
 * and `ref.asIs` when every address is already canonical, so the addresses are taken as they
 * are. Run just before a service port reads the slice, its endpoints are then still in cache.
 */
export function scanSlice(ref: SliceRef, family: Family, sink: SliceWarning[]): void {
  const slice = ref.obj
  if (ref.scanned || slice.addressType !== family || !slice.metadata.labels?.['kubernetes.io/service-name']) return
  ref.scanned = true
  const eps = slice.endpoints ?? []
  let asIs = true
  for (let i = 0; i < eps.length; i++) {
    const addr = eps[i]!.addresses?.[0]
    if (addr === undefined) {
      asIs = false
      continue
    }
    const ip = endpointAddress(eps[i]!, family)
    if (ip !== addr) asIs = false
    if (ip !== null) continue
    const warning = {
      code: 'invalid-ip',
      message: `ignored endpoint with unusable address ${JSON.stringify(addr)}`,
      pointer: `${itemPointer(ref.item)}/endpoints/${i}/addresses/0`,
    }
    sink.push({ item: ref.item, index: i, warning })
  }
  ref.asIs = asIs
}

/** Whether slice port `p` carries service port `sp`'s endpoints (name and protocol, usable). */
function portMatches(p: NonNullable<EndpointSliceObject['ports']>[number], sp: ServicePort): p is { name: string; port: number } {
  return usablePort(p) && p.name === sp.portName && LOWER[p.protocol ?? 'TCP'] === sp.protocol
}

/** The slots sliceEndpoints reads for `sp` (endpoints × matching usable ports), without building endpoints. */
export function sliceSlots(sp: ServicePort, slices: readonly SliceRef[], family: Family): number {
  let n = 0
  for (const { obj: slice } of slices) {
    if (slice.addressType !== family) continue
    for (const p of slice.ports ?? []) {
      if (portMatches(p, sp)) n += slice.endpoints?.length ?? 0
    }
  }
  return n
}

/**
 * The endpoints of one service port from its service's EndpointSlices (item order), as
 * endpointslicecache.go merges them: one per `ip:port`, a later one replacing an earlier one
 * unless it is terminating; sorted by identity. Built per service port and dropped after its
 * segment is written, so these objects never outlive a young-generation GC cycle.
 */
export function sliceEndpoints(sp: ServicePort, slices: readonly SliceRef[], family: Family, read: { slots: number; warnings: SliceWarning[] }): Endpoint[] {
  const out: Endpoint[] = []
  for (const ref of slices) {
    const slice = ref.obj
    if (slice.addressType !== family) continue
    scanSlice(ref, family, read.warnings)
    const asIs = ref.asIs
    for (const p of slice.ports ?? []) {
      if (!portMatches(p, sp)) continue
      read.slots += slice.endpoints?.length ?? 0
      const id = idParts(p.port, family)
      for (const e of slice.endpoints ?? []) {
        const ip = asIs ? e.addresses![0]! : endpointAddress(e, family)
        if (ip !== null) out.push(sliceEndpoint(e, ip, id))
      }
    }
  }
  return dedupeSorted(out)
}

/**
 * Sort by identity (byte order) and resolve duplicates with upstream's rule. The sort is
 * stable, so equal identities stay in arrival order and the rule can be replayed per run.
 */
function dedupeSorted(list: Endpoint[]): Endpoint[] {
  // A service port has a handful of endpoints: insertion sort (stable) beats Array.sort's setup.
  if (list.length <= 16) insertionSort(list)
  else list.sort(byId)
  let w = 0
  for (let r = 0; r < list.length; r++) {
    const e = list[r]!
    if (w > 0 && sameId(list[w - 1]!, e)) {
      if (!e.terminating) list[w - 1] = e
    } else list[w++] = e
  }
  list.length = w
  return list
}

const byId = compareIds

function insertionSort(list: Endpoint[]): void {
  for (let i = 1; i < list.length; i++) {
    const e = list[i]!
    let j = i - 1
    while (j >= 0 && compareIds(list[j]!, e) > 0) {
      list[j + 1] = list[j]!
      j--
    }
    list[j + 1] = e
  }
}

/**
 * Endpoints of slices that no planned service port reads (a slice of a Service that does not
 * exist, or a port name the Service lacks), grouped as kube-proxy's cache keeps them. Only
 * counted (Plan.counts.endpoints), never planned.
 */
export function collectSlice(slice: EndpointSliceObject, family: Family, acc: Map<string, Map<string, Endpoint>>, planned: ReadonlySet<string>): void {
  if (slice.addressType !== family) return
  const svcName = slice.metadata.labels?.['kubernetes.io/service-name']
  if (!svcName) return
  const serviceKey = `${slice.metadata.namespace ?? 'default'}/${svcName}`
  for (const p of slice.ports ?? []) {
    if (!usablePort(p)) continue
    const key = epKey(serviceKey, p.name, LOWER[p.protocol ?? 'TCP']!)
    if (planned.has(key)) continue
    for (const e of slice.endpoints ?? []) {
      const ip = endpointAddress(e, family)
      if (ip !== null) addEndpoint(acc, key, sliceEndpoint(e, ip, idParts(p.port, family)))
    }
  }
}

/**
 * natplan's compatibility choice: a legacy v1 Endpoints object is read (as the EndpointSlice
 * mirroring controller would translate it) only for a Service that has no EndpointSlice at all.
 * kube-proxy itself reads only EndpointSlices.
 */
export function collectLegacyEndpoints(obj: EndpointsObject, family: Family, acc: Map<string, Map<string, Endpoint>>): void {
  const serviceKey = `${obj.metadata.namespace ?? 'default'}/${obj.metadata.name}`
  for (const subset of obj.subsets ?? []) {
    const addrs = [...(subset.addresses ?? []).map((a) => ({ a, ready: true })), ...(subset.notReadyAddresses ?? []).map((a) => ({ a, ready: false }))]
    for (const p of subset.ports ?? []) {
      const key = epKey(serviceKey, p.name ?? '', LOWER[p.protocol ?? 'TCP']!)
      for (const { a, ready } of addrs) {
        const ip = parseIPSloppy(a.ip)
        if (!ip || ip.family !== family) continue
        addEndpoint(acc, key, {
          ip: ip.text,
          ...idParts(p.port, family),
          ready,
          serving: ready,
          terminating: false,
          nodeName: a.nodeName ?? '',
          zoneHints: null,
          nodeHints: null,
          sep: -1,
        })
      }
    }
  }
}

/** Endpoints of a service port sorted by identity, byte-wise (endpointslicecache.go). */
export function sortedEndpoints(m: Map<string, Endpoint> | undefined): Endpoint[] {
  if (!m) return []
  return [...m.values()].sort(byId)
}
