/**
 * Diffs between stored versions.
 *
 * The JSON diff never renders or loads whole plans: a plan is stored as a manifest of segment
 * ids, and a segment id IS its content hash (segments are content-addressed, one row per
 * sha256). So the segments two versions share are found by comparing id lists, and only the
 * changed/added/removed segments are read from PostgreSQL — a 10k-service version with 1%
 * churn loads ~200 segments, not 20 MB of rules (the model of kpng's diffstore, kubernetes-sigs/kpng).
 *
 * The unified and restore formats need whole scripts (the minimal restore rewrites every
 * service's KUBE-SERVICES rules, as kube-proxy's partial sync does), so they load both plans.
 */
import type pg from 'pg'
import { diffPlans, minimalRestore, unifiedDiff, type DiffSummary, type PlanDiff } from '../planner/analysis/index.js'
import type { Family, FamilyPlan, Plan } from '../planner/types.js'
import type { VersionNodes } from './nodes.js'
import { NotFoundError } from '../errors.js'
import { decodeIds } from '../store/manifest.js'
import { loadSegments } from '../store/content.js'
import { loadPlan } from '../store/plans.js'
import type { VersionRow } from '../store/versions.js'
import { requireServableVersion, requireVersion } from './history-db.js'
import { assertServable } from './servable.js'
import type { DiffQuery, JsonDiff, TextDiff } from './history-types.js'

interface Layout {
  family: Family
  ids: number[]
}

function splitLayout(layout: Array<{ family: Family; segments: number }>, manifest: Buffer): Layout[] {
  const ids = decodeIds(manifest)
  let offset = 0
  return layout.map((l) => {
    const slice = ids.slice(offset, offset + l.segments)
    offset += l.segments
    return { family: l.family, ids: slice }
  })
}

const emptySummary = (): DiffSummary => ({
  servicesAdded: 0,
  servicesRemoved: 0,
  servicesChanged: 0,
  servicePortsAdded: 0,
  servicePortsRemoved: 0,
  servicePortsChanged: 0,
  chainsAdded: 0,
  chainsRemoved: 0,
  chainsChanged: 0,
  rulesAdded: 0,
  rulesRemoved: 0,
  unchangedSegments: 0,
})

/** Families of `to` in order, then those only `from` has (their removal is a change too). */
function familyPairs(a: Layout[], b: Layout[]): Array<{ family: Family; a: number[]; b: number[] }> {
  const fams: Family[] = [...b.map((l) => l.family), ...a.map((l) => l.family).filter((f) => !b.some((l) => l.family === f))]
  return fams.map((family) => ({
    family,
    a: a.find((l) => l.family === family)?.ids ?? [],
    b: b.find((l) => l.family === family)?.ids ?? [],
  }))
}

async function diffFamily(db: pg.Pool, family: Family, idsA: number[], idsB: number[]): Promise<PlanDiff> {
  const inA = new Set(idsA)
  const inB = new Set(idsB)
  const onlyA = idsA.filter((id) => !inB.has(id))
  const onlyB = idsB.filter((id) => !inA.has(id))
  const loaded = await loadSegments(db, [...onlyA, ...onlyB])
  const la = loaded.slice(0, onlyA.length)
  const lb = loaded.slice(onlyA.length)
  // Only the differing segments go to diffPlans: it pairs them by key, so a key on both sides
  // is a changed service port, on one side only an added/removed one — the same answer as
  // diffing the whole plans, without reading the unchanged 99%.
  const a: FamilyPlan = { family, segments: la.map((l) => l.segment) }
  const b: FamilyPlan = { family, segments: lb.map((l) => l.segment) }
  // No stored hashes passed: a stored segment id also covers Segment.meta (statistics only), so
  // ids can differ where the rules do not; diffPlans hashes just the rule buffers of these few.
  const d = diffPlans(a, b)
  d.summary.unchangedSegments = idsB.length - onlyB.length
  return d
}

function addSummaries(s: DiffSummary[]): DiffSummary {
  const total = emptySummary()
  for (const x of s) for (const k of Object.keys(total) as Array<keyof DiffSummary>) total[k] += x[k]
  return total
}

async function versionPair(db: pg.Pool, cluster: string, q: DiffQuery): Promise<[VersionRow, VersionRow]> {
  return Promise.all([requireServableVersion(db, db, cluster, q.from), requireServableVersion(db, db, cluster, q.to)])
}

interface DiffEnd {
  number: number
  planId: number
  layout: Layout[]
}

/** Both versions with their plan manifests in ONE round trip (`latest` resolved in SQL). */
async function diffEnds(db: pg.Pool, cluster: string, q: DiffQuery): Promise<[DiffEnd, DiffEnd]> {
  const num = (r: DiffQuery['from']) => (r === 'latest' ? null : r)
  const res = await db.query<{
    number: number
    plan_id: string
    snapshot_id: string
    layout: Array<{ family: Family; segments: number }>
    manifest: Buffer
    last: number
  }>(
    `SELECT v.number, v.plan_id, v.snapshot_id, p.layout, p.manifest, c.last_version AS last
     FROM clusters c JOIN versions v ON v.cluster_id = c.id JOIN plans p ON p.id = v.plan_id
     WHERE c.name = $1 AND v.number IN (COALESCE($2::int, c.last_version), COALESCE($3::int, c.last_version))`,
    [cluster, num(q.from), num(q.to)],
  )
  const pick = async (ref: DiffQuery['from']): Promise<DiffEnd> => {
    const row = res.rows.find((r) => r.number === (ref === 'latest' ? r.last : ref))
    if (!row) {
      await requireVersion(db, cluster, ref) // throws the right 404
      throw new Error('version vanished')
    }
    await assertServable(db, db, { cluster, version: row.number, planId: Number(row.plan_id), snapshotId: Number(row.snapshot_id) })
    return { number: row.number, planId: Number(row.plan_id), layout: splitLayout(row.layout, row.manifest) }
  }
  return [await pick(q.from), await pick(q.to)]
}

/** A diff that names a node, or whose versions plan many nodes: the nodes' plans, in memory. */
const byNode = (q: DiffQuery): boolean => q.fromNode !== undefined || q.toNode !== undefined

async function nodePlans(db: pg.Pool, nodes: VersionNodes, cluster: string, q: DiffQuery): Promise<{ from: VersionRow; to: VersionRow; a: Plan; b: Plan }> {
  const [from, to] = await versionPair(db, cluster, q)
  const [a, b] = await Promise.all([nodes.planOf(from, cluster, q.fromNode), nodes.planOf(to, cluster, q.toNode)])
  return { from, to, a, b }
}

const manyNodes = (row: VersionRow): boolean => (row.summary.counts.nodes?.count ?? 1) > 1 && row.summary.counts.nodes?.defaultNode === null

export async function diffJson(db: pg.Pool, cluster: string, q: DiffQuery, nodes?: VersionNodes): Promise<JsonDiff> {
  if (nodes && (byNode(q) || (await versionPair(db, cluster, q)).some(manyNodes))) {
    const { from, to, a, b } = await nodePlans(db, nodes, cluster, q)
    const fams: Family[] = [...b.families.map((f) => f.family), ...a.families.map((f) => f.family).filter((f) => !b.families.some((x) => x.family === f))]
    const empty = (family: Family): FamilyPlan => ({ family, segments: [] })
    const families = fams.map((f) => diffPlans(a.families.find((x) => x.family === f) ?? empty(f), b.families.find((x) => x.family === f) ?? empty(f)))
    const summary = addSummaries(families.map((f) => f.summary))
    const changed = Object.entries(summary).some(([k, n]) => k !== 'unchangedSegments' && n !== 0)
    return {
      cluster,
      from: from.summary.version,
      to: to.summary.version,
      identical: !changed,
      ...(q.fromNode !== undefined && { fromNode: q.fromNode }),
      ...(q.toNode !== undefined && { toNode: q.toNode }),
      summary,
      families,
    }
  }
  const [from, to] = await diffEnds(db, cluster, q)
  const families: PlanDiff[] = []
  for (const p of familyPairs(from.layout, to.layout)) families.push(await diffFamily(db, p.family, p.a, p.b))
  return {
    cluster,
    from: from.number,
    to: to.number,
    identical: from.planId === to.planId,
    summary: addSummaries(families.map((f) => f.summary)),
    families,
  }
}

/** Both plans for one family; `from` may lack it (a fresh node), `to` must have it. */
async function familyPlans(
  db: pg.Pool,
  cluster: string,
  q: DiffQuery,
  nodes?: VersionNodes,
): Promise<{ from: VersionRow; to: VersionRow; a: FamilyPlan; b: FamilyPlan; ha?: string[]; hb?: string[] }> {
  if (nodes && (byNode(q) || (await versionPair(db, cluster, q)).some(manyNodes))) {
    const { from, to, a, b } = await nodePlans(db, nodes, cluster, q)
    const family = q.family ?? b.families[0]?.family ?? 'IPv4'
    const fb = b.families.find((f) => f.family === family)
    if (!fb) throw new NotFoundError(`version ${to.summary.version} of cluster "${cluster}" has no ${family} plan${q.toNode ? ` for node ${q.toNode}` : ''}`)
    return { from, to, a: a.families.find((f) => f.family === family) ?? { family, segments: [] }, b: fb }
  }
  const [from, to] = await versionPair(db, cluster, q)
  const [pa, pb] = await Promise.all([loadPlan(db, from.planId), loadPlan(db, to.planId)])
  const family = q.family ?? pb.plan.families[0]?.family ?? 'IPv4'
  const ib = pb.plan.families.findIndex((f) => f.family === family)
  if (ib < 0) throw new NotFoundError(`version ${to.summary.version} of cluster "${cluster}" has no ${family} plan`)
  const ia = pa.plan.families.findIndex((f) => f.family === family)
  return {
    from,
    to,
    a: ia >= 0 ? pa.plan.families[ia]! : { family, segments: [] },
    b: pb.plan.families[ib]!,
    ha: ia >= 0 ? pa.hashes[ia]! : [],
    hb: pb.hashes[ib]!,
  }
}

export async function diffRestore(db: pg.Pool, cluster: string, q: DiffQuery, nodes?: VersionNodes): Promise<TextDiff> {
  const p = await familyPlans(db, cluster, q, nodes)
  const text = minimalRestore(p.a, p.b, { hashesA: p.ha, hashesB: p.hb })
  return { cluster, from: p.from.summary.version, to: p.to.summary.version, family: p.b.family, text }
}

/** Unified diff of the normalised scripts (sorted as upstream compares): the analysis unifiedDiff. */
export async function diffUnified(db: pg.Pool, cluster: string, q: DiffQuery, nodes?: VersionNodes): Promise<TextDiff> {
  const p = await familyPlans(db, cluster, q, nodes)
  const from = p.from.summary.version
  const to = p.to.summary.version
  const text =
    p.from.planId === p.to.planId && !byNode(q) && !manyNodes(p.from)
      ? ''
      : unifiedDiff(p.a, p.b, { fromLabel: `v${from}/restore.rules`, toLabel: `v${to}/restore.rules` })
  return { cluster, from, to, family: p.b.family, text }
}
