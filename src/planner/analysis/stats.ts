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
import { lineCount, segmentLines, type FamilyPlan, type Plan, type Segment, type SegmentMeta, type SegmentStats, type TableName } from '../types.js'

export type { SegmentStats } from '../types.js'
import { chainLines, declaredName, SERVICE_CHAIN_PREFIXES, targetOfLine } from './model.js'

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

const CH_S = 83 // 'S'
const CH_E = 69 // 'E'
const CH_R = 82 // 'R'
const CH_V = 86 // 'V'
const CH_P = 80 // 'P'
const CH_N = 78 // 'N'
const CH_F = 70 // 'F'
const CH_DASH = 45
// `-A KUBE-SVC-` + 16 base32 chars: SVC/SVL/SEP names have a fixed width, ending at index 28.
const SERVICE_CHAIN_END = 28
// ` -j KUBE-SEP-` + 16 chars
const SEP_JUMP_TAIL = 29
/** `-A ` + a service-chain prefix: a rule in one of the segment's own chains. */
const OWN_CHAIN_RULE = SERVICE_CHAIN_PREFIXES.map((p) => `-A ${p}`)
// eslint-disable-next-line no-control-regex
const NON_ASCII = /[^\x00-\x7f]/

/**
 * Line bytes with their newlines. Plan lines are ASCII except for names inside comments
 * (chain names are base32, addresses are parsed and re-printed), and every such name is part of
 * the segment key, so an ASCII key means length is the byte count.
 */
function linesBytes(lines: readonly string[], ascii: boolean): number {
  let n = 0
  for (let i = 0; i < lines.length; i++) n += (ascii ? lines[i]!.length : Buffer.byteLength(lines[i]!)) + 1
  return n
}

function countPrefixed(lines: readonly string[], prefix: string): number {
  let n = 0
  for (let i = 0; i < lines.length; i++) if (lines[i]!.startsWith(prefix)) n++
  return n
}

/**
 * One pass over a segment's nat rules, dispatching on a few characters instead of string
 * searches. Rule indexes inside a chain are run counters: kube-proxy writes each chain's rules
 * in one go (proxier.go), so they are contiguous in the nat rules buffer.
 */
function scanNat(seg: Segment, out: SegmentStats, ascii: boolean): void {
  let internal: string | undefined
  let runChain = ''
  let run = 0
  // Small parallel arrays instead of Maps: a segment has a handful of endpoints.
  const jumpIndex: number[] = []
  const jumpSep: string[] = []
  const jumpChain: string[] = []
  const dnatChain: string[] = []
  const dnatIndex: number[] = []
  for (const r of segmentLines(seg, 'natRules')) {
    const size = (ascii ? r.length : Buffer.byteLength(r)) + 1
    out.natBytes += size
    const c8 = r.charCodeAt(8)
    const c9 = r.charCodeAt(9)
    const c10 = r.charCodeAt(10)
    const ownSVC = c8 === CH_S && (c9 === CH_V || (c9 === CH_E && c10 === CH_P)) && r.charCodeAt(11) === CH_DASH
    if (!(ownSVC || ((c8 === CH_F || c8 === CH_E) && OWN_CHAIN_RULE.some((p) => r.startsWith(p))))) {
      out.natFixed.bytes += size
      if (r.startsWith('-A ')) out.natFixed.rules++
    }
    if (c8 === CH_S) {
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
      if (ownSVC) {
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
  if (n && out.clusterPos) out.cost = { expected: sum / n, worst }
}

/** The statistics contribution of one segment (a full scan of its lines; see StatsMemo). */
export function segmentStats(seg: Segment): SegmentStats {
  const ascii = !NON_ASCII.test(seg.key)
  const fc = segmentLines(seg, 'filterChains')
  const fr = segmentLines(seg, 'filterRules')
  const nc = segmentLines(seg, 'natChains')
  const out: SegmentStats = {
    lines: [fc.length, fr.length, nc.length, lineCount(seg.natRules)],
    declared: { filter: countPrefixed(fc, ':'), nat: countPrefixed(nc, ':') },
    appended: { filter: countPrefixed(fr, '-A '), nat: countPrefixed(segmentLines(seg, 'natRules'), '-A ') },
    filterBytes: linesBytes(fc, ascii) + linesBytes(fr, ascii),
    natBytes: linesBytes(nc, ascii),
    natFixed: { rules: 0, bytes: 0 },
    kubeServices: 0,
    kubeNodePorts: 0,
    clusterPos: 0,
    sepChains: countPrefixed(nc, ':KUBE-SEP-'),
  }
  scanNat(seg, out, ascii)
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
