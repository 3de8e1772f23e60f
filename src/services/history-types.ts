/**
 * The history use-cases' contract: diffs between stored versions, rollbacks, the
 * event history, backups and retention. Implemented by createHistoryServices (history.ts);
 * shared by the REST routes under src/api/rest/history and the GraphQL resolvers.
 */
import type { Family } from '../planner/types.js'
import type { DiffSummary, PlanDiff } from '../planner/analysis/index.js'
import type { BackupMeta, HistoryEventRow, HistoryEventType } from '../store/records.js'
import type { Readable } from 'node:stream'
import type { Actor, Page, VersionRef, VersionSummary } from './contract.js'

export type DiffFormat = 'json' | 'unified' | 'restore'

export interface DiffQuery {
  from: VersionRef
  to: VersionRef
  /** unified/restore: which family's script; default the first family of `to`. */
  family?: Family
  /**
   * Which node of each version (default: the version's node; a version of many nodes that names
   * none needs one). Two nodes of one version: from = to, fromNode ≠ toNode.
   */
  fromNode?: string
  toNode?: string
}

export interface JsonDiff {
  cluster: string
  from: number
  to: number
  /** True when both versions have the same plan (nothing to apply). */
  identical: boolean
  /** The nodes compared, when the query named any. */
  fromNode?: string
  toNode?: string
  /** Summed over families. */
  summary: DiffSummary
  families: PlanDiff[]
}

export interface TextDiff {
  cluster: string
  from: number
  to: number
  family: Family
  text: string
}

export interface RollbackInput {
  cluster: string
  toVersion: number
  reason: string
  actor: Actor
}

export interface RollbackResult {
  version: VersionSummary
  /** The version this one replaced as latest. */
  replaced: number
}

export interface HistoryQuery {
  types?: HistoryEventType[]
  since?: string
  until?: string
  /** 1..500, default 50 */
  limit?: number
  cursor?: string
}

export type HistoryEvent = Omit<HistoryEventRow, 'id'> & { id: string }

export interface BackupInput {
  cluster: string
  fromVersion?: number
  toVersion?: number
  note?: string
  actor: Actor
}

export type Backup = Omit<BackupMeta, 'manifest'> & { manifest: unknown }

export interface BackupDownload {
  backup: Backup
  body: AsyncIterable<Buffer>
}

export interface ImportInput {
  cluster: string
  body: Readable
  actor: Actor
  /** Compressed bytes accepted (the HTTP body limit); default from the service options. */
  maxBytes?: number
}

export interface ImportResult {
  cluster: string
  /** Version numbers assigned in this cluster, in archive order. */
  versions: Array<{ version: number; archivedVersion: number }>
  /** Archived versions the cluster already had (same snapshot and plan): reported, not copied. */
  existing: Array<{ version: number; archivedVersion: number }>
  archiveSha256: string
  sourceCluster: string
  /** Versions whose re-planned restore script differs from the archived one (planner changed). */
  replanned: number[]
}

export interface PruneInput {
  cluster: string
  /** Keep the newest `keep` versions (>= 1). */
  keep?: number
  /** Prune versions created before this instant (ISO 8601). */
  olderThan?: string
  actor: Actor
  reason?: string
  /** List what would be pruned; delete nothing. */
  dryRun?: boolean
}

export interface PruneResult {
  cluster: string
  /** true: nothing was deleted; `pruned` is what would have been. */
  dryRun: boolean
  pruned: number[]
  kept: number
  /** Content rows garbage-collected after the prune. */
  collected: { snapshots: number; plans: number; objects: number; segments: number }
}

export interface HistoryServices {
  diffJson(cluster: string, q: DiffQuery): Promise<JsonDiff>
  diffUnified(cluster: string, q: DiffQuery): Promise<TextDiff>
  diffRestore(cluster: string, q: DiffQuery): Promise<TextDiff>
  rollback(input: RollbackInput): Promise<RollbackResult>
  history(cluster: string, q?: HistoryQuery): Promise<Page<HistoryEvent>>
  createBackup(input: BackupInput): Promise<Backup>
  listBackups(q?: { cluster?: string; limit?: number; cursor?: string }): Promise<Page<Backup>>
  getBackup(id: string): Promise<Backup>
  downloadBackup(id: string): Promise<BackupDownload>
  importBackup(input: ImportInput): Promise<ImportResult>
  prune(input: PruneInput): Promise<PruneResult>
  /** Applies the configured retention policy (NATPLAN_RETAIN_*) to every cluster. */
  sweepRetention(options?: { dryRun?: boolean }): Promise<PruneResult[]>
  deleteCluster(cluster: string, actor: Actor): Promise<{ cluster: string; versions: number }>
  /** The retention policy in force (for the periodic sweep and the docs). */
  retentionPolicy(): { keepVersions?: number; keepDays?: number; intervalSeconds: number; dryRun?: boolean }
}

/** The event types of the history, as the store keeps them (for the API's schemas). */
export { HISTORY_EVENT_TYPES, type HistoryEventType } from '../store/records.js'
