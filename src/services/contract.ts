/**
 * The use-case layer's contract, shared by the REST routes, the GraphQL resolvers and the CLI.
 * Routes and resolvers stay thin: parse, call one of these, map DomainErrors (src/errors.ts).
 */
import type { Family, Flavour, Plan, PlanWarning, TableName } from '../planner/types.js'

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
