/**
 * Structured diff of two family plans, worked out from segment hashes: segments are paired by
 * key, equal hashes are skipped, and only the buffers of changed/added/removed segments are
 * read. Because every KUBE-SERVICES / KUBE-NODEPORTS / filter rule of a service lives in that
 * service's segment (kube-proxy writes them while iterating that service port, proxier.go
 * syncProxyRules), a changed segment also tells which dispatch rules changed.
 */
import { diffArrays } from 'diff'
import type { FamilyPlan, Segment, TableName } from '../types.js'
import { chainLines, chainOfLine, declaredName, pairSegments, ruleLines, segmentLabel, TABLES } from './model.js'

export interface ChainRuleDiff {
  chain: string
  rulesAdded: string[]
  rulesRemoved: string[]
}

export interface TableDiff {
  chainsAdded: string[]
  chainsRemoved: string[]
  /** Chains present in both plans whose rules differ (rule-level changes). */
  chainsChanged: ChainRuleDiff[]
}

export type ChangeKind = 'added' | 'removed' | 'changed'

export interface ServiceDiff {
  /** servicePortName (`ns/name:port`), or the segment key for head/tail. */
  service: string
  protocol?: string
  key: string
  change: ChangeKind
  tables: Record<TableName, TableDiff>
  rulesAdded: number
  rulesRemoved: number
}

export interface DiffSummary {
  servicesAdded: number
  servicesRemoved: number
  servicesChanged: number
  /** The same, counted per service port (segment); head/tail changes are not counted here. */
  servicePortsAdded: number
  servicePortsRemoved: number
  servicePortsChanged: number
  chainsAdded: number
  chainsRemoved: number
  chainsChanged: number
  rulesAdded: number
  rulesRemoved: number
  unchangedSegments: number
}

export interface PlanDiff {
  family: FamilyPlan['family']
  summary: DiffSummary
  tables: Record<TableName, TableDiff>
  /** Per service port (segment), in plan order; head/tail appear under their keys. */
  services: ServiceDiff[]
}

export interface DiffOptions {
  /** Precomputed segment hashes, aligned with a.segments / b.segments (e.g. from the store). */
  hashesA?: readonly string[]
  hashesB?: readonly string[]
}

const emptyTable = (): TableDiff => ({ chainsAdded: [], chainsRemoved: [], chainsChanged: [] })

/** Rules a segment appends, grouped by chain (order kept). */
function rulesByChain(seg: Segment | undefined, table: TableName): Map<string, string[]> {
  const m = new Map<string, string[]>()
  if (!seg) return m
  for (const r of ruleLines(seg, table)) {
    if (!r.startsWith('-A ')) continue
    const c = chainOfLine(r)
    let l = m.get(c)
    if (!l) m.set(c, (l = []))
    l.push(r)
  }
  return m
}

function declared(seg: Segment | undefined, table: TableName): Set<string> {
  return new Set(seg ? chainLines(seg, table).map(declaredName) : [])
}

/** Compares one segment's contribution to one table. */
function diffSegmentTable(a: Segment | undefined, b: Segment | undefined, table: TableName): { diff: TableDiff; added: number; removed: number } {
  const diff = emptyTable()
  const da = declared(a, table)
  const db = declared(b, table)
  for (const c of db) if (!da.has(c)) diff.chainsAdded.push(c)
  for (const c of da) if (!db.has(c)) diff.chainsRemoved.push(c)
  const ra = rulesByChain(a, table)
  const rb = rulesByChain(b, table)
  let added = 0
  let removed = 0
  for (const chain of new Set([...ra.keys(), ...rb.keys()])) {
    const d = diffRules(chain, ra.get(chain) ?? [], rb.get(chain) ?? [])
    added += d.rulesAdded.length
    removed += d.rulesRemoved.length
    const whole = (da.has(chain) && !db.has(chain)) || (db.has(chain) && !da.has(chain))
    if (!whole && (d.rulesAdded.length || d.rulesRemoved.length)) diff.chainsChanged.push(d)
  }
  return { diff, added, removed }
}

/** Order-aware rule diff (LCS), so a reordered dispatch list shows up. */
export function diffRules(chain: string, a: string[], b: string[]): ChainRuleDiff {
  const out: ChainRuleDiff = { chain, rulesAdded: [], rulesRemoved: [] }
  if (a.length === b.length && a.every((r, i) => r === b[i])) return out
  for (const part of diffArrays(a, b)) {
    if (part.added) out.rulesAdded.push(...part.value)
    else if (part.removed) out.rulesRemoved.push(...part.value)
  }
  return out
}

function serviceDiff(a: Segment | undefined, b: Segment | undefined, change: ChangeKind): ServiceDiff {
  const seg = (b ?? a)!
  const sd: ServiceDiff = {
    service: seg.service ?? seg.key,
    ...(seg.protocol ? { protocol: seg.protocol } : {}),
    key: seg.key,
    change,
    tables: { filter: emptyTable(), nat: emptyTable() },
    rulesAdded: 0,
    rulesRemoved: 0,
  }
  for (const t of TABLES) {
    const r = diffSegmentTable(a, b, t)
    sd.tables[t] = r.diff
    sd.rulesAdded += r.added
    sd.rulesRemoved += r.removed
  }
  return sd
}

/** Merges per-service table diffs into per-table diffs (shared chains such as KUBE-SERVICES merge). */
function mergeTables(services: ServiceDiff[]): Record<TableName, TableDiff> {
  const out = { filter: emptyTable(), nat: emptyTable() }
  for (const t of TABLES) {
    const changed = new Map<string, ChainRuleDiff>()
    for (const s of services) {
      out[t].chainsAdded.push(...s.tables[t].chainsAdded)
      out[t].chainsRemoved.push(...s.tables[t].chainsRemoved)
      for (const c of s.tables[t].chainsChanged) {
        const m = changed.get(c.chain)
        if (!m) changed.set(c.chain, { chain: c.chain, rulesAdded: [...c.rulesAdded], rulesRemoved: [...c.rulesRemoved] })
        else {
          m.rulesAdded.push(...c.rulesAdded)
          m.rulesRemoved.push(...c.rulesRemoved)
        }
      }
    }
    // A chain that moved between segments (never happens for hash-named chains) is not "added".
    const added = new Set(out[t].chainsAdded)
    const removed = new Set(out[t].chainsRemoved)
    out[t].chainsAdded = out[t].chainsAdded.filter((c) => !removed.has(c)).sort()
    out[t].chainsRemoved = out[t].chainsRemoved.filter((c) => !added.has(c)).sort()
    out[t].chainsChanged = [...changed.values()].sort((x, y) => (x.chain < y.chain ? -1 : x.chain > y.chain ? 1 : 0))
  }
  return out
}

/** Distinct Services (namespace/name) among service-port diffs of one kind. */
function countServices(services: ServiceDiff[], kind: ChangeKind): number {
  return new Set(services.filter((s) => s.change === kind && s.protocol).map((s) => s.service.replace(/:[^/]*$/, ''))).size
}

export function diffPlans(a: FamilyPlan, b: FamilyPlan, opts: DiffOptions = {}): PlanDiff {
  const pairs = pairSegments(a, b, opts.hashesA, opts.hashesB)
  const order: Array<{ pos: number; d: ServiceDiff }> = []
  for (const [i, j] of pairs.changed) order.push({ pos: j, d: serviceDiff(a.segments[i], b.segments[j], 'changed') })
  for (const j of pairs.added) order.push({ pos: j, d: serviceDiff(undefined, b.segments[j], 'added') })
  for (const i of pairs.removed) order.push({ pos: b.segments.length + i, d: serviceDiff(a.segments[i], undefined, 'removed') })
  const services = order.sort((x, y) => x.pos - y.pos).map((x) => x.d)
  const tables = mergeTables(services)
  const sum = (f: (t: TableDiff) => number) => TABLES.reduce((n, t) => n + f(tables[t]), 0)
  return {
    family: b.family,
    summary: {
      servicesAdded: countServices(services, 'added'),
      servicesRemoved: countServices(services, 'removed'),
      servicesChanged: countServices(services, 'changed'),
      servicePortsAdded: services.filter((s) => s.change === 'added' && s.protocol).length,
      servicePortsRemoved: services.filter((s) => s.change === 'removed' && s.protocol).length,
      servicePortsChanged: services.filter((s) => s.change === 'changed' && s.protocol).length,
      chainsAdded: sum((t) => t.chainsAdded.length),
      chainsRemoved: sum((t) => t.chainsRemoved.length),
      chainsChanged: sum((t) => t.chainsChanged.length),
      rulesAdded: services.reduce((n, s) => n + s.rulesAdded, 0),
      rulesRemoved: services.reduce((n, s) => n + s.rulesRemoved, 0),
      unchangedSegments: pairs.unchanged.length,
    },
    tables,
    services,
  }
}

export { segmentLabel }
