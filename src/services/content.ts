/**
 * From planner values to storable content: canonical snapshot (objects by sha256 of canonical
 * JSON), plan segments keyed by the planner's segmentHash, the plan's own hash, and the counts
 * precomputed for listings, growth statistics and /metrics.
 */
import { nodePlan, PlanInputError, planCluster, segmentHash, UnsafeWordError, type ClusterPlan, type Envelope, type PlanOptions } from '../planner/index.js'
import { ValidationError } from '../errors.js'
import { segmentLines, type Plan, type Segment, type TableName } from '../planner/types.js'
import { canonicalJson, planSha256, sha256Hex, snapshotSha256 } from '../store/canonical.js'
import { storageKey, type SegmentRow } from '../store/content.js'
import type { NodeStatsRow } from '../store/node-stats.js'
import { variantSummaries, type VariantSummary } from '../planner/analysis/index.js'
import { sharedMemo } from './stats-record.js'
import type { PlanInput } from '../store/plans.js'
import type { SnapshotInput } from '../store/snapshots.js'
import type { VersionCounts } from './contract.js'

/**
 * The items' canonical order — by kind, namespace, name, then as sent (objects the API server
 * cannot hold twice keep their order) — as a permutation, or null when they are in it already.
 */
export function canonicalOrder(items: ReadonlyArray<{ kind: string; metadata?: unknown }>): number[] | null {
  const keys = items.map((o) => {
    const m = o.metadata as { namespace?: unknown; name?: unknown } | undefined
    return `${o.kind}\u0000${typeof m?.namespace === 'string' ? m.namespace : ''}\u0000${typeof m?.name === 'string' ? m.name : ''}`
  })
  let sorted = true
  for (let i = 1; i < keys.length && sorted; i++) if (keys[i - 1]! > keys[i]!) sorted = false
  if (sorted) return null
  return keys.map((_, i) => i).sort((a, b) => (keys[a]! < keys[b]! ? -1 : keys[a]! > keys[b]! ? 1 : a - b))
}

/** The envelope as it is stored: its items in their canonical order (canonicalOrder). */
export function canonicalEnvelope(envelope: Envelope): Envelope {
  const order = canonicalOrder(envelope.resources.items)
  return order ? { ...envelope, resources: { ...envelope.resources, items: order.map((i) => envelope.resources.items[i]!) } } : envelope
}

/** The snapshot's storable form: canonical objects and the snapshot's identity. */
export function canonicalSnapshot(envelope: Envelope): SnapshotInput {
  const proxyJson = canonicalJson(envelope.proxy)
  const objects = envelope.resources.items.map((item) => {
    const body = canonicalJson(item)
    return { sha256: sha256Hex(body), body }
  })
  return { sha256: snapshotSha256(proxyJson, objects), proxyJson, objects }
}

/** A version's plans: every node's, and the one the version stores and counts. */
export interface VersionPlans {
  cluster: ClusterPlan
  /**
   * The version's plan: its default node's (named in the settings, or the only node), else the
   * first node's by name. Growth statistics and the version's counts are this node's.
   */
  plan: Plan
  /** The node `plan` is. */
  node: string
}

/**
 * planCluster(), with a word the rule writers refuse (src/planner/iptables/words.ts) or settings
 * that contradict each other reported as the client's mistake — a 400 pointing at the field —
 * rather than a failure of natplan's. Validation refuses such input first; this keeps it so
 * whatever path an envelope came by.
 */
export function planOrReject(envelope: Envelope, opts?: PlanOptions): VersionPlans {
  try {
    const cluster = planCluster(envelope, opts)
    const node = cluster.defaultNode ?? cluster.nodes[0]!.name
    return { cluster, plan: nodePlan(cluster, node)!, node }
  } catch (err) {
    if (err instanceof PlanInputError) throw new ValidationError('The snapshot is not valid.', err.issues)
    if (!(err instanceof UnsafeWordError)) throw err
    throw new ValidationError('The snapshot is not valid.', [{ pointer: err.pointer ?? '', detail: err.message }])
  }
}

/** Each node's row of node_stats (store/node-stats.ts), from its variant's summary. */
export function nodeStatsRows(cp: ClusterPlan, summaries: readonly VariantSummary[]): NodeStatsRow[] {
  return cp.nodes.map((n) => {
    const s = summaries[n.variant]!
    const t = { natChains: 0, natRules: 0, filterChains: 0, filterRules: 0 }
    for (const f of Object.values(s.families)) {
      t.natChains += f!.nat.chains
      t.natRules += f!.nat.rules
      t.filterChains += f!.filter.chains
      t.filterRules += f!.filter.rules
    }
    return { node: n.name, variant: n.variant, ...t, kubeServices: s.kubeServices, scriptBytes: s.scriptBytes }
  })
}

/** What the version's counts say of its nodes. */
export function nodeCounts(cp: ClusterPlan): NonNullable<VersionCounts['nodes']> {
  return { count: cp.nodes.length, variants: cp.variants.length, defaultNode: cp.defaultNode, defaulted: cp.defaulted }
}

export function planContent(plan: Plan): PlanInput {
  const families = plan.families.map((fp) => ({
    family: fp.family,
    segments: fp.segments.map((segment): SegmentRow => ({ sha256: storageKey(segmentHash(segment), segment.meta), segment })),
  }))
  return { sha256: planSha256(families, plan.warnings, plan.counts), families, warnings: plan.warnings, counts: plan.counts }
}

function countTable(segments: Segment[], table: TableName): { chains: number; rules: number } {
  const chainBuf = table === 'filter' ? 'filterChains' : 'natChains'
  const ruleBuf = table === 'filter' ? 'filterRules' : 'natRules'
  let chains = 0
  let rules = 0
  for (const s of segments) {
    for (const l of segmentLines(s, chainBuf)) if (l.startsWith(':')) chains++
    // kube-proxy's sync_proxy_rules_iptables_total counts the -A lines it writes.
    for (const l of segmentLines(s, ruleBuf)) if (l.startsWith('-A ')) rules++
  }
  return { chains, rules }
}

/**
 * Bytes of the kube-proxy-flavour restore script, all tables, without rendering it: every
 * buffer line plus its newline, and per table `*filter`/`*nat` and `COMMIT` (the layout of
 * renderRestoreChunks; test/services/spine.test.ts checks the two agree).
 */
function scriptBytesOf(segments: Segment[]): number {
  let n = '*filter\nCOMMIT\n*nat\nCOMMIT\n'.length
  for (const s of segments) {
    for (const buf of [s.filterChains, s.filterRules, s.natChains, s.natRules]) n += Buffer.byteLength(buf)
  }
  return n
}

export function versionCounts(plan: Plan, cluster?: ClusterPlan): VersionCounts {
  const families: VersionCounts['families'] = {}
  let scriptBytes = 0
  for (const fp of plan.families) {
    families[fp.family] = { filter: countTable(fp.segments, 'filter'), nat: countTable(fp.segments, 'nat') }
    scriptBytes += scriptBytesOf(fp.segments)
  }
  return {
    services: plan.counts.services,
    servicePorts: plan.counts.servicePorts,
    endpoints: plan.counts.endpoints,
    ignoredObjects: plan.counts.ignoredObjects,
    families,
    scriptBytes,
    ...(cluster && { nodes: nodeCounts(cluster) }),
  }
}

/** A stored snapshot's nodes, planned (stored snapshots were validated when they came in, and are checked when read, ./servable.ts). */
export function planStoredSync(proxy: unknown, items: readonly string[]): { cp: ClusterPlan; summaries: VariantSummary[] } {
  const env = {
    proxy,
    resources: { apiVersion: 'v1', kind: 'List', items: items.map((b) => JSON.parse(b) as Record<string, unknown>) },
  } as unknown as Envelope
  const cp = planCluster(env, { stats: sharedMemo })
  return { cp, summaries: variantSummaries(cp, sharedMemo) }
}

/** What the node views need of a version's nodes, without their plans (./nodes.ts). */
export interface NodesOutline {
  nodes: Array<{ name: string; variant: number }>
  variants: number
  defaultNode: string | null
  defaulted: string[]
  summaries: VariantSummary[]
}

export function outlineOf({ cp, summaries }: { cp: ClusterPlan; summaries: VariantSummary[] }): NodesOutline {
  return {
    nodes: cp.nodes.map((n) => ({ name: n.name, variant: n.variant })),
    variants: cp.variants.length,
    defaultNode: cp.defaultNode,
    defaulted: cp.defaulted,
    summaries,
  }
}
