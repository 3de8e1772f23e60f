/**
 * GraphQL parity for the history area: diff and history queries; rollback, backup,
 * import (base64 archive), prune and cluster-delete mutations. Thin like the REST routes: check
 * scope, validate arguments, call one HistoryServices method.
 */
import type { IResolvers } from 'mercurius'
import { Readable } from 'node:stream'
import { z } from 'zod'
import { BadRequestError, DomainError } from '../../errors.js'
import { hasScope } from '../../plugins/app/auth.js'
import type { Scope } from '../../config.js'
import type { DiffQuery, HistoryServices, JsonDiff } from '../../services/history-types.js'
import { HISTORY_EVENT_TYPES, type HistoryEventType } from '../../services/history-types.js'
import { serviceOf } from '../optional.js'
import { ClusterName, NodeName } from '../rest/schemas.js'
import { ForbiddenError, type GraphQLContext } from './resolvers.js'

export const typeDefs = /* GraphQL */ `
  extend type Query {
    """
    Diff two versions of a cluster (either order; from/to: a number or "latest"), computed from
    stored segment hashes. The unified and restore texts are fields of the result.
    """
    diff(cluster: String!, from: String!, to: String!, fromNode: String, toNode: String): Diff!
    """
    A cluster's history, newest first: snapshot.ingested, snapshot.duplicate, rollback,
    backup.created, backup.imported, versions.pruned. since/until: ISO 8601.
    """
    history(cluster: String!, types: [String!], since: String, until: String, limit: Int = 50, cursor: String): HistoryPage!
    "Backups, newest first, optionally of one cluster."
    backups(cluster: String, limit: Int = 50, cursor: String): BackupPage!
    "One backup, or null when unknown."
    backup(id: String!): Backup
  }

  extend type Mutation {
    "A new version with toVersion's content (by reference). Needs write."
    rollback(cluster: String!, toVersion: Int!, reason: String!): RollbackResult!
    "A deterministic tar.gz archive of versions fromVersion..toVersion (default: all). Needs write."
    createBackup(cluster: String!, fromVersion: Int, toVersion: Int, note: String): Backup!
    "Import an archive (base64 of the tar.gz) into a cluster; verified before anything is written. Needs write."
    importBackup(cluster: String!, archiveBase64: String!): ImportResult!
    "Prune versions beyond the newest keep and/or older than olderThan (never the latest). Needs admin."
    prune(
      cluster: String!
      keep: Int
      olderThan: String
      reason: String
      "true: list what would be pruned, delete nothing"
      dryRun: Boolean = false
    ): PruneResult!
    "Delete a cluster with its versions and history; backups stay. Needs admin."
    deleteCluster(cluster: String!): ClusterDeleted!
  }

  type Diff {
    cluster: String!
    from: Int!
    to: Int!
    "The nodes compared, when the query named any (two nodes of one version: from = to)."
    fromNode: String
    toNode: String
    identical: Boolean!
    "Summed over families: services/ports/chains added, removed, changed; rules added, removed."
    summary: JSON!
    "Per family: tables (chains added/removed/changed) and services (per service port)."
    families: JSON!
    "Unified diff of the normalised scripts of one family (default: the first of to)."
    unified(family: String): String!
    "The minimal iptables-restore --noflush input from 'from' to 'to' (kube-proxy partial sync)."
    restore(family: String): String!
  }

  type HistoryEvent {
    id: String!
    cluster: String!
    type: String!
    createdAt: String!
    actor: String!
    reason: String
    version: Int
    fromVersion: Int
    toVersion: Int
    backupId: String
    details: JSON!
  }

  type HistoryPage {
    items: [HistoryEvent!]!
    next: String
  }

  type RollbackResult {
    version: Version!
    replaced: Int!
  }

  type Backup {
    id: String!
    cluster: String!
    fromVersion: Int!
    toVersion: Int!
    versions: Int!
    note: String
    actor: String!
    createdAt: String!
    sha256: String!
    bytes: Int!
    manifest: JSON!
    "Relative URL of the archive (REST)."
    downloadUrl: String!
  }

  type BackupPage {
    items: [Backup!]!
    next: String
  }

  type ImportedVersion {
    version: Int!
    archivedVersion: Int!
  }

  type ImportResult {
    cluster: String!
    versions: [ImportedVersion!]!
    "Archived versions the cluster already had (same snapshot and plan): not copied again"
    existing: [ImportedVersion!]!
    archiveSha256: String!
    sourceCluster: String!
    replanned: [Int!]!
  }

  type PruneResult {
    cluster: String!
    "true: nothing was deleted; pruned lists what would have been"
    dryRun: Boolean!
    pruned: [Int!]!
    kept: Int!
    collected: JSON!
  }

  type ClusterDeleted {
    cluster: String!
    versions: Int!
  }
`

function history(ctx: GraphQLContext): HistoryServices {
  return serviceOf(ctx.services, 'history')
}

function need(ctx: GraphQLContext, scope: Scope, what: string): string {
  if (!hasScope(ctx.principal, scope)) {
    throw new ForbiddenError(`token "${ctx.principal?.actor ?? 'none'}" cannot ${what}: this needs scope ${scope}`)
  }
  return ctx.principal?.actor ?? 'anonymous'
}

function arg<T>(schema: z.ZodType<T>, value: unknown, name: string): T {
  const r = schema.safeParse(value)
  if (r.success) return r.data
  const detail = r.error.issues[0]?.message ?? 'invalid'
  throw new BadRequestError(`invalid argument ${name}: ${detail}`, [{ pointer: `/${name}`, detail }])
}

const Ref = z.union([z.literal('latest'), z.coerce.number().int().positive().max(999_999_999)])
const Family = z
  .enum(['IPv4', 'IPv6'])
  .nullish()
  .transform((v) => v ?? undefined)
const Limit = z.number().int().min(1).max(500)
const Version = z.number().int().positive().max(999_999_999)
const OptVersion = Version.nullish().transform((v) => v ?? undefined)
const Instant = z.iso
  .datetime({ offset: true })
  .nullish()
  .transform((v) => v ?? undefined)
const Types = z
  .array(z.enum(HISTORY_EVENT_TYPES))
  .nullish()
  .transform((v) => v ?? undefined)
const Base64 = z.string().regex(/^[A-Za-z0-9+/=\s]*$/, 'not base64')

type DiffParent = JsonDiff & { query: DiffQuery }

export const historyResolvers: IResolvers = {
  Query: {
    diff: async (
      _root,
      args: { cluster: string; from: string; to: string; fromNode?: string | null; toNode?: string | null },
      ctx: GraphQLContext,
    ): Promise<DiffParent> => {
      const cluster = arg(ClusterName, args.cluster, 'cluster')
      const query = {
        from: arg(Ref, args.from, 'from'),
        to: arg(Ref, args.to, 'to'),
        fromNode: arg(NodeName.nullish(), args.fromNode, 'fromNode') ?? undefined,
        toNode: arg(NodeName.nullish(), args.toNode, 'toNode') ?? undefined,
      }
      return { ...(await history(ctx).diffJson(cluster, query)), query }
    },
    history: (_root, args: Record<string, unknown>, ctx: GraphQLContext) =>
      history(ctx).history(arg(ClusterName, args.cluster, 'cluster'), {
        types: arg(Types, args.types, 'types') as HistoryEventType[] | undefined,
        since: arg(Instant, args.since, 'since'),
        until: arg(Instant, args.until, 'until'),
        limit: arg(Limit, args.limit, 'limit'),
        cursor: (args.cursor as string | null) ?? undefined,
      }),
    backups: (_root, args: { cluster?: string | null; limit: number; cursor?: string | null }, ctx: GraphQLContext) =>
      history(ctx).listBackups({
        cluster: args.cluster ? arg(ClusterName, args.cluster, 'cluster') : undefined,
        limit: arg(Limit, args.limit, 'limit'),
        cursor: args.cursor ?? undefined,
      }),
    backup: async (_root, args: { id: string }, ctx: GraphQLContext) => {
      try {
        return await history(ctx).getBackup(args.id)
      } catch (err) {
        if (err instanceof DomainError && err.status === 404) return null
        throw err
      }
    },
  },
  Mutation: {
    rollback: (_root, args: { cluster: string; toVersion: number; reason: string }, ctx: GraphQLContext) => {
      const actor = need(ctx, 'write', 'roll back')
      return history(ctx).rollback({
        cluster: arg(ClusterName, args.cluster, 'cluster'),
        toVersion: arg(Version, args.toVersion, 'toVersion'),
        reason: arg(z.string().trim().min(1).max(1000), args.reason, 'reason'),
        actor,
      })
    },
    createBackup: (_root, args: Record<string, unknown>, ctx: GraphQLContext) => {
      const actor = need(ctx, 'write', 'create backups')
      return history(ctx).createBackup({
        cluster: arg(ClusterName, args.cluster, 'cluster'),
        fromVersion: arg(OptVersion, args.fromVersion, 'fromVersion'),
        toVersion: arg(OptVersion, args.toVersion, 'toVersion'),
        note: arg(
          z
            .string()
            .max(1000)
            .nullish()
            .transform((v) => v ?? undefined),
          args.note,
          'note',
        ),
        actor,
      })
    },
    importBackup: (_root, args: { cluster: string; archiveBase64: string }, ctx: GraphQLContext) => {
      const actor = need(ctx, 'write', 'import backups')
      const cluster = arg(ClusterName, args.cluster, 'cluster')
      const bytes = Buffer.from(arg(Base64, args.archiveBase64, 'archiveBase64'), 'base64')
      return history(ctx).importBackup({ cluster, body: Readable.from([bytes]), actor })
    },
    prune: (_root, args: Record<string, unknown>, ctx: GraphQLContext) => {
      const actor = need(ctx, 'admin', 'prune')
      return history(ctx).prune({
        cluster: arg(ClusterName, args.cluster, 'cluster'),
        keep: arg(
          z
            .number()
            .int()
            .min(1)
            .nullish()
            .transform((v) => v ?? undefined),
          args.keep,
          'keep',
        ),
        olderThan: arg(Instant, args.olderThan, 'olderThan'),
        reason: (args.reason as string | null) ?? undefined,
        dryRun: args.dryRun === true,
        actor,
      })
    },
    deleteCluster: (_root, args: { cluster: string }, ctx: GraphQLContext) => {
      const actor = need(ctx, 'admin', 'delete clusters')
      return history(ctx).deleteCluster(arg(ClusterName, args.cluster, 'cluster'), actor)
    },
  },
  Diff: {
    unified: async (d: DiffParent, args: { family?: string | null }, ctx: GraphQLContext) =>
      (await history(ctx).diffUnified(d.cluster, { ...d.query, from: d.from, to: d.to, family: arg(Family, args.family, 'family') })).text,
    restore: async (d: DiffParent, args: { family?: string | null }, ctx: GraphQLContext) =>
      (await history(ctx).diffRestore(d.cluster, { ...d.query, from: d.from, to: d.to, family: arg(Family, args.family, 'family') })).text,
  },
  Backup: {
    downloadUrl: (b: { id: string }) => `/v1/backups/${b.id}/download`,
  },
}

/** The app's resolvers with the history area merged in (Query/Mutation fields side by side). */
export function withHistoryResolvers(base: IResolvers): IResolvers {
  const merged: IResolvers = { ...base }
  for (const [type, fields] of Object.entries(historyResolvers)) {
    merged[type] = { ...((base[type] as object | undefined) ?? {}), ...(fields as object) } as never
  }
  return merged
}
