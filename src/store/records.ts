/**
 * The records the store reads and writes that the use-cases hand on as they are: a version's
 * summary and counts, a cluster's summary, history events, backups, drift checks. Types (and the
 * names of history events); src/services/contract.ts re-exports them
 * for the API, so the store never imports from the layers above it.
 */
import type { Family, PlanWarning, TableName } from '../planner/types.js'
import type { DriftReport } from '../planner/analysis/drift.js'

/** Who did it: the token name, or 'anonymous' when the server runs without tokens. */
export type Actor = string

export interface TableCounts {
  chains: number
  rules: number
}

export interface VersionCounts {
  services: number
  servicePorts: number
  endpoints: number
  ignoredObjects: number
  /** Per family present in the plan. */
  families: Partial<Record<Family, Record<TableName, TableCounts>>>
  /** Bytes of the kube-proxy-flavour restore script(s), all tables, all families. */
  scriptBytes: number
  /**
   * The nodes the snapshot plans (absent on versions stored before natplan planned every node).
   * The other counts are those of the version's plan: `defaultNode`'s, else the first node's.
   */
  nodes?: {
    count: number
    /** Distinct plans among the nodes (nodes with byte-identical plans share one). */
    variants: number
    /** The node the one-node views answer for; null when the snapshot has many and names none. */
    defaultNode: string | null
    /** Settings no source gave, planned with kube-proxy's defaults. */
    defaulted: string[]
  }
}

export type VersionKind = 'snapshot' | 'rollback' | 'import'

export interface VersionSummary {
  cluster: string
  version: number
  kind: VersionKind
  createdAt: string // ISO 8601
  actor: Actor
  reason: string | null
  /** For a rollback: the version whose content this one reuses. */
  sourceVersion: number | null
  /** sha256 (hex) of the canonical snapshot, and of the plan (the ETag base). */
  snapshotSha256: string
  planSha256: string
  counts: VersionCounts
  warnings: PlanWarning[]
}

export interface ClusterSummary {
  name: string
  createdAt: string
  latestVersion: number | null
  versions: number
}

/** Each cluster's latest version for /metrics: when it was stored, its sizes, and each node's. */
export interface LatestGaugeRow {
  cluster: string
  version: number
  createdAt: Date
  scriptBytes: number
  /** Rules of the version's node in KUBE-SERVICES (null before statistics were recorded). */
  kubeServices: number | null
  /** Lines of the version's restore script(s), all tables and families (see scriptLines). */
  scriptLines: number
  nodes: Array<{ node: string; kubeServices: number; scriptBytes: number; scriptLines: number; natRules: number; filterRules: number }>
}

/**
 * Lines of a restore script from its counts: every line is a chain declaration or a rule, but
 * for `*table` and `COMMIT` around each table of each family (planner/render.ts renderRestore).
 */
export function scriptLines(tables: ReadonlyArray<{ chains: number; rules: number }>): number {
  let lines = 0
  for (const t of tables) lines += 2 + t.chains + t.rules
  return lines
}

/** A backup archive's row (store/backups.ts). */
export interface BackupMeta extends NewBackup {
  createdAt: string
  sha256: string
  bytes: number
  manifest: unknown
}

export interface NewBackup {
  id: string
  cluster: string
  fromVersion: number
  toVersion: number
  versions: number
  note: string | null
  actor: string
}

/** What the history records (store/history.ts): one row per event. */
export const HISTORY_EVENT_TYPES = ['snapshot.ingested', 'snapshot.duplicate', 'rollback', 'backup.created', 'backup.imported', 'versions.pruned'] as const
export type HistoryEventType = (typeof HISTORY_EVENT_TYPES)[number]

export interface HistoryEventRow {
  id: number
  cluster: string
  type: HistoryEventType
  createdAt: string
  actor: string
  reason: string | null
  version: number | null
  fromVersion: number | null
  toVersion: number | null
  backupId: string | null
  details: Record<string, unknown>
}

/** The last drift check of a node and family (store/drift-checks.ts). */
export type DriftSummary = DriftReport['summary']

export interface DriftCheckRow {
  cluster: string
  node: string
  family: string
  version: number
  checkedAt: Date
  inSync: boolean
  summary: DriftSummary
}

/** Per-namespace breakdown stored with each version (for growth by namespace and top growers). */
export interface NamespaceCounts {
  services: number
  servicePorts: number
  endpoints: number
  chains: number
  rules: number
}

/** Per-node statistics across versions (store/node-stats.ts). */
export interface NodeSpreadPoint {
  version: number
  createdAt: Date
  nodes: number
  variants: number
  natRules: { min: number; max: number }
  kubeServices: { min: number; max: number }
  scriptBytes: { min: number; max: number }
}

export interface NodePoint {
  version: number
  createdAt: Date
  variant: number
  natChains: number
  natRules: number
  filterChains: number
  filterRules: number
  kubeServices: number
  scriptBytes: number
}
