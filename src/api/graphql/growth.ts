/**
 * GraphQL parity for growth and inspection: growth series, namespace breakdown, top
 * growers, projection; packet trace, drift and cleanup of a version. Thin like the REST routes:
 * each resolver calls one GrowthServices/InspectServices method; validation errors carry the same
 * pointers as problem+json (extensions.errors).
 */
import type { IResolvers } from 'mercurius'
import { BadRequestError } from '../../errors.js'
import type { Family } from '../../planner/types.js'
import type { Services, VersionRef } from '../../services/contract.js'
import type { GrowthServices } from '../../services/growth.js'
import type { InspectServices } from '../../services/inspect.js'
import { serviceOf } from '../optional.js'
import { NodeName } from '../rest/schemas.js'
import type { GraphQLContext } from './resolvers.js'

export const typeDefs = /* GraphQL */ `
  extend type Query {
    """
    Growth of a cluster over its versions, oldest first, from statistics stored at version
    creation. from/to: a version number, an ISO 8601 time or a relative time like "-30d".
    metrics: see growthMetrics (default rules, chains, kubeServicesRules, services, endpoints).
    """
    growth(cluster: String!, from: String, to: String, metrics: [String!]): GrowthReport!
    "Metrics a growth query can ask for."
    growthMetrics: [GrowthMetric!]!
    "Per-namespace counts of the newest version at or before 'at' (default: latest)."
    growthNamespaces(cluster: String!, at: String): NamespaceBreakdown!
    "Namespaces that grew most between two times or versions; by: rules, chains, services, servicePorts, endpoints."
    topGrowers(cluster: String!, from: String, to: String, by: String = "rules", limit: Int = 10): TopGrowers!
    "When a metric crosses a threshold at the current rate (least squares over time)."
    growthProjection(cluster: String!, metric: String = "kubeServicesRules", threshold: Float = 10000, from: String, to: String): Projection!
    "Per version: the spread of table sizes across its nodes (min/max), and node's own when given."
    growthNodes(cluster: String!, from: String, to: String, node: String): JSON!
    "Trace a new connection through a version's plan (version: a number or 'latest'; node: one of its nodes)."
    trace(cluster: String!, version: String!, packet: PacketInput!, node: String): TraceResult!
    "Compare a node's iptables-save output with a version's plan: stale, missing and changed, by Service."
    drift(cluster: String!, version: String!, saveText: String!, family: String, node: String): DriftReport!
    "Services that cannot be reached and traffic policies that drop, in a version (or one of its nodes)."
    cleanup(cluster: String!, version: String!, node: String): CleanupReport!
  }

  type GrowthMetric {
    name: String!
    description: String!
    unit: String!
  }

  type GrowthPoint {
    version: Int!
    createdAt: String!
    "metric name -> value (null where it does not apply, e.g. deltaRules of version 1)"
    values: JSON!
  }

  type GrowthReport {
    cluster: String!
    metrics: [GrowthMetric!]!
    points: [GrowthPoint!]!
  }

  type NamespaceCounts {
    namespace: String
    services: Int!
    servicePorts: Int!
    endpoints: Int!
    chains: Int!
    rules: Int!
  }

  type NamespaceBreakdown {
    cluster: String!
    version: Int
    createdAt: String
    namespaces: [NamespaceCounts!]!
  }

  type Grower {
    namespace: String!
    from: NamespaceCounts!
    to: NamespaceCounts!
    delta: NamespaceCounts!
  }

  type TopGrowers {
    cluster: String!
    by: String!
    fromVersion: Int
    toVersion: Int
    fromTime: String
    toTime: String
    growers: [Grower!]!
  }

  type Projection {
    cluster: String!
    metric: String!
    threshold: Float!
    "projected, reached, never, insufficient-data (fewer than 5 versions or less than a day) or poor-fit (r² below 0.5)"
    status: String!
    at: String
    slopePerDay: Float
    "The last measured value"
    current: Float
    "The fitted line's value now"
    fitted: Float
    r2: Float
    points: Int!
    spanDays: Float!
    "When the 95 % prediction band crosses the threshold"
    interval: ProjectionInterval
    message: String!
  }

  type ProjectionInterval {
    from: String!
    to: String
  }

  input PacketInput {
    source: String!
    destination: String!
    port: Int!
    protocol: String = "tcp"
    nodeAddresses: [String!]
  }

  type TraceMatch {
    table: String!
    chain: String!
    rule: String!
  }

  type TraceEndpoint {
    endpoint: String!
    probability: Float!
  }

  type TraceResult {
    cluster: String!
    version: Int!
    family: String!
    rulesMatched: [TraceMatch!]!
    endpoints: [TraceEndpoint!]!
    masqueraded: Boolean!
    "DNAT, DROP, REJECT, ACCEPT or NONE"
    verdict: String!
    output: String!
  }

  type DriftReport {
    cluster: String!
    version: Int!
    family: String!
    inSync: Boolean!
    summary: JSON!
    "Per table: staleChains, missingChains, changedChains (with their stale and missing rules)."
    tables: JSON!
    services: JSON!
    ignoredChains: JSON!
    "Lines of the dump that could not be read (line numbers 1-based): skipped, the rest compared."
    unreadable: JSON!
    "Which kube-proxy wrote this: told (the plan's settings), node (the dump's), mismatches (one finding each)."
    settings: JSON!
  }

  type CleanupReport {
    cluster: String!
    version: Int!
    summary: JSON!
    items: JSON!
  }
`

function growth(ctx: GraphQLContext): GrowthServices {
  return serviceOf((ctx as unknown as { services: Services }).services, 'growth')
}

function inspect(ctx: GraphQLContext): InspectServices {
  return serviceOf((ctx as unknown as { services: Services }).services, 'inspect')
}

function versionRef(v: string): VersionRef {
  if (v === 'latest') return 'latest'
  if (/^[1-9][0-9]{0,8}$/.test(v)) return Number(v)
  throw new BadRequestError('version must be a positive version number or "latest"', [{ pointer: '/version', detail: 'expected 1, 2, 3… or latest' }])
}

function family(f: string | null | undefined): Family | undefined {
  if (f === null || f === undefined) return undefined
  if (f === 'IPv4' || f === 'IPv6') return f
  throw new BadRequestError('family must be IPv4 or IPv6', [{ pointer: '/family', detail: 'expected IPv4 or IPv6' }])
}

// GraphQL has checked the arguments' shapes against the schema; each resolver parses what it reads.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Args = Record<string, any>
const opt = <T>(v: T | null | undefined): T | undefined => (v === null ? undefined : v)

/** A node argument, checked as REST checks it (a 400 naming the argument). */
function node(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined
  const r = NodeName.safeParse(v)
  if (!r.success)
    throw new BadRequestError(`invalid argument node: ${r.error.issues[0]?.message ?? 'invalid'}`, [
      { pointer: '/node', detail: r.error.issues[0]?.message ?? 'invalid' },
    ])
  return r.data
}

export const growthResolvers: IResolvers = {
  Query: {
    growth: (_root, a: Args, ctx) => growth(ctx).growth(a.cluster, { from: opt(a.from), to: opt(a.to), metrics: opt(a.metrics) }),
    growthMetrics: (_root, _a, ctx) => [...growth(ctx).metrics()],
    growthNamespaces: (_root, a: Args, ctx) => growth(ctx).namespaces(a.cluster, { at: opt(a.at) }),
    topGrowers: (_root, a: Args, ctx) => growth(ctx).topGrowers(a.cluster, { from: opt(a.from), to: opt(a.to), by: opt(a.by), limit: opt(a.limit) }),
    growthProjection: (_root, a: Args, ctx) =>
      growth(ctx).projection(a.cluster, { metric: opt(a.metric), threshold: opt(a.threshold), from: opt(a.from), to: opt(a.to) }),
    growthNodes: (_root, a: Args, ctx) => growth(ctx).nodes(a.cluster, { from: opt(a.from), to: opt(a.to), node: node(a.node) }),
    trace: (_root, a: Args, ctx) => {
      const p = a.packet as Args
      return inspect(ctx).trace(
        a.cluster,
        versionRef(a.version),
        {
          source: p.source,
          destination: p.destination,
          port: p.port,
          protocol: p.protocol ?? 'tcp',
          ...(p.nodeAddresses ? { nodeAddresses: p.nodeAddresses } : {}),
        },
        node(a.node),
      )
    },
    drift: (_root, a: Args, ctx) => inspect(ctx).drift(a.cluster, versionRef(a.version), a.saveText, { family: family(a.family), node: node(a.node) }),
    cleanup: (_root, a: Args, ctx) => inspect(ctx).cleanup(a.cluster, versionRef(a.version), node(a.node)),
  },
}

/** Merges these resolvers into the app's (same shape as withHistoryResolvers). */
export function withGrowthResolvers(base: IResolvers): IResolvers {
  const merged: IResolvers = { ...base }
  for (const [type, fields] of Object.entries(growthResolvers)) {
    merged[type] = { ...((base[type] as object | undefined) ?? {}), ...(fields as object) } as never
  }
  return merged
}
