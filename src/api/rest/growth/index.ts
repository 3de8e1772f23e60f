/**
 * Growth routes: series (JSON/CSV), the SVG chart, per-namespace breakdown, top growers and the
 * least-squares projection. Thin: validate, call the growth use-case, render.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { GrowthServices } from '../../../services/growth.js'
import { serviceOf } from '../../optional.js'
import { ClusterParams, NodeName, Problem } from '../schemas.js'
import { growthCsv, growthSvg } from './render.js'
import { zodScope } from '../zod-scope.js'

const problems = { 400: Problem, 401: Problem, 403: Problem, 404: Problem, 429: Problem, 503: Problem }

const BoundParam = z.string().max(64).optional().describe('Inclusive bound: a version number, an ISO 8601 time, or a relative time like -30d (s, m, h, d, w)')

const MetricParam = z
  .union([z.string().max(1000), z.array(z.string().max(100)).max(32)])
  .optional()
  .transform((v) => (v === undefined ? undefined : Array.isArray(v) ? v : [v]))
  .describe('Metric name(s), comma-separated or repeated; see GET /v1/growth/metrics. Default: rules, chains, kubeServicesRules, services, endpoints')

const MinMax = z.object({ min: z.number(), max: z.number() })
const NodeGrowth = z
  .object({
    cluster: z.string(),
    node: z.string().optional(),
    points: z.array(
      z.object({
        version: z.number().int(),
        createdAt: z.string(),
        nodes: z.number().int(),
        variants: z.number().int(),
        natRules: MinMax,
        kubeServices: MinMax,
        scriptBytes: MinMax,
        node: z
          .object({
            variant: z.number().int(),
            natChains: z.number().int(),
            natRules: z.number().int(),
            filterChains: z.number().int(),
            filterRules: z.number().int(),
            kubeServices: z.number().int(),
            scriptBytes: z.number(),
          })
          .nullable()
          .optional()
          .describe('The node asked for (null in a version that does not have it)'),
      }),
    ),
  })
  .meta({ id: 'NodeGrowth' })

const GrowthQuery = z.strictObject({
  from: BoundParam,
  to: BoundParam,
  metric: MetricParam,
  format: z.enum(['json', 'csv']).default('json').describe('json (series) or csv (one row per version)'),
})

const MetricInfo = z.object({ name: z.string(), description: z.string(), unit: z.enum(['count', 'rules', 'chains', 'bytes']) }).meta({ id: 'GrowthMetric' })

const GrowthReport = z
  .object({
    cluster: z.string(),
    metrics: z.array(MetricInfo),
    points: z.array(z.object({ version: z.number().int(), createdAt: z.string(), values: z.record(z.string(), z.number().nullable()) })),
  })
  .meta({ id: 'GrowthReport', description: 'One point per version, oldest first; a value is null where it does not apply (deltaRules of version 1)' })

const NamespaceCounts = {
  services: z.number().int(),
  servicePorts: z.number().int(),
  endpoints: z.number().int(),
  chains: z.number().int(),
  rules: z.number().int(),
}
const NamespaceCountsObj = z.object(NamespaceCounts)

const NamespaceBreakdown = z
  .object({
    cluster: z.string(),
    version: z.number().int().nullable(),
    createdAt: z.string().nullable(),
    namespaces: z.array(z.object({ namespace: z.string(), ...NamespaceCounts })),
  })
  .meta({ id: 'NamespaceBreakdown' })

const NamespaceSeries = z
  .object({
    cluster: z.string(),
    namespace: z.string(),
    points: z.array(z.object({ version: z.number().int(), createdAt: z.string(), ...NamespaceCounts })),
  })
  .meta({ id: 'NamespaceSeries' })

const TopGrowers = z
  .object({
    cluster: z.string(),
    by: z.enum(['rules', 'chains', 'services', 'servicePorts', 'endpoints']),
    fromVersion: z.number().int().nullable(),
    toVersion: z.number().int().nullable(),
    fromTime: z.string().nullable(),
    toTime: z.string().nullable(),
    growers: z.array(z.object({ namespace: z.string(), from: NamespaceCountsObj, to: NamespaceCountsObj, delta: NamespaceCountsObj })),
  })
  .meta({ id: 'TopGrowers' })

const Projection = z
  .object({
    cluster: z.string(),
    metric: z.string(),
    threshold: z.number(),
    status: z
      .enum(['projected', 'reached', 'never', 'insufficient-data', 'poor-fit'])
      .describe('insufficient-data: fewer than 5 versions or less than a day of history; poor-fit: r² below 0.5'),
    at: z.string().nullable().describe('Projected crossing (or first reached) time'),
    slopePerDay: z.number().nullable(),
    current: z.number().nullable().describe('The last measured value'),
    fitted: z.number().nullable().describe("The fitted line's value now"),
    r2: z.number().nullable().describe('Fit quality (coefficient of determination)'),
    points: z.number().int(),
    spanDays: z.number().describe('Time between the first and the last version, days'),
    interval: z
      .object({ from: z.string(), to: z.string().nullable() })
      .nullable()
      .describe('When the 95 % prediction band crosses the threshold: from its upper edge, to its lower edge (null: not within 100 years)'),
    message: z.string(),
  })
  .meta({ id: 'Projection' })

function growthOf(app: { services: { growth?: GrowthServices } }): GrowthServices {
  return serviceOf(app.services, 'growth')
}

/** Registered by app.ts under /v1 as its own encapsulated scope (hence the zod compilers here). */
const growthRoutes: FastifyPluginAsyncZod = async (app) => {
  zodScope(app)
  app.get(
    '/growth/metrics',
    { schema: { tags: ['growth'], summary: 'Metrics a growth query can ask for', response: { 200: z.object({ metrics: z.array(MetricInfo) }), ...problems } } },
    async () => ({ metrics: [...growthOf(app).metrics()] }),
  )

  app.get(
    '/clusters/:cluster/growth',
    {
      schema: {
        tags: ['growth'],
        summary: 'Growth of rule, chain and endpoint counts over versions',
        description: 'Read from statistics stored when each version was created; never re-plans. `format=csv` answers text/csv.',
        params: ClusterParams,
        querystring: GrowthQuery,
        response: { 200: GrowthReport, ...problems },
      },
    },
    async (request, reply) => {
      const { from, to, metric, format } = request.query
      const report = await growthOf(app).growth(request.params.cluster, { from, to, metrics: metric })
      if (format === 'csv') {
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="${report.cluster}-growth.csv"`)
          .serializer((x: unknown) => x as string)
          .send(growthCsv(report) as never)
      }
      return report
    },
  )

  app.get(
    '/clusters/:cluster/growth.svg',
    {
      schema: {
        tags: ['growth'],
        summary: 'Growth chart (SVG): rules and chains over time by default',
        params: ClusterParams,
        querystring: z.strictObject({
          from: BoundParam,
          to: BoundParam,
          metric: MetricParam,
          width: z.coerce.number().int().min(200).max(4000).default(800),
          height: z.coerce.number().int().min(120).max(3000).default(360),
        }),
        response: { 200: z.string().describe('image/svg+xml'), ...problems },
      },
    },
    async (request, reply) => {
      const { from, to, metric, width, height } = request.query
      const report = await growthOf(app).growth(request.params.cluster, { from, to, metrics: metric ?? ['rules', 'chains'] })
      return reply
        .type('image/svg+xml; charset=utf-8')
        .serializer((x: unknown) => x as string)
        .send(growthSvg(report, { width, height }))
    },
  )

  app.get(
    '/clusters/:cluster/growth/namespaces',
    {
      schema: {
        tags: ['growth'],
        summary: 'Per-namespace counts of the newest version at or before `at`',
        params: ClusterParams,
        querystring: z.strictObject({ at: BoundParam }),
        response: { 200: NamespaceBreakdown, ...problems },
      },
    },
    async (request) => growthOf(app).namespaces(request.params.cluster, request.query),
  )

  app.get(
    '/clusters/:cluster/growth/namespaces/:namespace',
    {
      schema: {
        tags: ['growth'],
        summary: 'One namespace over versions',
        params: ClusterParams.extend({ namespace: z.string().min(1).max(253) }),
        querystring: z.strictObject({ from: BoundParam, to: BoundParam }),
        response: { 200: NamespaceSeries, ...problems },
      },
    },
    async (request) => growthOf(app).namespaceGrowth(request.params.cluster, request.params.namespace, request.query),
  )

  app.get(
    '/clusters/:cluster/growth/nodes',
    {
      schema: {
        tags: ['growth', 'nodes'],
        summary: "Per version: the spread of table sizes across the version's nodes, and one node's own",
        params: ClusterParams,
        querystring: z.strictObject({ from: BoundParam, to: BoundParam, node: NodeName.optional().describe('A node whose own sizes to add') }),
        response: { 200: NodeGrowth, ...problems },
      },
    },
    async (request) => growthOf(app).nodes(request.params.cluster, request.query),
  )

  app.get(
    '/clusters/:cluster/growth/top',
    {
      schema: {
        tags: ['growth'],
        summary: 'Namespaces that grew most between two times (or versions)',
        params: ClusterParams,
        querystring: z.strictObject({
          from: BoundParam,
          to: BoundParam,
          by: z.enum(['rules', 'chains', 'services', 'servicePorts', 'endpoints']).default('rules'),
          limit: z.coerce.number().int().min(1).max(1000).default(10),
        }),
        response: { 200: TopGrowers, ...problems },
      },
    },
    async (request) => growthOf(app).topGrowers(request.params.cluster, request.query),
  )

  app.get(
    '/clusters/:cluster/growth/projection',
    {
      schema: {
        tags: ['growth'],
        summary: 'When a metric crosses a threshold at the current rate (least squares over time)',
        params: ClusterParams,
        querystring: z.strictObject({
          metric: z.string().max(100).default('kubeServicesRules'),
          threshold: z.coerce.number().positive().default(10_000),
          from: BoundParam,
          to: BoundParam,
        }),
        response: { 200: Projection, ...problems },
      },
    },
    async (request) => growthOf(app).projection(request.params.cluster, request.query),
  )
}

export default growthRoutes
