/** zod schemas of the history routes: validation, serialisation and the OpenAPI document. */
import { z } from 'zod'
import { HISTORY_EVENT_TYPES } from '../../../services/history-types.js'
import { ClusterName, Links, NodeName, Version, VersionNumber, VersionRefParam } from '../schemas.js'

export const DiffQuery = z.strictObject({
  from: VersionRefParam.describe('The version the node has (number or `latest`)'),
  to: VersionRefParam.describe('The version to go to (number or `latest`); either order works'),
  format: z
    .enum(['json', 'unified', 'restore'])
    .default('json')
    .describe(
      'json: structured per-table/per-service diff; unified: unified diff of the normalised scripts; ' +
        'restore: the minimal `iptables-restore --noflush` input from `from` to `to` (kube-proxy partial-sync style)',
    ),
  family: z.enum(['IPv4', 'IPv6']).optional().describe('unified/restore: which family (default: the first family of `to`)'),
  fromNode: NodeName.optional().describe("The node of `from` (default: the version's node; needed when it plans many and names none)"),
  toNode: NodeName.optional().describe('The node of `to`; two nodes of one version: from = to, fromNode ≠ toNode'),
})

const TableDiff = z.object({
  chainsAdded: z.array(z.string()),
  chainsRemoved: z.array(z.string()),
  chainsChanged: z.array(z.object({ chain: z.string(), rulesAdded: z.array(z.string()), rulesRemoved: z.array(z.string()) })),
})
const Tables = z.object({ filter: TableDiff, nat: TableDiff })
const Summary = z
  .object({
    servicesAdded: z.number().int(),
    servicesRemoved: z.number().int(),
    servicesChanged: z.number().int(),
    servicePortsAdded: z.number().int(),
    servicePortsRemoved: z.number().int(),
    servicePortsChanged: z.number().int(),
    chainsAdded: z.number().int(),
    chainsRemoved: z.number().int(),
    chainsChanged: z.number().int(),
    rulesAdded: z.number().int(),
    rulesRemoved: z.number().int(),
    unchangedSegments: z.number().int(),
  })
  .meta({ id: 'DiffSummary' })

export const JsonDiff = z
  .object({
    cluster: z.string(),
    from: z.number().int(),
    to: z.number().int(),
    identical: z.boolean().describe('Both versions have the same plan'),
    fromNode: z.string().optional(),
    toNode: z.string().optional(),
    summary: Summary,
    families: z.array(
      z.object({
        family: z.enum(['IPv4', 'IPv6']),
        summary: Summary,
        tables: Tables,
        services: z.array(
          z.object({
            service: z.string().describe('servicePortName, or head/tail for the fixed parts'),
            protocol: z.string().optional(),
            key: z.string(),
            change: z.enum(['added', 'removed', 'changed']),
            tables: Tables,
            rulesAdded: z.number().int(),
            rulesRemoved: z.number().int(),
          }),
        ),
      }),
    ),
    links: Links,
  })
  .meta({ id: 'Diff' })

export const RollbackBody = z
  .strictObject({
    toVersion: VersionNumber.describe('The version whose content the new version takes'),
    reason: z.string().trim().min(1).max(1000).describe('Why (recorded in the history)'),
  })
  .meta({ id: 'RollbackRequest' })

export const RollbackResponse = z
  .object({
    version: Version,
    replaced: z.number().int().describe('The version that was the latest before the rollback'),
    links: Links,
  })
  .meta({ id: 'RollbackResult' })

const EventType = z.enum(HISTORY_EVENT_TYPES)

export const HistoryQuery = z.strictObject({
  type: z
    .string()
    .optional()
    .describe(`Comma-separated event types: ${HISTORY_EVENT_TYPES.join(', ')}`),
  since: z.iso.datetime({ offset: true }).optional().describe('Events at or after this instant (ISO 8601)'),
  until: z.iso.datetime({ offset: true }).optional().describe('Events before this instant (ISO 8601)'),
  limit: z.coerce.number().int().min(1).max(500).default(50).describe('Page size, 1..500'),
  cursor: z.string().min(1).max(512).optional().describe('Opaque cursor from `next` of the previous page'),
})

export const HistoryEvent = z
  .object({
    id: z.string(),
    cluster: z.string(),
    type: EventType,
    createdAt: z.string().describe('ISO 8601'),
    actor: z.string().describe('Token name, anonymous, or retention'),
    reason: z.string().nullable(),
    version: z.number().int().nullable().describe('The version created (ingest, rollback, import) or matched (duplicate)'),
    fromVersion: z.number().int().nullable().describe('rollback: the replaced latest; backup/import/prune: first version of the range'),
    toVersion: z.number().int().nullable().describe('rollback: the target; backup/import/prune: last version of the range'),
    backupId: z.string().nullable(),
    details: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'HistoryEvent' })

export const HistoryPage = z.object({ items: z.array(HistoryEvent), next: z.string().nullable(), links: Links }).meta({ id: 'HistoryPage' })

export const BackupBody = z
  .strictObject({
    fromVersion: VersionNumber.optional().describe('Default: the oldest stored version'),
    toVersion: VersionNumber.optional().describe('Default: the latest version'),
    note: z.string().max(1000).optional(),
  })
  .meta({ id: 'BackupRequest' })

export const Backup = z
  .object({
    id: z.uuid(),
    cluster: z.string(),
    fromVersion: z.number().int(),
    toVersion: z.number().int(),
    versions: z.number().int(),
    note: z.string().nullable(),
    actor: z.string(),
    createdAt: z.string(),
    sha256: z.string().describe('sha256 (hex) of the archive bytes'),
    bytes: z.number().int(),
    manifest: z.unknown().describe("The archive's manifest.json"),
    links: Links,
  })
  .meta({ id: 'Backup' })

export const BackupPage = z.object({ items: z.array(Backup), next: z.string().nullable(), links: Links }).meta({ id: 'BackupPage' })

export const BackupListQuery = z.strictObject({
  cluster: ClusterName.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().min(1).max(512).optional(),
})

export const BackupParams = z.object({ id: z.string().min(1).max(64) })

export const ImportQuery = z.strictObject({ cluster: ClusterName.describe('The cluster to import into (created if absent)') })

export const ImportResponse = z
  .object({
    cluster: z.string(),
    versions: z.array(z.object({ version: z.number().int(), archivedVersion: z.number().int() })).describe('Versions created, in archive order'),
    existing: z
      .array(z.object({ version: z.number().int(), archivedVersion: z.number().int() }))
      .describe('Archived versions the cluster already had (same snapshot and plan): not copied again'),
    archiveSha256: z.string(),
    sourceCluster: z.string(),
    replanned: z.array(z.number().int()).describe('Archived versions this natplan plans to different rules (planner changed)'),
    links: Links,
  })
  .meta({ id: 'ImportResult' })

export const PruneBody = z
  .strictObject({
    keep: z.number().int().min(1).max(999_999_999).optional().describe('Keep the newest N versions'),
    olderThan: z.iso.datetime({ offset: true }).optional().describe('Prune versions created before this instant'),
    reason: z.string().max(1000).optional(),
    dryRun: z.boolean().default(false).describe('true: answer what would be pruned and delete nothing'),
  })
  .refine((b) => b.keep !== undefined || b.olderThan !== undefined, { message: 'keep or olderThan is required', path: ['keep'] })
  .meta({ id: 'PruneRequest' })

export const PruneResponse = z
  .object({
    cluster: z.string(),
    dryRun: z.boolean().describe('true: nothing was deleted; `pruned` lists what would have been'),
    pruned: z.array(z.number().int()).describe('Versions pruned (or, in a dry run, that would be)'),
    kept: z.number().int(),
    collected: z.object({ snapshots: z.number().int(), plans: z.number().int(), objects: z.number().int(), segments: z.number().int() }),
  })
  .meta({ id: 'PruneResult' })

export const RetentionPreview = z
  .object({
    policy: z.object({
      keepVersions: z.number().int().nullable(),
      keepDays: z.number().int().nullable(),
      intervalSeconds: z.number().int(),
      dryRun: z.boolean().describe('NATPLAN_RETAIN_DRY_RUN: the timer only logs what it would remove'),
    }),
    clusters: z.array(PruneResponse).describe('Every cluster the policy would prune now, with the versions it would remove'),
  })
  .meta({ id: 'RetentionPreview' })

export const DeleteClusterResponse = z.object({ cluster: z.string(), versions: z.number().int().describe('Versions deleted') }).meta({ id: 'ClusterDeleted' })
