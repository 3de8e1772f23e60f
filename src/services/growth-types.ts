/**
 * The growth use-cases' contract (implemented by createGrowthServices in growth.ts): growth
 * series, per-namespace breakdowns, top growers, projections and per-node spreads, shared by
 * the REST routes under src/api/rest/growth and the GraphQL resolvers. Types only.
 */
import type { NamespaceCounts, NodePoint, NodeSpreadPoint } from '../store/records.js'

export interface MetricInfo {
  name: string
  description: string
  unit: 'count' | 'rules' | 'chains' | 'bytes'
}

export interface GrowthQuery {
  /** Version number, ISO 8601 time, or a relative time like `-30d` (s, m, h, d, w). Inclusive. */
  from?: string
  to?: string
  /** Metric names (see METRICS); default DEFAULT_METRICS. */
  metrics?: string[]
}

export interface GrowthPoint {
  version: number
  createdAt: string
  values: Record<string, number | null>
}

export interface GrowthReport {
  cluster: string
  metrics: MetricInfo[]
  points: GrowthPoint[]
}

export interface NamespaceGrowthRow extends NamespaceCounts {
  namespace: string
}

export interface NamespaceBreakdown {
  cluster: string
  version: number | null
  createdAt: string | null
  namespaces: NamespaceGrowthRow[]
}

export type GrowerField = keyof NamespaceCounts

export interface Grower {
  namespace: string
  from: NamespaceCounts
  to: NamespaceCounts
  delta: NamespaceCounts
}

export interface TopGrowers {
  cluster: string
  by: GrowerField
  fromVersion: number | null
  toVersion: number | null
  fromTime: string | null
  toTime: string | null
  growers: Grower[]
}

export interface ProjectionQuery {
  metric?: string
  threshold?: number
  from?: string
  to?: string
}

export type ProjectionStatus = 'projected' | 'reached' | 'never' | 'insufficient-data' | 'poor-fit'

export interface Projection {
  cluster: string
  metric: string
  threshold: number
  status: ProjectionStatus
  /** When the fitted line crosses the threshold (projected), or when it was first reached. */
  at: string | null
  /** Least-squares slope, per day. */
  slopePerDay: number | null
  /** The last measured value. */
  current: number | null
  /** The fitted line's value now. */
  fitted: number | null
  r2: number | null
  points: number
  /** Time between the first and the last point, days. */
  spanDays: number
  /**
   * When the 95 % prediction band crosses the threshold: `from` when its upper edge does, `to`
   * when its lower edge does (null: not within 100 years). Only for a projection.
   */
  interval: { from: string; to: string | null } | null
  message: string
}

export interface GrowthServices {
  metrics(): readonly MetricInfo[]
  growth(cluster: string, query?: GrowthQuery): Promise<GrowthReport>
  namespaces(cluster: string, query?: { at?: string }): Promise<NamespaceBreakdown>
  namespaceGrowth(
    cluster: string,
    namespace: string,
    query?: { from?: string; to?: string },
  ): Promise<{ cluster: string; namespace: string; points: Array<{ version: number; createdAt: string } & NamespaceCounts> }>
  topGrowers(cluster: string, query?: { from?: string; to?: string; by?: string; limit?: number }): Promise<TopGrowers>
  projection(cluster: string, query?: ProjectionQuery): Promise<Projection>
  /** Per version: the spread of table sizes across its nodes, and `node`'s own sizes when asked. */
  nodes(cluster: string, query?: { from?: string; to?: string; node?: string }): Promise<NodeGrowth>
}

export interface NodeGrowth {
  cluster: string
  node?: string
  points: Array<Omit<NodeSpreadPoint, 'createdAt'> & { createdAt: string; node?: Omit<NodePoint, 'version' | 'createdAt'> | null }>
}
