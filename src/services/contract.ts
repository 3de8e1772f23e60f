/**
 * The use-case layer's contract, shared by the REST routes, the GraphQL resolvers and the CLI.
 * Routes and resolvers stay thin: parse, call one of these, map DomainErrors (src/errors.ts).
 */
import type { Family, Flavour, Plan, PlanWarning, TableName } from '../planner/types.js'
import type { GrowthServices } from './growth.js'
import type { HistoryServices } from './history-types.js'
import type { InspectServices } from './inspect.js'

/** Who did it: the token name, or 'anonymous' when the server runs without tokens. */
export type Actor = string

/** A version number, or the newest one. */
export type VersionRef = number | 'latest'

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

export interface IngestResult {
  /** false: identical to the latest version, nothing stored (HTTP 200 instead of 201). */
  created: boolean
  version: VersionSummary
}

export interface ClusterSummary {
  name: string
  createdAt: string
  latestVersion: number | null
  versions: number
}

export interface Page<T> {
  items: T[]
  /** Opaque cursor for the next page, null at the end. */
  next: string | null
}

export interface RestoreScriptQuery {
  table?: TableName | 'all'
  flavour?: Flavour
  /** Which family's script; default: the first family of the plan (IPv4 on dual-stack). */
  family?: Family
}

export interface RestoreScript {
  /** Strong ETag value (quoted), derived from planSha256 and the query. */
  etag: string
  filename: string
  /** Rendered lazily: a 30k-service script never has to sit in one string. */
  body: Buffer | AsyncIterable<string | Buffer>
  bytes?: number
}

export interface ListVersionsQuery {
  /** 1..500, default 50 */
  limit?: number
  /** opaque cursor from a previous Page.next */
  cursor?: string
}

/**
 * The input to ingest. `document` is the parsed request body (JSON or one YAML document, or an
 * array of YAML documents): an envelope `{proxy, resources}`, a bare kubectl `List`, or a
 * single object. `proxy` carries proxy settings from query parameters, used when the document
 * is not an envelope.
 */
export interface IngestInput {
  cluster: string
  document: unknown
  proxy?: Record<string, unknown>
  actor: Actor
}

/**
 * Implemented in src/services (createServices). Every method throws DomainErrors for client
 * mistakes (NotFoundError for unknown clusters/versions, ValidationError with pointers for
 * invalid snapshots, UnavailableError when PostgreSQL is unreachable).
 */
export interface Services {
  ingest(input: IngestInput): Promise<IngestResult>
  listClusters(query?: ListVersionsQuery): Promise<Page<ClusterSummary>>
  getCluster(name: string): Promise<ClusterSummary>
  listVersions(cluster: string, query?: ListVersionsQuery): Promise<Page<VersionSummary>>
  getVersion(cluster: string, ref: VersionRef): Promise<VersionSummary>
  /** Batch form for GraphQL loaders: one round trip for many (cluster, version) pairs. */
  getVersions(keys: Array<{ cluster: string; version: number }>): Promise<Array<VersionSummary | null>>
  /** The stored snapshot as an envelope ({proxy, resources: List}). */
  getSnapshot(cluster: string, ref: VersionRef): Promise<unknown>
  getPlan(cluster: string, ref: VersionRef): Promise<Plan>
  getRestoreScript(cluster: string, ref: VersionRef, query?: RestoreScriptQuery): Promise<RestoreScript>
  /** Database reachable and every migration applied. */
  readiness(): Promise<{ ok: boolean; detail: string }>
  /** Per-cluster gauges for /metrics (latest version's rule counts per table). */
  clusterGauges(): Promise<Array<{ cluster: string; version: number; family: Family; table: TableName; chains: number; rules: number }>>
  /** Diffs, rollbacks, history, backups and retention (src/services/history.ts). */
  history?: HistoryServices
  /** Growth series, namespaces, top growers, projections (src/services/growth.ts). */
  growth?: GrowthServices
  /** Packet trace, drift and cleanup of a stored version (src/services/inspect.ts). */
  inspect?: InspectServices
}
