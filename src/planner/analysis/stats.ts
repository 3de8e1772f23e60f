/**
 * Per-version statistics of a family plan, computed once at ingest. Cheap string scans only (no
 * rule parsing): they must add little to planning time (bench/diff.ts prints the ratio).
 *
 * The traversal cost is the number of rules a NEW connection to a service's cluster IP is
 * evaluated against before its DNAT: its position in nat KUBE-SERVICES (the chain is a linear
 * list, which is why kube-proxy's rule count matters at scale), plus the rules of its KUBE-SVC /
 * KUBE-SVL chain up to the jump taken (masquerade and affinity rules first, then the random
 * split: the i-th endpoint's rule is evaluated only after the i-1 before it), plus the rules of
 * the KUBE-SEP chain up to its DNAT. Average = mean over service ports of the expected cost with
 * every endpoint equally likely; worst = the last endpoint of the costliest service port.
 */
import type { FamilyPlan, Plan, Segment, SegmentMeta, TableName } from '../types.js'
import { chainLines, declaredName, targetOfLine } from './model.js'

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

/**
 * Bytes of the restore script are counted without building it. Every character of a plan line is ASCII:
 * chain names are base32, and the names in comments are Kubernetes DNS labels / IANA port
 * names (API validation), so string length is byte length.
 */
function bufferBytes(buf: string[]): number {
  let n = 0
  for (let i = 0; i < buf.length; i++) n += buf[i]!.length + 1
  return n
}

const TYPES: SegmentMeta['type'][] = ['ClusterIP', 'NodePort', 'LoadBalancer']

/** Type from the rules when the planner gave no meta (an LB without endpoints reads as its VIP rules allow). */
function inferType(seg: Segment): SegmentMeta['type'] {
  const all = [...seg.natRules, ...seg.filterRules]
  if (all.some((r) => r.includes(' loadbalancer IP') || r.includes('traffic not accepted by KUBE-FW-'))) return 'LoadBalancer'
  if (seg.natRules.some((r) => r.startsWith('-A KUBE-NODEPORTS ')) || seg.filterRules.some((r) => r.includes('--dst-type LOCAL'))) return 'NodePort'
  return 'ClusterIP'
}

interface PathCost {
  expected: number
  worst: number
}

interface NatScan {
  kubeServices: number
  kubeNodePorts: number
  /** 1-based index, among this segment's KUBE-SERVICES rules, of its cluster-IP jump (0: none). */
  clusterPos: number
  cost?: PathCost
  /** Bytes of the nat rule lines, newlines included. */
  bytes: number
}

const CH_S = 83 // 'S'
const CH_E = 69 // 'E'
const CH_R = 82 // 'R'
const CH_V = 86 // 'V'
const CH_P = 80 // 'P'
const CH_N = 78 // 'N'
const CH_DASH = 45
// `-A KUBE-SVC-` + 16 base32 chars: SVC/SVL/SEP names have a fixed width, ending at index 28.
const SERVICE_CHAIN_END = 28
// ` -j KUBE-SEP-` + 16 chars
const SEP_JUMP_TAIL = 29

/**
 * One pass over a segment's nat rules, dispatching on a few characters instead of string
 * searches (this runs over every rule of every version at ingest). Rule indexes inside a chain
 * are run counters: kube-proxy writes each chain's rules in one go (proxier.go), so they are
 * contiguous in the nat rules buffer.
 */
function scanNat(seg: Segment): NatScan {
  const out: NatScan = { kubeServices: 0, kubeNodePorts: 0, clusterPos: 0, bytes: 0 }
  let internal: string | undefined
  let runChain = ''
  let run = 0
  // Small parallel arrays instead of Maps: a segment has a handful of endpoints.
  const jumpIndex: number[] = []
  const jumpSep: string[] = []
  const jumpChain: string[] = []
  const dnatChain: string[] = []
  const dnatIndex: number[] = []
  let bytes = 0
  for (const r of seg.natRules) {
    bytes += r.length + 1
    const c8 = r.charCodeAt(8)
    if (c8 === CH_S) {
      const c9 = r.charCodeAt(9)
      const c10 = r.charCodeAt(10)
      if (c9 === CH_E && c10 === CH_R) {
        out.kubeServices++
        if (internal === undefined) {
          const t = targetOfLine(r)
          if (t !== undefined && (t.startsWith('KUBE-SVC-') || t.startsWith('KUBE-SVL-'))) {
            internal = t
            out.clusterPos = out.kubeServices
          }
        }
        continue
      }
      if ((c9 === CH_V || (c9 === CH_E && c10 === CH_P)) && r.charCodeAt(11) === CH_DASH) {
        if (runChain !== '' && r.startsWith(runChain, 3)) run++
        else {
          runChain = r.substring(3, SERVICE_CHAIN_END)
          run = 1
        }
        const last = r.charCodeAt(r.length - 1)
        if (c9 === CH_V) {
          // dispatch rules end in ` -j KUBE-SEP-<16>`; affinity checks have `--reap` just before it
          if (r.startsWith(' -j KUBE-SEP-', r.length - SEP_JUMP_TAIL) && !r.startsWith('--reap', r.length - SEP_JUMP_TAIL - 6)) {
            jumpIndex.push(run)
            jumpSep.push(r.substring(r.length - SEP_JUMP_TAIL + 4))
            jumpChain.push(runChain)
          }
        } else if (last >= 48 && last <= 57 && r.lastIndexOf(' -j DNAT') > 0) {
          // DNAT rules end in a port
          dnatChain.push(runChain)
          dnatIndex.push(run)
        }
        continue
      }
    } else if (c8 === CH_N && r.startsWith('-A KUBE-NODEPORTS ')) out.kubeNodePorts++
  }
  let n = 0
  let sum = 0
  let worst = 0
  for (let k = 0; k < jumpIndex.length; k++) {
    if (jumpChain[k] !== internal) continue
    const d = dnatChain.indexOf(jumpSep[k]!)
    const c = jumpIndex[k]! + (d < 0 ? 0 : dnatIndex[d]!)
    sum += c
    n++
    if (c > worst) worst = c
  }
  if (n) out.cost = { expected: sum / n, worst }
  out.bytes = bytes
  return out
}

export function planStats(plan: FamilyPlan, envelopeCounts: Plan['counts']): PlanStats {
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
    stats.tables.filter.chains += seg.filterChains.length
    stats.tables.filter.rules += seg.filterRules.length
    stats.tables.nat.chains += seg.natChains.length
    stats.tables.nat.rules += seg.natRules.length
    const scan = scanNat(seg)
    stats.scriptBytes += scan.bytes + bufferBytes(seg.filterChains) + bufferBytes(seg.filterRules) + bufferBytes(seg.natChains)
    const kubeServicesPos = stats.kubeServicesRules + scan.clusterPos
    stats.kubeServicesRules += scan.kubeServices
    stats.kubeNodePortsRules += scan.kubeNodePorts
    if (!seg.service) continue
    stats.servicePorts++
    const type = seg.meta?.type ?? inferType(seg)
    stats.servicePortsByType[type]++
    const svc = seg.service.replace(/:[^/]*$/, '')
    const prev = serviceType.get(svc)
    if (!prev || TYPES.indexOf(type) > TYPES.indexOf(prev)) serviceType.set(svc, type)
    if (seg.meta) {
      const e = (stats.endpoints ??= { total: 0, ready: 0, serving: 0, terminating: 0 })
      e.total += seg.meta.endpoints.total
      e.ready += seg.meta.endpoints.ready
      e.serving += seg.meta.endpoints.serving
      e.terminating += seg.meta.endpoints.terminating
    }
    let seps = 0
    for (const c of seg.natChains) if (c.startsWith(':KUBE-SEP-')) seps++
    stats.endpointChains += seps
    if (seps === 0) {
      stats.servicePortsWithoutEndpoints++
      if (stats.servicePortsWithoutEndpointsSample.length < 100) stats.servicePortsWithoutEndpointsSample.push(seg.service)
    }
    const cost = scan.clusterPos ? scan.cost : undefined
    if (cost) {
      const worst = kubeServicesPos + cost.worst
      costSum += kubeServicesPos + cost.expected
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
