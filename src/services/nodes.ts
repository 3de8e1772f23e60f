/**
 * The nodes of a version: every node's plan, planned from the stored snapshot when first asked
 * for (planner/plan.ts planCluster: the nodes share what they have in common) and kept for the
 * versions read most recently. The version's own plan (the stored one) is one node's; the others
 * are not stored, as the snapshot determines them.
 */
import type pg from 'pg'
import { LRUCache } from 'lru-cache'
import { renderRestoreBytes, variantPlan, type ClusterPlan, type FamilyPlan, type Plan, type RenderOptions } from '../planner/index.js'
import { BadRequestError, NotFoundError } from '../errors.js'
import { loadPlan } from '../store/plans.js'
import { loadSnapshot } from '../store/snapshots.js'
import type { VersionRow } from '../store/versions.js'
import type { VariantSummary } from '../planner/analysis/index.js'
import type { NodeList, NodeSummary } from './contract.js'
import { outlineOf, planStoredSync, type NodesOutline } from './content.js'

/** The one-node views of a version of many nodes that names none must be told which. */
export function assertOneNode(row: VersionRow, cluster: string): void {
  const n = row.summary.counts.nodes
  if (!n || n.defaultNode !== null || n.count <= 1) return
  const base = `/v1/clusters/${encodeURIComponent(cluster)}/versions/${row.summary.version}/nodes`
  throw new BadRequestError(
    `version ${row.summary.version} of ${cluster} plans ${n.count} nodes and its settings name none (proxy.nodeName): choose a node under ${base}/{node}/, or list them at ${base}`,
    [{ pointer: '/node', detail: `one of the version's ${n.count} nodes (${base})` }],
  )
}

export function renderFamily(fp: FamilyPlan, query: Required<Pick<RenderOptions, 'table' | 'flavour'>>): Buffer {
  return renderRestoreBytes(fp, query)
}

/** Every node's plan of a stored snapshot (objects as canonical JSON), with each variant's summary. */
export type StoredPlanner = (cluster: string, proxy: unknown, items: string[]) => Promise<{ cp: ClusterPlan; summaries: VariantSummary[] }>

const planStored: StoredPlanner = async (_cluster, proxy, items) => planStoredSync(proxy, items)

/** A stored snapshot's nodes, planned: every node's plan, and each variant's digest and counts. */
interface Planned {
  cp: ClusterPlan
  summaries: VariantSummary[]
}

/** Versions whose nodes are kept planned (by snapshot: versions of one snapshot share them). */
const KEPT = 4

export class VersionNodes {
  private readonly planned = new LRUCache<string, Promise<Planned>>({ max: KEPT })
  /** What ingest's worker told of the nodes of a snapshot it planned, without their plans. */
  private readonly outlines = new LRUCache<string, NodesOutline>({ max: KEPT * 4 })

  /** `planner`: plans a stored snapshot's nodes (the ingest worker's, ./ingest-workers.ts; by default here). */
  constructor(
    private readonly pool: pg.Pool,
    private readonly planner: StoredPlanner = planStored,
  ) {}

  /** A snapshot's nodes just planned (by ingest): its list is answered without planning again. */
  remember(snapshotSha256: string, outline: NodesOutline): void {
    this.outlines.set(snapshotSha256, outline)
  }

  private plannedOf(row: VersionRow, cluster: string): Promise<Planned> {
    const key = row.summary.snapshotSha256
    let p = this.planned.get(key)
    if (!p) {
      p = (async () => {
        const snap = await loadSnapshot(this.pool, row.snapshotId)
        return this.planner(cluster, snap.proxy, snap.items)
      })()
      p.catch(() => this.planned.delete(key))
      this.planned.set(key, p)
    }
    return p
  }

  private summary(summaries: readonly VariantSummary[], name: string, v: number): NodeSummary {
    const { digest, families, scriptBytes } = summaries[v]!
    return { name, variant: v, planSha256: digest, counts: { families, scriptBytes } }
  }

  async list(row: VersionRow, cluster: string): Promise<NodeList> {
    const o = this.outlines.get(row.summary.snapshotSha256) ?? outlineOf(await this.plannedOf(row, cluster))
    return {
      cluster,
      version: row.summary.version,
      defaultNode: o.defaultNode,
      defaulted: o.defaulted,
      variants: o.variants,
      items: o.nodes.map((n) => this.summary(o.summaries, n.name, n.variant)),
    }
  }

  /** A node's plan, or without a name the version's own (stored) plan where it has one node. */
  async planOf(row: VersionRow, cluster: string, name: string | undefined): Promise<Plan> {
    if (name !== undefined) return (await this.node(row, cluster, name)).plan
    assertOneNode(row, cluster)
    return (await loadPlan(this.pool, row.planId)).plan
  }

  async node(row: VersionRow, cluster: string, name: string): Promise<{ plan: Plan; summary: NodeSummary }> {
    // Every node of a one-variant version has the version's own plan: the stored one, unplanned.
    const o = this.outlines.get(row.summary.snapshotSha256)
    const on = o?.variants === 1 ? o.nodes.find((x) => x.name === name) : undefined
    if (o && on) return { plan: (await loadPlan(this.pool, row.planId)).plan, summary: this.summary(o.summaries, name, on.variant) }
    const pl = await this.plannedOf(row, cluster)
    const n = pl.cp.nodes.find((x) => x.name === name)
    if (!n) throw new NotFoundError(`version ${row.summary.version} of ${cluster} has no node ${name}`)
    return { plan: variantPlan(pl.cp, n.variant), summary: this.summary(pl.summaries, name, n.variant) }
  }
}
