/**
 * The minimal `iptables-restore --noflush` input that turns a node holding plan `a` into one
 * holding plan `b`, written the way kube-proxy's partial sync writes it (KEP-3453,
 * MinimizeIPTablesRestore, now always on — pkg/proxy/iptables/proxier.go syncProxyRules;
 * reference kube-proxy-iptables.md §14):
 *
 * - the filter table is written whole, as on every sync (declaring a chain flushes it, so
 *   KUBE-SERVICES, KUBE-EXTERNAL-SERVICES, … are replaced, not appended to);
 * - nat: the fixed chains (KUBE-SERVICES, KUBE-NODEPORTS, KUBE-POSTROUTING, KUBE-MARK-MASQ) are
 *   declared and rewritten whole — including every service's KUBE-SERVICES/KUBE-NODEPORTS rules;
 * - only the chains of changed or added service ports are declared and rewritten; unchanged
 *   services' KUBE-SVC/SEP/… chains are left as they are (`--noflush`);
 * - chains of removed services, and chains a changed service no longer uses, are flushed and
 *   deleted: `:CHAIN - [0:0]` plus `-X CHAIN`, the `-X` lines after the service rules and before
 *   the final KUBE-NODEPORTS jump, as kube-proxy orders them.
 *
 * Only service-chain prefixes (KUBE-SVC/SVL/SEP/FW/EXT) are ever deleted, like kube-proxy; a
 * fixed chain that disappears from the plan (e.g. KUBE-FIREWALL after localhostNodePorts is
 * turned off) is left on the node, as kube-proxy leaves it.
 */
import { lineCount, segmentLines, type FamilyPlan, type Segment } from '../types.js'
import { chainLines, declaredName, isServiceChain, pairSegments, ruleLines, chainOfLine } from './model.js'
import type { DiffOptions } from './diff.js'

interface DeltaParts {
  lines: string[]
  staleChains: string[]
  rewrittenSegments: number
}

function buildDelta(a: FamilyPlan, b: FamilyPlan, opts: DiffOptions): DeltaParts {
  const pairs = pairSegments(a, b, opts.hashesA, opts.hashesB)
  const rewrite = new Set<number>([...pairs.added, ...pairs.changed.map(([, j]) => j)])
  b.segments.forEach((s, j) => {
    if (!s.service) rewrite.add(j) // head and tail: the fixed chains, always written
  })

  // Stale chains: service chains of removed or changed segments of `a` that `b` no longer declares.
  const inB = new Set<string>()
  for (const j of rewrite) for (const c of chainLines(b.segments[j]!, 'nat')) inB.add(declaredName(c))
  const stale: string[] = []
  for (const i of [...pairs.removed, ...pairs.changed.map(([i]) => i)]) {
    for (const c of chainLines(a.segments[i]!, 'nat')) {
      const name = declaredName(c)
      if (isServiceChain(name) && !inB.has(name)) stale.push(name)
    }
  }
  stale.sort()

  const lastService = b.segments.findLastIndex((s) => s.service !== undefined)
  const out: string[] = ['*filter']
  for (const s of b.segments) out.push(...segmentLines(s, 'filterChains'))
  for (const s of b.segments) out.push(...segmentLines(s, 'filterRules'))
  out.push('COMMIT', '*nat')
  b.segments.forEach((s, j) => {
    if (rewrite.has(j)) out.push(...segmentLines(s, 'natChains'))
  })
  for (const c of stale) out.push(`:${c} - [0:0]`)
  const natRulesOf = (s: Segment, j: number) => (rewrite.has(j) ? ruleLines(s, 'nat') : fixedChainRules(s))
  b.segments.forEach((s, j) => {
    if (j <= lastService || lastService < 0) out.push(...natRulesOf(s, j))
  })
  for (const c of stale) out.push(`-X ${c}`)
  b.segments.forEach((s, j) => {
    if (j > lastService && lastService >= 0) out.push(...natRulesOf(s, j))
  })
  out.push('COMMIT')
  return { lines: out, staleChains: stale, rewrittenSegments: rewrite.size }
}

/** An unchanged service's rules in chains it does not own (KUBE-SERVICES, KUBE-NODEPORTS). */
function fixedChainRules(s: Segment): string[] {
  const own = new Set(chainLines(s, 'nat').map(declaredName))
  return ruleLines(s, 'nat').filter((r) => !own.has(chainOfLine(r)))
}

/** The `--noflush` restore input from `a`'s applied state to `b`. */
export function minimalRestore(a: FamilyPlan, b: FamilyPlan, opts: DiffOptions = {}): string {
  return buildDelta(a, b, opts).lines.join('\n') + '\n'
}

export interface DeltaSize {
  /** `-A` lines in the minimal restore (kube-proxy's sync_proxy_rules_iptables_last). */
  rules: number
  /** Chain lines (declared = flushed) in the minimal restore. */
  chains: number
  /** Chains deleted with `-X`. */
  deletedChains: number
  bytes: number
  /** `-A` lines of b in full (kube-proxy's sync_proxy_rules_iptables_total, all tables). */
  totalRules: number
  totalBytes: number
  /** Segments written (service ports changed or added, plus head and tail). */
  rewrittenSegments: number
}

const byteLength = (s: string) => Buffer.byteLength(s, 'utf8')

/** Bytes of lines joined with newlines, counted without joining them (2.7 MB at 10k services). */
function linesBytes(lines: readonly string[]): number {
  let n = 0
  for (const l of lines) n += byteLength(l) + 1
  return n
}

export function deltaSize(a: FamilyPlan, b: FamilyPlan, opts: DiffOptions = {}): DeltaSize {
  const d = buildDelta(a, b, opts)
  let rules = 0
  let chains = 0
  for (const l of d.lines) {
    if (l.startsWith('-A ')) rules++
    else if (l.startsWith(':')) chains++
  }
  let totalRules = 0
  let totalBytes = linesBytes(['*filter', 'COMMIT', '*nat', 'COMMIT'])
  for (const s of b.segments) {
    totalRules += lineCount(s.filterRules) + lineCount(s.natRules)
    totalBytes += byteLength(s.filterChains) + byteLength(s.filterRules) + byteLength(s.natChains) + byteLength(s.natRules)
  }
  return {
    rules,
    chains,
    deletedChains: d.staleChains.length,
    bytes: linesBytes(d.lines),
    totalRules,
    totalBytes,
    rewrittenSegments: d.rewrittenSegments,
  }
}
