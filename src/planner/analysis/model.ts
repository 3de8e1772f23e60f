/**
 * Views of a FamilyPlan shared by diff, minimal restore, drift, trace and stats: which chains a
 * segment declares, which rules it appends to which chain, and the plan as tables of chains.
 */
import { knownSegmentHash } from '../iptables/hash.js'
import { SEGMENT_BUFFERS, segmentLines, type FamilyPlan, type Segment, type TableName } from '../types.js'

export const TABLES: readonly TableName[] = ['filter', 'nat']

/**
 * Chain-name prefixes of per-service chains (pkg/proxy/iptables/proxier.go: isServiceChainName).
 * kube-proxy's stale-chain cleanup only ever deletes chains with these prefixes.
 */
export const SERVICE_CHAIN_PREFIXES = ['KUBE-SVC-', 'KUBE-SVL-', 'KUBE-SEP-', 'KUBE-FW-', 'KUBE-EXT-'] as const

export function isServiceChain(name: string): boolean {
  return SERVICE_CHAIN_PREFIXES.some((p) => name.startsWith(p))
}

/** The fixed nat chains kube-proxy rewrites on every sync, partial or full (reference §14). */
export const FIXED_NAT_CHAINS = ['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ'] as const

/** Every chain name kube-proxy's restore input can declare outside per-service chains. */
export const KUBE_PROXY_FIXED_CHAINS: Record<TableName, readonly string[]> = {
  nat: FIXED_NAT_CHAINS,
  filter: ['KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES', 'KUBE-FORWARD', 'KUBE-NODEPORTS', 'KUBE-PROXY-FIREWALL', 'KUBE-FIREWALL'],
}

export function chainLines(seg: Segment, table: TableName): string[] {
  return segmentLines(seg, table === 'nat' ? 'natChains' : 'filterChains')
}

export function ruleLines(seg: Segment, table: TableName): string[] {
  return segmentLines(seg, table === 'nat' ? 'natRules' : 'filterRules')
}

/** `:KUBE-SVC-X - [0:0]` → `KUBE-SVC-X`. */
export function declaredName(chainLine: string): string {
  const sp = chainLine.indexOf(' ')
  return chainLine.slice(1, sp < 0 ? undefined : sp)
}

/** `-A KUBE-SVC-X …` → `KUBE-SVC-X`; `-X KUBE-SVC-X` → `KUBE-SVC-X` (fast, no tokenizing). */
export function chainOfLine(ruleLine: string): string {
  const start = ruleLine.indexOf(' ') + 1
  const end = ruleLine.indexOf(' ', start)
  return ruleLine.slice(start, end < 0 ? undefined : end)
}

/** The `-j` target of a rule line, without tokenizing (targets never contain spaces). */
export function targetOfLine(ruleLine: string): string | undefined {
  const j = ruleLine.lastIndexOf(' -j ')
  if (j < 0) return undefined
  const end = ruleLine.indexOf(' ', j + 4)
  return ruleLine.slice(j + 4, end < 0 ? undefined : end)
}

/** A chain of a table with its rule lines, in plan order. */
export interface PlanChain {
  name: string
  rules: string[]
  /** Index of the declaring segment in plan.segments (-1 when a rule names an undeclared chain). */
  segment: number
}

export interface PlanTable {
  name: TableName
  chains: Map<string, PlanChain>
}

/**
 * The plan as tables of chains (declaration order; rules in restore order), as the node holds
 * them after the restore: a chain the plan deletes (`:C - [0:0]` then `-X C`, the stale chains
 * of a full sync) is not among them.
 */
export function tablesOfPlan(plan: FamilyPlan): Record<TableName, PlanTable> {
  const out = {} as Record<TableName, PlanTable>
  for (const t of TABLES) {
    const chains = new Map<string, PlanChain>()
    plan.segments.forEach((seg, i) => {
      for (const c of chainLines(seg, t)) {
        const name = declaredName(c)
        if (!chains.has(name)) chains.set(name, { name, rules: [], segment: i })
      }
    })
    for (const seg of plan.segments) {
      for (const r of ruleLines(seg, t)) {
        if (r.startsWith('-X ')) {
          chains.delete(chainOfLine(r))
          continue
        }
        if (!r.startsWith('-A ')) continue
        const name = chainOfLine(r)
        let c = chains.get(name)
        if (!c) chains.set(name, (c = { name, rules: [], segment: -1 }))
        c.rules.push(r)
      }
    }
    out[t] = { name: t, chains }
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Segment pairing
// ---------------------------------------------------------------------------------------------

export interface SegmentPairing {
  /** Keys present in both with different content (a index, b index). */
  changed: Array<[number, number]>
  added: number[]
  removed: number[]
  unchanged: Array<[number, number]>
}

/**
 * Pairs the segments of two plans by key and compares their hashes; only changed, added and
 * removed segments need to be looked at (the model of kpng's diffstore, kubernetes-sigs/kpng).
 */
export function pairSegments(a: FamilyPlan, b: FamilyPlan, hashesA?: readonly string[], hashesB?: readonly string[]): SegmentPairing {
  const same = (i: number, j: number): boolean => {
    const x = a.segments[i]!
    const y = b.segments[j]!
    if (x === y) return true
    const hx = hashesA?.[i] ?? knownSegmentHash(x)
    const hy = hashesB?.[j] ?? knownSegmentHash(y)
    if (hx !== undefined && hy !== undefined) return hx === hy
    // No hashes at hand: comparing the lines is cheaper than hashing both (same answer).
    return sameContent(x, y)
  }
  const indexA = new Map<string, number>()
  a.segments.forEach((s, i) => indexA.set(s.key, i))
  const out: SegmentPairing = { changed: [], added: [], removed: [], unchanged: [] }
  const seen = new Set<number>()
  b.segments.forEach((s, j) => {
    const i = indexA.get(s.key)
    if (i === undefined) return void out.added.push(j)
    seen.add(i)
    if (same(i, j)) out.unchanged.push([i, j])
    else out.changed.push([i, j])
  })
  a.segments.forEach((_, i) => {
    if (!seen.has(i)) out.removed.push(i)
  })
  return out
}

function sameContent(x: Segment, y: Segment): boolean {
  if (x.key !== y.key || x.service !== y.service || x.protocol !== y.protocol) return false
  for (const b of SEGMENT_BUFFERS) if (x[b] !== y[b]) return false
  return true
}

/** `ns/svc:port/tcp` style label of a segment for grouping. */
export function segmentLabel(seg: Segment): string {
  return seg.service ? `${seg.service}/${seg.protocol ?? 'tcp'}` : seg.key
}

/**
 * kube-proxy's restore input for one family: the segments' buffers concatenated, exactly as
 * types.ts defines a plan (`*filter` chains rules `COMMIT` `*nat` chains rules `COMMIT`).
 */
export function restoreText(plan: FamilyPlan): string {
  let out = '*filter\n'
  for (const s of plan.segments) out += s.filterChains
  for (const s of plan.segments) out += s.filterRules
  out += 'COMMIT\n*nat\n'
  for (const s of plan.segments) out += s.natChains
  for (const s of plan.segments) out += s.natRules
  return out + 'COMMIT\n'
}
