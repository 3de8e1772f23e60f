/**
 * The books of one segment: what its lines add to the plan's statistics (src/planner/types.ts
 * SegmentStats). One source for two readers: the fast writer (./writer.ts) keeps them as it
 * writes each line, saying what the line is; analysis/stats.ts keeps them for any other
 * segment by reading each line back (classifyNatRule). test/planner/stats-facts.test.ts holds
 * the two to the same figures.
 *
 * The traversal cost is the number of rules a NEW connection to the service's cluster IP is
 * evaluated against before its DNAT: its place among the KUBE-SERVICES rules, then the rules of
 * the internal chain (KUBE-SVC, or KUBE-SVL with internalTrafficPolicy Local) up to the random
 * split's jump it takes (the i-th endpoint's rule is reached only after the i-1 before it), then
 * the endpoint chain up to its DNAT: the hairpin masquerade rule, then the DNAT, as every
 * KUBE-SEP chain kube-proxy writes has them (pkg/proxy/iptables/proxier.go syncProxyRules).
 */
import type { SegmentStats } from '../types.js'

/** Buffers, in restore order within a table pair. */
export const FILTER_CHAINS = 0
export const FILTER_RULES = 1
export const NAT_CHAINS = 2
export const NAT_RULES = 3
export type BufferIndex = typeof FILTER_CHAINS | typeof FILTER_RULES | typeof NAT_CHAINS | typeof NAT_RULES

/** What a line is, for the books. Chain buffers: */
export const CHAIN = 0
export const SEP_CHAIN = 1
/** Rule buffers: a rule in one of the segment's own chains (KUBE-SVC/SVL/EXT/FW/SEP) or a filter rule. */
export const OWN = 2
/** A nat KUBE-SERVICES rule; the one jumping to the internal chain (the cluster-IP rule). */
export const SERVICES = 3
export const SERVICES_INTERNAL = 4
export const NODEPORTS = 5
/** A nat rule of another fixed chain (KUBE-POSTROUTING, KUBE-MARK-MASQ). */
export const FIXED = 6
/** A rule of the internal chain a new connection passes (masquerade, affinity check), and a jump of its random split. */
export const INTERNAL = 7
export const DISPATCH = 8
/** A line that declares or appends nothing (`-X CHAIN`). */
export const OTHER = 9

/** Rules evaluated in an endpoint chain up to its DNAT: hairpin masquerade, DNAT. */
const SEP_DEPTH = 2

export class SegmentBooks {
  private lines = [0, 0, 0, 0]
  private bytes = [0, 0, 0, 0]
  private declared = [0, 0]
  private appended = [0, 0]
  private fixedRules = 0
  private fixedBytes = 0
  private kubeServices = 0
  private kubeNodePorts = 0
  private clusterPos = 0
  private internalRules = 0
  private dispatchCount = 0
  private dispatchSum = 0
  private dispatchWorst = 0
  private sepChains = 0

  /** One line of `buffer`, `bytes` long with its newline. */
  line(buffer: BufferIndex, bytes: number, what: number): void {
    this.lines[buffer]!++
    this.bytes[buffer]! += bytes
    const table = buffer < NAT_CHAINS ? 0 : 1
    if (what === OTHER) return
    if (what <= SEP_CHAIN) {
      this.declared[table]!++
      if (what === SEP_CHAIN) this.sepChains++
      return
    }
    this.appended[table]!++
    if (what === OWN) return
    if (what === INTERNAL || what === DISPATCH) {
      this.internalRules++
      if (what === DISPATCH) {
        const cost = this.internalRules + SEP_DEPTH
        this.dispatchCount++
        this.dispatchSum += cost
        if (cost > this.dispatchWorst) this.dispatchWorst = cost
      }
      return
    }
    this.fixedRules++
    this.fixedBytes += bytes
    if (what === NODEPORTS) this.kubeNodePorts++
    else if (what !== FIXED) {
      this.kubeServices++
      if (what === SERVICES_INTERNAL && this.clusterPos === 0) this.clusterPos = this.kubeServices
    }
  }

  /** The segment's statistics (the caller adds `type` and `service`), and the books start over. */
  finish(): SegmentStats {
    const [fc, fr, nc, nr] = this.lines as [number, number, number, number]
    const st: SegmentStats = {
      lines: [fc, fr, nc, nr],
      declared: { filter: this.declared[0]!, nat: this.declared[1]! },
      appended: { filter: this.appended[0]!, nat: this.appended[1]! },
      filterBytes: this.bytes[0]! + this.bytes[1]!,
      natBytes: this.bytes[2]! + this.bytes[3]!,
      natFixed: { rules: this.fixedRules, bytes: this.fixedBytes },
      kubeServices: this.kubeServices,
      kubeNodePorts: this.kubeNodePorts,
      clusterPos: this.clusterPos,
      sepChains: this.sepChains,
    }
    if (this.clusterPos > 0 && this.dispatchCount > 0) st.cost = { expected: this.dispatchSum / this.dispatchCount, worst: this.dispatchWorst }
    this.reset()
    return st
  }

  reset(): void {
    this.lines.fill(0)
    this.bytes.fill(0)
    this.declared.fill(0)
    this.appended.fill(0)
    this.fixedRules = this.fixedBytes = this.kubeServices = this.kubeNodePorts = this.clusterPos = 0
    this.internalRules = this.dispatchCount = this.dispatchSum = this.dispatchWorst = this.sepChains = 0
  }
}

const SERVICE_CHAIN = /^KUBE-(SVC|SVL|EXT|FW|SEP)-/

/**
 * What a nat rule line of a segment is, read back from its text (the scan's side of the books).
 * `internal` carries, from one line to the next, the internal chain: the target of the segment's
 * first KUBE-SERVICES rule that jumps to a KUBE-SVC or KUBE-SVL chain.
 */
export function classifyNatRule(line: string, state: { internal: string | undefined }): number {
  if (!line.startsWith('-A ')) return OTHER
  const end = line.indexOf(' ', 3)
  const chain = line.slice(3, end < 0 ? undefined : end)
  const j = line.lastIndexOf(' -j ')
  const target = j < 0 ? undefined : line.slice(j + 4, line.indexOf(' ', j + 4) < 0 ? undefined : line.indexOf(' ', j + 4))
  if (chain === 'KUBE-SERVICES') {
    if (state.internal === undefined && target !== undefined && (target.startsWith('KUBE-SVC-') || target.startsWith('KUBE-SVL-'))) {
      state.internal = target
      return SERVICES_INTERNAL
    }
    return SERVICES
  }
  if (chain === 'KUBE-NODEPORTS') return NODEPORTS
  if (chain === state.internal) return target?.startsWith('KUBE-SEP-') && !line.includes(' --rcheck ') ? DISPATCH : INTERNAL
  return SERVICE_CHAIN.test(chain) ? OWN : FIXED
}
