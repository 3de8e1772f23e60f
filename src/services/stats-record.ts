/**
 * The statistics row of one version, and the hook that writes it when a version is created.
 *
 * The numbers come from the analysis engine's `planStats` (per family) and `deltaSize` (the
 * minimal restore from the previous version: kube-proxy's sync_proxy_rules_iptables_last next to
 * _total), folded into one row per version; the per-namespace breakdown is counted here from the
 * plan's service segments. Computed once, at version creation, so growth never re-plans.
 */
import { chainLines, declaredName, isServiceChain, pairSegments } from '../planner/analysis/model.js'
import { planStats, statsOf, type PlanStats, type StatsMemo } from '../planner/analysis/stats.js'
import type { FamilyPlan, Plan, Segment } from '../planner/types.js'
import type { Queryable as PgQueryable } from '../store/db.js'
import { loadPlan, loadPlanForDelta } from '../store/plans.js'
import { insertVersionStats, versionsWithoutStats, type NamespaceCounts, type Queryable, type VersionStatsRecord } from '../store/stats.js'

export type ComputedStats = Omit<VersionStatsRecord, 'versionId' | 'clusterId' | 'number' | 'createdAt'>

/** `ns/name:port` (or `ns/name`) → `ns`. */
function namespaceOf(service: string): string {
  const slash = service.indexOf('/')
  return slash < 0 ? '' : service.slice(0, slash)
}

/**
 * Per-namespace counts over all families: rules and chains add up (each family is its own table
 * set on the node); services and service ports are counted once however many families carry them.
 */
export function namespaceCounts(plan: Plan, memo: StatsMemo = sharedMemo): Record<string, NamespaceCounts> {
  const out: Record<string, NamespaceCounts> = {}
  const services = new Map<string, Set<string>>()
  const ports = new Map<string, Set<string>>()
  for (const fp of plan.families) {
    for (const seg of fp.segments) {
      if (!seg.service) continue
      const f = statsOf(seg, memo)
      const svc = f.service!
      const ns = namespaceOf(svc)
      const c = (out[ns] ??= { services: 0, servicePorts: 0, endpoints: 0, chains: 0, rules: 0 })
      c.rules += f.lines[1] + f.lines[3]
      c.chains += f.lines[0] + f.lines[2]
      c.endpoints += seg.meta ? seg.meta.endpoints.total : f.sepChains
      let s = services.get(ns)
      if (!s) services.set(ns, (s = new Set()))
      s.add(svc)
      let p = ports.get(ns)
      if (!p) ports.set(ns, (p = new Set()))
      p.add(seg.key)
    }
  }
  for (const [ns, c] of Object.entries(out)) {
    c.services = services.get(ns)!.size
    c.servicePorts = ports.get(ns)!.size
  }
  return out
}

/**
 * Rules and bytes of the minimal `--noflush` restore from `a` to `b` — the same numbers as the
 * analysis engine's deltaSize (src/planner/analysis/minimal.ts; test/growth/stats-record.test.ts
 * checks they agree), counted line by line instead of building the restore text, and without
 * deltaSize's full-script byte count of `b` (the `_total` side, which the row already has as
 * scriptBytes). The lines counted follow minimal.ts's buildDelta, i.e. kube-proxy's partial
 * sync (KEP-3453): filter whole; nat fixed chains whole; changed/added service chains; stale
 * service chains flushed and deleted. Ingest runs this on every version, so it must stay cheap.
 */
const BUFFERS = ['filterChains', 'filterRules', 'natChains', 'natRules'] as const

function sameLines(x: Segment, y: Segment): boolean {
  if (x === y) return true
  for (const b of BUFFERS) if (x[b] !== y[b]) return false
  return true
}

/**
 * pairSegments' pairing (by segment key), deciding "unchanged" by the store's segment keys first:
 * equal keys mean equal content, so only segments whose keys differ (~churn) have their lines
 * compared — a key also covers Segment.meta, and a meta-only change leaves the rules as they are.
 */
function pairByKeys(a: FamilyPlan, b: FamilyPlan, keysA: readonly string[], keysB: readonly string[]) {
  return pairInPlace(a, b, keysA, keysB) ?? pairByMap(a, b, keysA, keysB)
}

/**
 * The common case at ingest: the same service ports in the same order (only endpoints or
 * settings changed), so segment i pairs with segment i — no index of keys to build. null when
 * the layouts differ.
 */
function pairInPlace(a: FamilyPlan, b: FamilyPlan, keysA: readonly string[], keysB: readonly string[]) {
  if (a.segments.length !== b.segments.length) return null
  const out = { changed: [] as Array<[number, number]>, added: [] as number[], removed: [] as number[] }
  for (let i = 0; i < b.segments.length; i++) {
    const x = a.segments[i]!
    const y = b.segments[i]!
    if (x === y) continue
    if (x.key !== y.key) return null
    if (keysA[i] !== keysB[i] && !sameLines(x, y)) out.changed.push([i, i])
  }
  return out
}

function pairByMap(a: FamilyPlan, b: FamilyPlan, keysA: readonly string[], keysB: readonly string[]) {
  const indexA = new Map<string, number>()
  a.segments.forEach((s, i) => indexA.set(s.key, i))
  const out = { changed: [] as Array<[number, number]>, added: [] as number[], removed: [] as number[] }
  const seen = new Set<number>()
  b.segments.forEach((s, j) => {
    const i = indexA.get(s.key)
    if (i === undefined) return void out.added.push(j)
    seen.add(i)
    if (keysA[i] !== keysB[j] && !sameLines(a.segments[i]!, s)) out.changed.push([i, j])
  })
  a.segments.forEach((_, i) => {
    if (!seen.has(i)) out.removed.push(i)
  })
  return out
}

/**
 * The per-segment facts (src/planner/analysis/stats.ts segmentStats) of every segment this process
 * has seen, by segment object: with the planner's `reuse`, consecutive versions share ~99% of
 * their segment objects, so planStats, the counts and the delta only scan the changed ones. A
 * WeakMap: an entry lives exactly as long as its segment.
 */
export const sharedMemo: StatsMemo = new WeakMap()

export function deltaCounts(
  a: FamilyPlan,
  b: FamilyPlan,
  keysA?: readonly string[],
  keysB?: readonly string[],
  memo: StatsMemo = sharedMemo,
): { rules: number; bytes: number } {
  const pairs = keysA && keysB ? pairByKeys(a, b, keysA, keysB) : pairSegments(a, b)
  const rewrite = new Set<number>([...pairs.added, ...pairs.changed.map(([, j]) => j)])
  b.segments.forEach((s, j) => {
    if (!s.service) rewrite.add(j)
  })
  const inB = new Set<string>()
  for (const j of rewrite) for (const c of chainLines(b.segments[j]!, 'nat')) inB.add(declaredName(c))
  let staleBytes = 0
  for (const i of [...pairs.removed, ...pairs.changed.map(([i]) => i)]) {
    for (const c of chainLines(a.segments[i]!, 'nat')) {
      const name = declaredName(c)
      if (isServiceChain(name) && !inB.has(name)) {
        // `:NAME - [0:0]` and `-X NAME`, each with its newline
        staleBytes += Buffer.byteLength(name) * 2 + ':'.length + ' - [0:0]'.length + '-X '.length + 2
      }
    }
  }
  let rules = 0
  let bytes = '*filter\nCOMMIT\n*nat\nCOMMIT\n'.length + staleBytes
  b.segments.forEach((s, j) => {
    const f = statsOf(s, memo)
    rules += f.appended.filter
    bytes += f.filterBytes
    if (rewrite.has(j)) {
      rules += f.appended.nat
      bytes += f.natBytes
    } else {
      rules += f.natFixed.rules
      bytes += f.natFixed.bytes
    }
  })
  return { rules, bytes }
}

function emptyFamily(family: FamilyPlan['family']): FamilyPlan {
  return { family, segments: [] }
}

function maxByType(all: PlanStats[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const s of all) for (const [t, n] of Object.entries(s.servicePortsByType)) out[t] = Math.max(out[t] ?? 0, n)
  return out
}

/**
 * Folds the per-family statistics into one row. Table sizes, script bytes and the delta add up
 * over families (the node holds both); what a single connection experiences (KUBE-SERVICES
 * length, rules to DNAT) is the worst family's, the average is the primary family's; endpoint
 * conditions come from Segment.meta, and without meta "ready" falls back to the KUBE-SEP chains
 * the plan wrote (the endpoints kube-proxy actually uses).
 */
/** Store segment keys per family, aligned with plan.families[i].segments (speeds up the delta). */
export type SegmentKeys = readonly (readonly string[])[]

export function computeVersionStats(plan: Plan, previous: Plan | null, keys?: { plan?: SegmentKeys; previous?: SegmentKeys }): ComputedStats {
  const fams = plan.families.map((fp) => planStats(fp, plan.counts, sharedMemo))
  const sum = (f: (s: PlanStats) => number) => fams.reduce((a, s) => a + f(s), 0)
  const max = (f: (s: PlanStats) => number) => fams.reduce((a, s) => Math.max(a, f(s)), 0)
  const withMeta = fams.filter((s) => s.endpoints)
  let deltaRules: number | null = null
  let deltaBytes: number | null = null
  if (previous) {
    deltaRules = 0
    deltaBytes = 0
    plan.families.forEach((fp, fi) => {
      const pi = previous.families.findIndex((p) => p.family === fp.family)
      const before = pi < 0 ? emptyFamily(fp.family) : previous.families[pi]!
      const d = deltaCounts(before, fp, pi < 0 ? [] : keys?.previous?.[pi], keys?.plan?.[fi])
      deltaRules! += d.rules
      deltaBytes! += d.bytes
    })
  }
  return {
    services: plan.counts.services,
    servicePorts: plan.counts.servicePorts,
    servicePortsByType: maxByType(fams),
    endpoints: plan.counts.endpoints,
    endpointsReady: withMeta.length ? withMeta.reduce((a, s) => a + s.endpoints!.ready, 0) : sum((s) => s.endpointChains),
    endpointsServing: withMeta.reduce((a, s) => a + s.endpoints!.serving, 0),
    endpointsTerminating: withMeta.reduce((a, s) => a + s.endpoints!.terminating, 0),
    natChains: sum((s) => s.tables.nat.chains),
    natRules: sum((s) => s.tables.nat.rules),
    filterChains: sum((s) => s.tables.filter.chains),
    filterRules: sum((s) => s.tables.filter.rules),
    scriptBytes: sum((s) => s.scriptBytes),
    kubeServicesRules: max((s) => s.kubeServicesRules),
    avgRulesToDnat: fams[0]?.traversal.average ?? 0,
    worstRulesToDnat: max((s) => s.traversal.worst),
    servicesWithoutEndpoints: max((s) => s.servicePortsWithoutEndpoints),
    deltaRules,
    deltaBytes,
    namespaces: namespaceCounts(plan),
    detail: { families: fams },
  }
}

export interface NewVersionFacts {
  clusterId: number
  /** The version just inserted (in the same transaction as `db`). */
  number: number
  /** Its plan (the one the caller just planned or reused). */
  plan: Plan
  /** The previous version's plan; omitted: loaded from the store (null for version 1). */
  previous?: Plan | null
  /** The store's segment keys of `plan` (ingest has them from planContent): a faster delta. */
  keys?: SegmentKeys
  /** The store's segment keys of `previous`, when the caller passes it. */
  previousKeys?: SegmentKeys
}

/**
 * The hook the version-creating paths (ingest, rollback, import) call right after inserting the
 * version row. Pass the transaction's client so the statistics commit or roll back with the
 * version itself. Cost: planStats (string scans) plus, for the delta, loading the previous plan.
 */
/**
 * The last plans this process recorded, by plan id (content-addressed, so an id always means the
 * same plan): the next version of the same cluster then finds its "previous" here instead of
 * loading 10k services' segments back from PostgreSQL. Two entries: enough for back-to-back
 * ingests of a cluster, small enough not to pin large plans in memory.
 */
const recentPlans = new Map<string, { plan: Plan; keys?: SegmentKeys }>()
const RECENT_PLANS = 2

function remember(planId: string, entry: { plan: Plan; keys?: SegmentKeys }): void {
  recentPlans.delete(planId)
  recentPlans.set(planId, entry)
  while (recentPlans.size > RECENT_PLANS) recentPlans.delete(recentPlans.keys().next().value!)
}

async function versionRow(db: Queryable, clusterId: number, number: number) {
  const { rows } = await db.query(
    `SELECT v.id, v.created_at, v.plan_id, pv.plan_id AS prev_plan_id FROM versions v
       LEFT JOIN versions pv ON pv.cluster_id = v.cluster_id AND pv.number = v.number - 1
      WHERE v.cluster_id = $1 AND v.number = $2`,
    [clusterId, number],
  )
  const row = rows[0]
  if (!row) throw new Error(`statistics: version ${number} of cluster id ${clusterId} not found`)
  return row as { id: string; created_at: Date; plan_id: string; prev_plan_id: string | null }
}

export async function recordVersionStats(db: Queryable, facts: NewVersionFacts): Promise<void> {
  const row = await versionRow(db, facts.clusterId, facts.number)
  let previous = facts.previous
  let previousKeys: SegmentKeys | undefined = facts.previousKeys
  if (previous === undefined && row.prev_plan_id === null) previous = null
  if (previous === undefined) {
    const prevId = Number(row.prev_plan_id)
    const cached =
      recentPlans.get(String(row.prev_plan_id)) ??
      (facts.keys ? await loadPlanForDelta(db as PgQueryable, prevId, facts.plan, facts.keys) : await loadPlan(db as PgQueryable, prevId))
    previous = cached.plan
    previousKeys = 'hashes' in cached ? cached.hashes : cached.keys
  }
  const stats = computeVersionStats(facts.plan, previous, { plan: facts.keys, previous: previousKeys })
  remember(String(row.plan_id), { plan: facts.plan, keys: facts.keys })
  await insertVersionStats(db, [{ versionId: String(row.id), clusterId: facts.clusterId, number: facts.number, createdAt: new Date(row.created_at), ...stats }])
}

/**
 * The statistics row of a new version whose statistics were computed elsewhere (the ingest
 * worker, ./ingest-prepare.ts); `stats` is told the previous version's plan id (null for none),
 * against which they must have been computed.
 */
export async function recordComputedStats(
  db: Queryable,
  clusterId: number,
  number: number,
  stats: (previousPlanId: number | null) => Promise<ComputedStats>,
): Promise<void> {
  const row = await versionRow(db, clusterId, number)
  const computed = await stats(row.prev_plan_id === null ? null : Number(row.prev_plan_id))
  await insertVersionStats(db, [{ versionId: String(row.id), clusterId, number, createdAt: new Date(row.created_at), ...computed }])
}

/**
 * Writes the missing statistics rows of a cluster (or of every cluster) from the stored plans —
 * loading plans, never re-planning. A safety net for versions created before the statistics
 * table existed or by a path that does not call recordVersionStats; returns how many it wrote.
 */
export async function backfillVersionStats(
  db: Queryable,
  getPlan: (cluster: string, version: number) => Promise<Plan>,
  opts: { clusterId?: number; limit?: number } = {},
): Promise<number> {
  const q = db
  const missing = await versionsWithoutStats(q, opts)
  const cache = new Map<string, Plan>()
  const load = async (cluster: string, version: number) => {
    const key = `${cluster}\u0000${version}`
    let p = cache.get(key)
    if (!p) cache.set(key, (p = await getPlan(cluster, version)))
    return p
  }
  const records: VersionStatsRecord[] = []
  for (const v of missing) {
    const plan = await load(v.cluster, v.number)
    const previous = v.number > 1 ? await load(v.cluster, v.number - 1) : null
    records.push({ versionId: v.versionId, clusterId: v.clusterId, number: v.number, createdAt: v.createdAt, ...computeVersionStats(plan, previous) })
  }
  await insertVersionStats(q, records)
  return records.length
}
