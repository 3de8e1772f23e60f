/**
 * The use-case layer's contract, shared by the REST routes, the GraphQL resolvers and the CLI.
 * Routes and resolvers stay thin: parse, call one of these, map DomainErrors (src/errors.ts).
 */
import type { Family, Flavour, Plan, TableName } from '../planner/types.js'
import type { ParseLimits } from './bounded.js'
import type { GrowthServices } from './growth-types.js'
import type { HistoryServices } from './history-types.js'
import type { InspectServices } from './inspect-types.js'
import type { Actor, ClusterSummary, DriftCheckRow, LatestGaugeRow, VersionCounts, VersionSummary } from '../store/records.js'

export type { Actor, ClusterSummary, TableCounts, VersionCounts, VersionKind, VersionSummary } from '../store/records.js'

/** A version number, or the newest one. */
export type VersionRef = number | 'latest'

export interface NodeSummary {
  name: string
  /** Nodes with byte-identical plans share a variant (0, 1, …, in order of first node). */
  variant: number
  /** sha256 (hex) of the node's restore input (kube-proxy flavour, every table, its families in order). */
  planSha256: string
  counts: Pick<VersionCounts, 'families' | 'scriptBytes'>
}

export interface NodeList {
  cluster: string
  version: number
  defaultNode: string | null
  defaulted: string[]
  variants: number
  items: NodeSummary[]
}

export interface IngestResult {
  /** false: identical to the latest version, nothing stored (HTTP 200 instead of 201). */
  created: boolean
  version: VersionSummary
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
  /** The body's Content-Encoding; absent: the plain text. */
  encoding?: 'gzip' | 'zstd'
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
  /** The parsed body, or (REST) the body's bytes as received: parsed in the ingest worker. */
  document?: unknown
  body?: { bytes: Uint8Array; type: 'json' | 'yaml' }
  /** The limits `body` is parsed within (NATPLAN_MAX_DEPTH, NATPLAN_YAML_MAX_ALIASES); default: their defaults. */
  limits?: ParseLimits
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
  /** Without `node`: the version's node (400 when it has many and names none). */
  getPlan(cluster: string, ref: VersionRef, node?: string): Promise<Plan>
  /**
   * `accept`: the content encodings the client takes, preferred first; the script comes in the
   * first of them this process can serve (compressed once, then kept), else as plain text.
   */
  getRestoreScript(cluster: string, ref: VersionRef, query?: RestoreScriptQuery, node?: string, accept?: ReadonlyArray<'gzip' | 'zstd'>): Promise<RestoreScript>
  /** Every node of a version, in name order. */
  listNodes(cluster: string, ref: VersionRef): Promise<NodeList>
  /** Database reachable and every migration applied. */
  readiness(): Promise<{ ok: boolean; detail: string }>
  /** Per-cluster gauges for /metrics (latest version's rule counts per table). */
  clusterGauges(): Promise<Array<{ cluster: string; version: number; family: Family; table: TableName; chains: number; rules: number }>>
  /** Each cluster's latest version for /metrics: its age, script bytes, KUBE-SERVICES length, per node. */
  latestGauges(): Promise<LatestGaugeRow[]>
  /** Each node's last drift check (POST …/drift), for /metrics. */
  driftGauges(): Promise<DriftCheckRow[]>
  /** Starts the ingest worker threads and waits until they are ready (before the server listens). */
  start?(): Promise<void>
  /** Stops the ingest worker threads (after the HTTP server has stopped taking requests). */
  close?(): Promise<void>
  /** Diffs, rollbacks, history, backups and retention (src/services/history.ts). */
  history?: HistoryServices
  /** Growth series, namespaces, top growers, projections (src/services/growth.ts). */
  growth?: GrowthServices
  /** Packet trace, drift and cleanup of a stored version (src/services/inspect.ts). */
  inspect?: InspectServices
}
