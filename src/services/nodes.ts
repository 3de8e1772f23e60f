/**
 * The nodes of a version: every node's plan, planned from the stored snapshot when first asked
 * for (planner/plan.ts planCluster: the nodes share what they have in common) and kept for the
 * versions read most recently. The version's own plan (the stored one) is one node's; the others
 * are not stored, as the snapshot determines them.
 */
import { createHash } from 'node:crypto'
import type pg from 'pg'
import { LRUCache } from 'lru-cache'
import { planCluster, renderRestoreChunks, variantPlan, type ClusterPlan, type Envelope, type FamilyPlan, type Plan, type RenderOptions } from '../planner/index.js'
import { NotFoundError } from '../errors.js'
import { loadSnapshot } from '../store/snapshots.js'
import type { VersionRow } from '../store/versions.js'
import { versionCounts } from './content.js'
import type { NodeList, NodeSummary } from './contract.js'

export function renderFamily(fp: FamilyPlan, query: Required<Pick<RenderOptions, 'table' | 'flavour'>>): Buffer {
  const chunks: Buffer[] = []
  for (const chunk of renderRestoreChunks(fp, query)) chunks.push(Buffer.from(chunk))
  return Buffer.concat(chunks)
}

interface Planned {
  cp: ClusterPlan
  /** Per variant, its summary without the node's name (computed when first listed). */
  variants: Map<number, { plan: Plan; planSha256: string; counts: NodeSummary['counts'] }>
}

/** Versions whose nodes are kept planned (by snapshot: versions of one snapshot share them). */
const KEPT = 4

export class VersionNodes {
  private readonly planned = new LRUCache<string, Promise<Planned>>({ max: KEPT })

  constructor(private readonly pool: pg.Pool) {}

  private plannedOf(row: VersionRow): Promise<Planned> {
    const key = row.summary.snapshotSha256
    let p = this.planned.get(key)
    if (!p) {
      p = (async () => {
        const snap = await loadSnapshot(this.pool, row.snapshotId)
        // Stored snapshots were validated when they came in (and are checked when read, ./servable.ts).
        const env = { proxy: snap.proxy, resources: { apiVersion: 'v1', kind: 'List', items: snap.items.map((b) => JSON.parse(b) as Record<string, unknown>) } } as unknown as Envelope
        return { cp: planCluster(env), variants: new Map() }
      })()
      p.catch(() => this.planned.delete(key))
      this.planned.set(key, p)
    }
    return p
  }

  private variant(pl: Planned, v: number): { plan: Plan; planSha256: string; counts: NodeSummary['counts'] } {
    let out = pl.variants.get(v)
    if (!out) {
      const plan = variantPlan(pl.cp, v)
      const h = createHash('sha256')
      for (const fp of plan.families) for (const chunk of renderRestoreChunks(fp)) h.update(chunk)
      const { families, scriptBytes } = versionCounts(plan)
      pl.variants.set(v, (out = { plan, planSha256: h.digest('hex'), counts: { families, scriptBytes } }))
    }
    return out
  }

  async list(row: VersionRow, cluster: string): Promise<NodeList> {
    const pl = await this.plannedOf(row)
    return {
      cluster,
      version: row.summary.version,
      defaultNode: pl.cp.defaultNode,
      defaulted: pl.cp.defaulted,
      variants: pl.cp.variants.length,
      items: pl.cp.nodes.map((n) => {
        const { planSha256, counts } = this.variant(pl, n.variant)
        return { name: n.name, variant: n.variant, planSha256, counts }
      }),
    }
  }

  async node(row: VersionRow, cluster: string, name: string): Promise<{ plan: Plan; summary: NodeSummary }> {
    const pl = await this.plannedOf(row)
    const n = pl.cp.nodes.find((x) => x.name === name)
    if (!n) throw new NotFoundError(`version ${row.summary.version} of ${cluster} has no node ${name}`)
    const v = this.variant(pl, n.variant)
    return { plan: v.plan, summary: { name, variant: n.variant, planSha256: v.planSha256, counts: v.counts } }
  }
}
