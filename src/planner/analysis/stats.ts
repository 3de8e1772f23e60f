/**
 * Per-version statistics of a family plan, summed from each segment's (src/planner/rules/
 * books.ts, where the traversal cost is defined): the planner keeps them as it writes, and a
 * segment it did not just write is scanned once. Average traversal = mean over service ports of
 * the expected cost with every endpoint equally likely; worst = the last endpoint of the
 * costliest service port.
 */
import { segmentLines, type FamilyPlan, type Plan, type Segment, type SegmentMeta, type SegmentStats, type TableName } from '../types.js'

export type { SegmentStats } from '../types.js'
import { chainLines, declaredName } from './model.js'
import { CHAIN, classifyNatRule, FILTER_CHAINS, FILTER_RULES, NAT_CHAINS, NAT_RULES, OTHER, OWN, SegmentBooks, SEP_CHAIN } from '../rules/books.js'

export interface TableCounts {
  chains: number
  rules: number
}

export interface PlanStats {
  family: FamilyPlan['family']
  /** The planner's input counts, passed through. */
  input: Plan['counts']
  services: number
  servicePorts: number
  /** By the Service's spec.type (Segment.meta), or inferred from the rules when meta is absent. */
  servicesByType: Record<SegmentMeta['type'], number>
  servicePortsByType: Record<SegmentMeta['type'], number>
  /** From Segment.meta (null when the planner gave no meta); endpointChains counts KUBE-SEP chains. */
  endpoints: SegmentMeta['endpoints'] | null
  endpointChains: number
  /** Service ports that have no KUBE-SEP chain (their traffic is REJECTed/DROPped in filter). */
  servicePortsWithoutEndpoints: number
  /** Up to 100 of them, by servicePortName. */
  servicePortsWithoutEndpointsSample: string[]
  tables: Record<TableName, TableCounts>
  scriptBytes: number
  kubeServicesRules: number
  kubeNodePortsRules: number
  traversal: {
    /** Mean over service ports with a cluster-IP DNAT path (0 when none). */
    average: number
    worst: number
    worstService: string | null
    servicePorts: number
  }
}

// `*filter` `COMMIT` `*nat` `COMMIT`, each with its newline.
const FRAMING_BYTES = '*filter\nCOMMIT\n*nat\nCOMMIT\n'.length

const TYPES: SegmentMeta['type'][] = ['ClusterIP', 'NodePort', 'LoadBalancer']

/** Type from the rules when the planner gave no meta (an LB without endpoints reads as its VIP rules allow). */
function inferType(seg: Segment): SegmentMeta['type'] {
  const nat = segmentLines(seg, 'natRules')
  const filter = segmentLines(seg, 'filterRules')
  const all = [...nat, ...filter]
  if (all.some((r) => r.includes(' loadbalancer IP') || r.includes('traffic not accepted by KUBE-FW-'))) return 'LoadBalancer'
  if (nat.some((r) => r.startsWith('-A KUBE-NODEPORTS ')) || filter.some((r) => r.includes('--dst-type LOCAL'))) return 'NodePort'
  return 'ClusterIP'
}

/** Caller-owned memo of SegmentStats by segment object (the planner stays free of caches). */
export type StatsMemo = WeakMap<Segment, SegmentStats>

// eslint-disable-next-line no-control-regex
const NON_ASCII = /[^\x00-\x7f]/

/**
 * The statistics contribution of one segment, from a full scan of its lines into the same books
 * the planner's writer keeps as it writes (src/planner/rules/books.ts): for segments the planner
 * did not just write (the head and tail, segments loaded from the store).
 */
export function segmentStats(seg: Segment): SegmentStats {
  // Plan lines are ASCII except, in versions stored by earlier natplan releases, names inside
  // comments, each of which is part of the segment key.
  const ascii = !NON_ASCII.test(seg.key)
  const size = (l: string): number => (ascii ? l.length : Buffer.byteLength(l)) + 1
  const books = new SegmentBooks()
  for (const l of segmentLines(seg, 'filterChains')) books.line(FILTER_CHAINS, size(l), l.startsWith(':') ? CHAIN : OTHER)
  for (const l of segmentLines(seg, 'filterRules')) books.line(FILTER_RULES, size(l), l.startsWith('-A ') ? OWN : OTHER)
  for (const l of segmentLines(seg, 'natChains')) books.line(NAT_CHAINS, size(l), l.startsWith(':KUBE-SEP-') ? SEP_CHAIN : l.startsWith(':') ? CHAIN : OTHER)
  const state = { internal: undefined as string | undefined }
  for (const l of segmentLines(seg, 'natRules')) books.line(NAT_RULES, size(l), classifyNatRule(l, state))
  const out = books.finish()
  if (seg.service) {
    out.type = seg.meta?.type ?? inferType(seg)
    out.service = serviceOf(seg.service)
  }
  return out
}

/** From the memo when the caller keeps one, else scanned (and remembered). */
export function statsOf(seg: Segment, memo?: StatsMemo): SegmentStats {
  let s = memo?.get(seg)
  if (!s) {
    s = segmentStats(seg)
    memo?.set(seg, s)
  }
  return s
}

/** `ns/name:port` → `ns/name` (the same as dropping /:[^/]*$/, without a regex per segment). */
export function serviceOf(servicePort: string): string {
  const colon = servicePort.indexOf(':', servicePort.lastIndexOf('/') + 1)
  return colon < 0 ? servicePort : servicePort.slice(0, colon)
}

export function planStats(plan: FamilyPlan, envelopeCounts: Plan['counts'], memo?: StatsMemo): PlanStats {
  const zero = () => ({ ClusterIP: 0, NodePort: 0, LoadBalancer: 0 })
  const stats: PlanStats = {
    family: plan.family,
    input: envelopeCounts,
    services: 0,
    servicePorts: 0,
    servicesByType: zero(),
    servicePortsByType: zero(),
    endpoints: null,
    endpointChains: 0,
    servicePortsWithoutEndpoints: 0,
    servicePortsWithoutEndpointsSample: [],
    tables: { filter: { chains: 0, rules: 0 }, nat: { chains: 0, rules: 0 } },
    scriptBytes: FRAMING_BYTES,
    kubeServicesRules: 0,
    kubeNodePortsRules: 0,
    traversal: { average: 0, worst: 0, worstService: null, servicePorts: 0 },
  }
  const serviceType = new Map<string, SegmentMeta['type']>()
  let costSum = 0
  for (const seg of plan.segments) {
    const f = statsOf(seg, memo)
    stats.tables.filter.chains += f.lines[0]
    stats.tables.filter.rules += f.lines[1]
    stats.tables.nat.chains += f.lines[2]
    stats.tables.nat.rules += f.lines[3]
    stats.scriptBytes += f.filterBytes + f.natBytes
    const kubeServicesPos = stats.kubeServicesRules + f.clusterPos
    stats.kubeServicesRules += f.kubeServices
    stats.kubeNodePortsRules += f.kubeNodePorts
    if (!seg.service) continue
    stats.servicePorts++
    const type = f.type!
    stats.servicePortsByType[type]++
    const svc = f.service!
    const prev = serviceType.get(svc)
    if (!prev || TYPES.indexOf(type) > TYPES.indexOf(prev)) serviceType.set(svc, type)
    if (seg.meta) {
      const e = (stats.endpoints ??= { total: 0, ready: 0, serving: 0, terminating: 0 })
      e.total += seg.meta.endpoints.total
      e.ready += seg.meta.endpoints.ready
      e.serving += seg.meta.endpoints.serving
      e.terminating += seg.meta.endpoints.terminating
    }
    stats.endpointChains += f.sepChains
    if (f.sepChains === 0) {
      stats.servicePortsWithoutEndpoints++
      if (stats.servicePortsWithoutEndpointsSample.length < 100) stats.servicePortsWithoutEndpointsSample.push(seg.service)
    }
    if (f.cost) {
      const worst = kubeServicesPos + f.cost.worst
      costSum += kubeServicesPos + f.cost.expected
      stats.traversal.servicePorts++
      if (worst > stats.traversal.worst) {
        stats.traversal.worst = worst
        stats.traversal.worstService = seg.service
      }
    }
  }
  stats.services = serviceType.size
  for (const t of serviceType.values()) stats.servicesByType[t]++
  if (stats.traversal.servicePorts) stats.traversal.average = Math.round((costSum / stats.traversal.servicePorts) * 100) / 100
  return stats
}

/** Distinct chain names of a plan's table (used by tests as a cross-check). */
export function chainNames(plan: FamilyPlan, table: TableName): string[] {
  return plan.segments.flatMap((s) => chainLines(s, table).map(declaredName))
}
