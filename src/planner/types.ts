/**
 * The planner's data model: the contract between the pure planner and everything that stores,
 * renders, diffs or traces its output.
 *
 * A plan is kept the way kube-proxy fills its line buffers (pkg/proxy/iptables/proxier.go,
 * syncProxyRules): four buffers (filter chains, filter rules, nat chains, nat rules), written
 * as `*filter` chains rules `COMMIT` `*nat` chains rules `COMMIT`. Each *segment* is one
 * contributor to those buffers: the fixed head (KUBE-POSTROUTING, KUBE-MARK-MASQ, KUBE-FIREWALL,
 * chain declarations of the fixed chains), one segment per service port (in a deterministic
 * order: by servicePortName, then protocol), and the fixed tail (KUBE-FORWARD, the
 * KUBE-SERVICES -> KUBE-NODEPORTS jump). Concatenating every segment's buffer in order gives
 * exactly kube-proxy's restore input. A segment is also the unit of content addressing: when a
 * Service changes, only its segment (and, when large-cluster mode flips, all of them) changes.
 */

export type Family = 'IPv4' | 'IPv6'
export type TableName = 'filter' | 'nat'
export type Protocol = 'tcp' | 'udp' | 'sctp'

export interface Segment {
  /** 'head', 'tail', or `${servicePortName}/${protocol}` (unique within a family plan). */
  key: string
  /** For service segments: the servicePortName string, e.g. `ns1/svc1:p80` or `ns1/svc1`. */
  service?: string
  protocol?: Protocol
  /**
   * Each buffer is ONE string: its lines exactly as written, each ending in "\n" ("" when the
   * buffer is empty). Concatenating the buffers is the restore input, and a 10k-service plan
   * holds ~40k strings instead of ~430k line strings (see docs/planner.md, Performance).
   * `segmentLines(seg, buffer)` gives the lines (without newlines) for code that needs them.
   */
  filterChains: string
  filterRules: string
  natChains: string
  natRules: string
  /**
   * Optional facts about a service segment for statistics (analysis/stats.ts). Not part of the
   * segment's content hash: it describes the input, not the rules. When absent, statistics infer
   * what the rules show (type from NodePort/LB rules, endpoints from KUBE-SEP chains).
   */
  meta?: SegmentMeta
}

export type SegmentBuffer = 'filterChains' | 'filterRules' | 'natChains' | 'natRules'

/** The buffers in restore order within a table pair: filter chains, filter rules, nat chains, nat rules. */
export const SEGMENT_BUFFERS: readonly SegmentBuffer[] = ['filterChains', 'filterRules', 'natChains', 'natRules']

/** The lines of a buffer text (each "\n"-terminated) without their newlines. */
export function textLines(text: string): string[] {
  return text === '' ? [] : text.slice(0, -1).split('\n')
}

/** The lines of one buffer of a segment, without their newlines. */
export function segmentLines(seg: Segment, buffer: SegmentBuffer): string[] {
  return textLines(seg[buffer])
}

/** A buffer text from lines (each without its newline). */
export function linesText(lines: readonly string[]): string {
  return lines.length === 0 ? '' : lines.join('\n') + '\n'
}

/** Number of lines in a buffer text. */
export function lineCount(text: string): number {
  let n = 0
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++
  return n
}

export interface SegmentMeta {
  /** The Service's spec.type. */
  type: 'ClusterIP' | 'NodePort' | 'LoadBalancer'
  /** This service port's endpoints from its EndpointSlices, before traffic-policy selection. */
  endpoints: { total: number; ready: number; serving: number; terminating: number }
}

/**
 * What one segment contributes to its plan's statistics, found in one pass over its lines.
 * planStats, the version counts and the growth delta are sums of these (analysis/stats.ts). The
 * planner fills them in as it writes a service segment when asked (`plan(…, { stats })`); for any
 * other segment analysis/stats.ts segmentStats finds them in one scan of its lines.
 */
export interface SegmentStats {
  /** Line counts per buffer (filter chains, filter rules, nat chains, nat rules). */
  lines: [number, number, number, number]
  /** `:` chain declarations and `-A` rules per table (kube-proxy's sync_proxy_rules_iptables_total counts `-A` lines). */
  declared: { filter: number; nat: number }
  appended: { filter: number; nat: number }
  /** Bytes (UTF-8, newlines included) of the filter lines and of the nat lines. */
  filterBytes: number
  natBytes: number
  /** The nat rules that land in chains the segment does not own (KUBE-SERVICES, KUBE-NODEPORTS): the partial-sync delta of an unchanged segment. */
  natFixed: { rules: number; bytes: number }
  kubeServices: number
  kubeNodePorts: number
  /** 1-based index, among this segment's KUBE-SERVICES rules, of its cluster-IP jump (0: none). */
  clusterPos: number
  cost?: { expected: number; worst: number }
  /** `:KUBE-SEP-` chains declared. */
  sepChains: number
  /** spec.type from Segment.meta, else inferred from the rules (service segments only). */
  type?: SegmentMeta['type']
  /** The Service (`namespace/name`) of a service segment. */
  service?: string
}

export interface FamilyPlan {
  family: Family
  /** head, then service segments in deterministic order, then tail. */
  segments: Segment[]
}

export interface PlanWarning {
  /** Stable machine-readable code, e.g. 'invalid-ip', 'unknown-kind', 'no-matching-service'. */
  code: string
  message: string
  /** RFC 6901 pointer into the envelope (e.g. `/resources/items/3/spec/externalIPs/0`). */
  pointer?: string
}

export interface Plan {
  /** One per IP family the node serves (single-stack: one; dual-stack: IPv4 then IPv6). */
  families: FamilyPlan[]
  warnings: PlanWarning[]
  /** Input counts, for summaries and growth statistics. */
  counts: {
    services: number
    servicePorts: number
    endpoints: number
    /** Objects of kinds the planner does not read (ignored and counted). */
    ignoredObjects: number
  }
}

export type Flavour = 'kube-proxy' | 'standalone'

export interface RenderOptions {
  /** default 'all' */
  table?: TableName | 'all'
  /** default 'kube-proxy' */
  flavour?: Flavour
}

/**
 * One family of a variant: the rules every node of its class shares (`services`, one segment
 * per service port, the same array for all of them), the segments a node of this variant has
 * of its own in their place (`overrides`, by index into `services`, in index order), and its
 * head and tail.
 */
export interface VariantFamily {
  family: Family
  head: Segment
  services: readonly Segment[]
  overrides: ReadonlyArray<readonly [number, Segment]>
  tail: Segment
  /**
   * With the NodeCIDR detector on many nodes: the node's pod CIDR of this family, which the
   * shared segments hold as a placeholder (context.ts LOCAL_CIDR) until the plan is read.
   */
  localCIDR?: string
}

/** Nodes whose plans are byte-identical share one variant. */
export interface PlanVariant {
  families: VariantFamily[]
  /** The nodes of this variant, in name order. */
  nodes: string[]
}

export interface PlannedNode {
  name: string
  /** Index into ClusterPlan.variants. */
  variant: number
}

/** Every node of a snapshot (planner/plan.ts planCluster). */
export interface ClusterPlan {
  /** In name order. */
  nodes: PlannedNode[]
  variants: PlanVariant[]
  /** The node the one-node views answer for: named in the settings, or the only one; null when neither. */
  defaultNode: string | null
  /** Settings no source gave, planned with kube-proxy's defaults (kube/settings.ts SETTINGS). */
  defaulted: string[]
  warnings: PlanWarning[]
  counts: Plan['counts']
}
