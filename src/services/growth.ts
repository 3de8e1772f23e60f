/**
 * Growth: how a cluster's rule set grew over its versions, by namespace, who grew most, and
 * when a metric will cross a threshold at the current rate.
 *
 * Everything here reads the per-version statistics row written at version creation
 * (recordVersionStats in src/services/stats-record.ts → src/store/stats.ts); nothing re-plans or loads a plan, so a growth
 * query over 1,000 versions is one index range scan (bench/growth.ts).
 */
import { BadRequestError, clusterNotFound } from '../errors.js'
import { readNodeSeries, readNodeSpread } from '../store/node-stats.js'
import type { PrismaClient } from '../generated/prisma/client.js'
import type { Plan } from '../planner/types.js'
import type { Queryable as PgQueryable } from '../store/db.js'
import { backfillVersionStats } from './stats-record.js'
import {
  asQueryable,
  findCluster,
  METRIC_COLUMNS,
  readNamespacesAt,
  readNamespacesFrom,
  readNamespaceSeries,
  readStatsRange,
  type Bound,
  type ClusterRef,
  type NamespaceCounts,
  type StoredMetric,
} from '../store/stats.js'
import type { MetricInfo, GrowerField, Grower, Projection, GrowthServices } from './growth-types.js'

export type * from './growth-types.js'

/**
 * The metrics a growth query can ask for. `rules`/`chains` are derived (both tables summed);
 * the rest are stored columns. Names follow what an SRE greps for (KUBE-SERVICES length is
 * `kubeServicesRules`; `deltaRules` is kube-proxy's sync_proxy_rules_iptables_last next to the
 * `natRules + filterRules` total).
 */
export const METRICS: readonly MetricInfo[] = [
  { name: 'rules', description: 'Rules in nat + filter (all families)', unit: 'rules' },
  { name: 'chains', description: 'Chains in nat + filter (all families)', unit: 'chains' },
  { name: 'natRules', description: 'Rules in the nat table', unit: 'rules' },
  { name: 'natChains', description: 'Chains in the nat table', unit: 'chains' },
  { name: 'filterRules', description: 'Rules in the filter table', unit: 'rules' },
  { name: 'filterChains', description: 'Chains in the filter table', unit: 'chains' },
  { name: 'kubeServicesRules', description: 'Length of the nat KUBE-SERVICES chain (every new connection scans it)', unit: 'rules' },
  { name: 'avgRulesToDnat', description: 'Average rules a new connection to a service traverses before its DNAT', unit: 'rules' },
  { name: 'worstRulesToDnat', description: 'Worst case of the same', unit: 'rules' },
  { name: 'services', description: 'Services', unit: 'count' },
  { name: 'servicePorts', description: 'Service ports', unit: 'count' },
  { name: 'servicesWithoutEndpoints', description: 'Service ports with no usable endpoint (REJECT rules)', unit: 'count' },
  { name: 'endpoints', description: 'Endpoints', unit: 'count' },
  { name: 'endpointsReady', description: 'Ready endpoints', unit: 'count' },
  { name: 'endpointsServing', description: 'Serving endpoints', unit: 'count' },
  { name: 'endpointsTerminating', description: 'Terminating endpoints', unit: 'count' },
  { name: 'scriptBytes', description: 'Bytes of the full restore script', unit: 'bytes' },
  { name: 'deltaRules', description: 'Rules in the minimal restore from the previous version (kube-proxy _last)', unit: 'rules' },
  { name: 'deltaBytes', description: 'Bytes of the minimal restore from the previous version', unit: 'bytes' },
]

const METRIC_NAMES = new Set(METRICS.map((m) => m.name))
const DERIVED: Record<string, StoredMetric[]> = {
  rules: ['natRules', 'filterRules'],
  chains: ['natChains', 'filterChains'],
}
export const DEFAULT_METRICS = ['rules', 'chains', 'kubeServicesRules', 'services', 'endpoints']

export const GROWER_FIELDS: readonly GrowerField[] = ['rules', 'chains', 'services', 'servicePorts', 'endpoints']

/** A projection needs this much history, and this good a fit, to be made at all. */
export const PROJECTION_MIN_POINTS = 5
export const PROJECTION_MIN_SPAN_DAYS = 1
export const PROJECTION_MIN_R2 = 0.5

const RELATIVE = /^-(\d+)([smhdw])$/
const UNIT_MS: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 }

/** `from`/`to` as a version number, an ISO time, or `-30d`; a clear 400 with a pointer otherwise. */
export function parseBound(raw: string | undefined, name: string, now = Date.now()): Bound | undefined {
  if (raw === undefined || raw === '') return undefined
  const text = raw.trim()
  if (/^\d+$/.test(text)) {
    const version = Number(text)
    if (!Number.isSafeInteger(version) || version < 1 || version > 2_147_483_647)
      throw badParam(name, `must be a version number ≥ 1, an ISO 8601 time or a relative time like -7d`)
    return { version }
  }
  const rel = RELATIVE.exec(text)
  if (rel) return { at: new Date(now - Number(rel[1]) * UNIT_MS[rel[2]!]!) }
  // Only full ISO 8601 dates/times: Date.parse also takes "1" or "March 7", which would silently mean something else.
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)) {
    const at = new Date(text)
    if (!Number.isNaN(at.getTime())) return { at }
  }
  throw badParam(name, `"${raw}" is not a version number, an ISO 8601 time or a relative time like -7d`)
}

function badParam(name: string, detail: string): BadRequestError {
  return new BadRequestError(`invalid query parameter ${name}: ${detail}`, [{ pointer: `/${name}`, detail }])
}

export function parseMetrics(raw: readonly string[] | undefined): string[] {
  const names = (raw ?? [])
    .flatMap((m) => m.split(','))
    .map((m) => m.trim())
    .filter(Boolean)
  if (names.length === 0) return [...DEFAULT_METRICS]
  const unknown = names.filter((n) => !METRIC_NAMES.has(n))
  if (unknown.length) {
    throw new BadRequestError(`unknown metric ${unknown.map((u) => `"${u}"`).join(', ')}; known: ${[...METRIC_NAMES].join(', ')}`, [
      { pointer: '/metric', detail: `unknown metric ${unknown.join(', ')}` },
    ])
  }
  return [...new Set(names)]
}

function storedColumnsFor(metrics: readonly string[]): StoredMetric[] {
  const cols = new Set<StoredMetric>()
  for (const m of metrics) for (const c of DERIVED[m] ?? [m as StoredMetric]) cols.add(c)
  return [...cols]
}

function valueOf(metric: string, values: Partial<Record<StoredMetric, number | null>>): number | null {
  const parts = DERIVED[metric]
  if (!parts) return values[metric as StoredMetric] ?? null
  let sum = 0
  for (const p of parts) {
    const v = values[p]
    if (v === null || v === undefined) return null
    sum += v
  }
  return sum
}

/** Ordinary least squares of y on x. */
export function leastSquares(xs: readonly number[], ys: readonly number[]): { slope: number; intercept: number; r2: number } | null {
  const n = xs.length
  if (n < 2) return null
  let mx = 0
  let my = 0
  for (let i = 0; i < n; i++) {
    mx += xs[i]!
    my += ys[i]!
  }
  mx /= n
  my /= n
  let sxx = 0
  let sxy = 0
  let syy = 0
  for (let i = 0; i < n; i++) {
    const dx = xs[i]! - mx
    const dy = ys[i]! - my
    sxx += dx * dx
    sxy += dx * dy
    syy += dy * dy
  }
  if (sxx === 0) return null
  const slope = sxy / sxx
  return { slope, intercept: my - slope * mx, r2: syy === 0 ? 1 : (sxy * sxy) / (sxx * syy) }
}

const DAY_MS = 86_400_000
// Beyond this the "date" is meaningless (and past JavaScript's Date range): call it never.
const MAX_PROJECTION_MS = 100 * 365 * DAY_MS

/**
 * Where the least-squares line over (time, value) crosses `threshold`. Pure, so the arithmetic
 * is tested directly (test/growth/projection.test.ts).
 */
export function project(
  points: ReadonlyArray<{ at: Date; value: number; version: number }>,
  threshold: number,
  now: number,
): Omit<Projection, 'cluster' | 'metric' | 'threshold' | 'message'> {
  const last = points[points.length - 1]
  const t0 = points[0]?.at.getTime() ?? 0
  const base = { points: points.length, current: last?.value ?? null, spanDays: last ? (last.at.getTime() - t0) / DAY_MS : 0, interval: null }
  const reached = points.find((p) => p.value >= threshold)
  if (last && last.value >= threshold) {
    return { ...base, status: 'reached', at: reached!.at.toISOString(), slopePerDay: fitSlope(points), fitted: null, r2: null }
  }
  const xs = points.map((p) => (p.at.getTime() - t0) / DAY_MS)
  const ys = points.map((p) => p.value)
  const fit = leastSquares(xs, ys)
  const none = { ...base, at: null, slopePerDay: fit?.slope ?? null, fitted: null, r2: fit?.r2 ?? null }
  if (!fit || points.length < PROJECTION_MIN_POINTS || base.spanDays < PROJECTION_MIN_SPAN_DAYS) return { ...none, status: 'insufficient-data' }
  const xNow = (now - t0) / DAY_MS
  const common = { ...base, slopePerDay: fit.slope, fitted: fit.intercept + fit.slope * xNow, r2: fit.r2 }
  if (fit.slope <= 0) return { ...common, status: 'never', at: null }
  if (fit.r2 < PROJECTION_MIN_R2) return { ...common, status: 'poor-fit', at: null }
  const crossing = t0 + ((threshold - fit.intercept) / fit.slope) * DAY_MS
  if (crossing - now > MAX_PROJECTION_MS) return { ...common, status: 'never', at: null }
  return { ...common, status: 'projected', at: new Date(Math.max(crossing, now)).toISOString(), interval: predictionInterval(xs, ys, fit, threshold, xNow, t0) }
}

/** Student's t, two-sided 95 %, for `dof` degrees of freedom (the table's; ≥ 30: the normal's). */
function t95(dof: number): number {
  const table = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074,
    2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045,
  ]
  return dof >= 30 ? 1.96 : table[dof - 1]!
}

/**
 * When the 95 % prediction band of the fit crosses `threshold`: the upper edge first, the lower
 * edge last (ŷ ± t·s·√(1 + 1/n + (x − x̄)²/Sxx)), found by bisection from now on.
 */
function predictionInterval(
  xs: number[],
  ys: number[],
  fit: { slope: number; intercept: number },
  threshold: number,
  xNow: number,
  t0: number,
): { from: string; to: string | null } {
  const n = xs.length
  const mx = xs.reduce((a, b) => a + b, 0) / n
  let sxx = 0
  let sse = 0
  for (let i = 0; i < n; i++) {
    sxx += (xs[i]! - mx) ** 2
    sse += (ys[i]! - (fit.intercept + fit.slope * xs[i]!)) ** 2
  }
  const s = Math.sqrt(sse / (n - 2))
  const t = t95(n - 2)
  const half = (x: number): number => t * s * Math.sqrt(1 + 1 / n + (x - mx) ** 2 / sxx)
  const yhat = (x: number): number => fit.intercept + fit.slope * x
  const maxX = xNow + MAX_PROJECTION_MS / DAY_MS
  const crossing = (edge: (x: number) => number): number | null => {
    if (edge(xNow) >= threshold) return xNow
    if (edge(maxX) < threshold) return null
    let lo = xNow
    let hi = maxX
    for (let i = 0; i < 80; i++) {
      const mid = (lo + hi) / 2
      if (edge(mid) >= threshold) hi = mid
      else lo = mid
    }
    return hi
  }
  const upper = crossing((x) => yhat(x) + half(x))!
  const lower = crossing((x) => yhat(x) - half(x))
  const iso = (x: number): string => new Date(t0 + x * DAY_MS).toISOString()
  return { from: iso(upper), to: lower === null ? null : iso(lower) }
}

function fitSlope(points: ReadonlyArray<{ at: Date; value: number }>): number | null {
  const t0 = points[0]?.at.getTime() ?? 0
  return (
    leastSquares(
      points.map((p) => (p.at.getTime() - t0) / DAY_MS),
      points.map((p) => p.value),
    )?.slope ?? null
  )
}

function spanText(ms: number): string {
  if (ms >= 2 * DAY_MS) return `${Math.round(ms / DAY_MS)} days`
  if (ms >= 2 * 3_600_000) return `${Math.round(ms / 3_600_000)} hours`
  return `${Math.max(1, Math.round(ms / 60_000))} minutes`
}

function describe(metric: string, threshold: number, p: ReturnType<typeof project>, spanMs: number): string {
  const span = spanText(spanMs)
  const what = metric === 'kubeServicesRules' ? 'KUBE-SERVICES' : metric
  const unit = METRICS.find((m) => m.name === metric)?.unit ?? 'count'
  const amount = `${threshold.toLocaleString('en-US')}${unit === 'count' ? '' : ` ${unit}`}`
  switch (p.status) {
    case 'reached':
      return `${what} already passed ${amount} (first on ${p.at!.slice(0, 10)})`
    case 'projected':
      return `at this rate ${what} passes ${amount} around ${p.at!.slice(0, 10)} (least squares over ${p.points} versions spanning ${span})`
    case 'poor-fit':
      return `${what} moves too unevenly over ${p.points} versions spanning ${span} for a projection (r² ${p.r2!.toFixed(2)} < ${PROJECTION_MIN_R2})`
    case 'never':
      return `at this rate ${what} never passes ${amount} (${p.slopePerDay !== null && p.slopePerDay <= 0 ? 'it is not growing' : 'not within 100 years'})`
    default:
      return `not enough history to project ${what}: ${p.points} versions spanning ${span} (a projection needs ${PROJECTION_MIN_POINTS} versions over at least ${PROJECTION_MIN_SPAN_DAYS} day)`
  }
}

export interface GrowthOptions {
  /** Clock for relative bounds (`-30d`) and projections; default Date.now. */
  now?: () => number
  /**
   * Loads a stored plan. When given, versions that have no statistics row (created before the
   * table existed, or by a path that did not call recordVersionStats) are filled in from their
   * stored plans before a query answers — loading, never re-planning.
   */
  getPlan?: (cluster: string, version: number) => Promise<Plan>
  /** For the per-node statistics (store/node-stats.ts). */
  prisma?: PrismaClient
}

export function createGrowthServices(db: PgQueryable, opts: GrowthOptions = {}): GrowthServices {
  const q = asQueryable(db)
  const now = opts.now ?? Date.now

  async function cluster(name: string): Promise<ClusterRef> {
    const c = await findCluster(q, name)
    if (!c) throw clusterNotFound(name)
    if (opts.getPlan) await backfillVersionStats(db, opts.getPlan, { clusterId: c.id, limit: 500 })
    return c
  }

  function range(query: { from?: string; to?: string }) {
    const t = now()
    return { from: parseBound(query.from, 'from', t), to: parseBound(query.to, 'to', t) }
  }

  return {
    metrics: () => METRICS,

    async growth(name, query = {}) {
      const metrics = parseMetrics(query.metrics)
      const r = range(query)
      const c = await cluster(name)
      const rows = await readStatsRange(q, c.id, storedColumnsFor(metrics), r)
      return {
        cluster: c.name,
        metrics: metrics.map((m) => METRICS.find((x) => x.name === m)!),
        points: rows.map((row) => ({
          version: row.version,
          createdAt: row.createdAt.toISOString(),
          values: Object.fromEntries(metrics.map((m) => [m, valueOf(m, row.values)])),
        })),
      }
    },

    async namespaces(name, query = {}) {
      const at = parseBound(query.at, 'at', now())
      const c = await cluster(name)
      const snap = await readNamespacesAt(q, c.id, at)
      const rows = Object.entries(snap?.namespaces ?? {})
        .map(([namespace, counts]) => ({ namespace, ...counts }))
        .sort((a, b) => b.rules - a.rules || a.namespace.localeCompare(b.namespace))
      return { cluster: c.name, version: snap?.version ?? null, createdAt: snap?.createdAt.toISOString() ?? null, namespaces: rows }
    },

    async namespaceGrowth(name, namespace, query = {}) {
      const r = range(query)
      const c = await cluster(name)
      const rows = await readNamespaceSeries(q, c.id, namespace, r)
      return {
        cluster: c.name,
        namespace,
        points: rows.map((row) => ({ version: row.version, createdAt: row.createdAt.toISOString(), ...(row.counts ?? ZERO) })),
      }
    },

    async nodes(name, query = {}) {
      const r = range(query)
      const c = await cluster(name)
      if (!opts.prisma) throw new Error('growth per node needs the Prisma client')
      const [spread, own] = await Promise.all([
        readNodeSpread(opts.prisma, c.id, r),
        query.node === undefined ? Promise.resolve(undefined) : readNodeSeries(opts.prisma, c.id, query.node, r),
      ])
      const byVersion = new Map((own ?? []).map((p) => [p.version, p]))
      return {
        cluster: c.name,
        ...(query.node !== undefined && { node: query.node }),
        points: spread.map((p) => {
          const mine = byVersion.get(p.version)
          const point = { ...p, createdAt: p.createdAt.toISOString() }
          if (query.node === undefined) return point
          if (!mine) return { ...point, node: null }
          const { version: _v, createdAt: _c, ...sizes } = mine
          return { ...point, node: sizes }
        }),
      }
    },

    async topGrowers(name, query = {}) {
      const by = (query.by ?? 'rules') as GrowerField
      if (!GROWER_FIELDS.includes(by)) throw badParam('by', `must be one of ${GROWER_FIELDS.join(', ')}`)
      const limit = query.limit ?? 10
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw badParam('limit', 'must be an integer from 1 to 1000')
      const r = range(query)
      const c = await cluster(name)
      const [start, end] = await Promise.all([readNamespacesFrom(q, c.id, r.from), readNamespacesAt(q, c.id, r.to)])
      const growers = start && end && start.version <= end.version ? rankGrowers(start.namespaces, end.namespaces, by).slice(0, limit) : []
      return {
        cluster: c.name,
        by,
        fromVersion: start?.version ?? null,
        toVersion: end?.version ?? null,
        fromTime: start?.createdAt.toISOString() ?? null,
        toTime: end?.createdAt.toISOString() ?? null,
        growers,
      }
    },

    async projection(name, query = {}) {
      const metric = parseMetrics(query.metric ? [query.metric] : ['kubeServicesRules'])[0]!
      const threshold = query.threshold ?? 10_000
      if (!Number.isFinite(threshold) || threshold <= 0) throw badParam('threshold', 'must be a positive number')
      const r = range(query)
      const c = await cluster(name)
      const rows = await readStatsRange(q, c.id, storedColumnsFor([metric]), r)
      const points = rows.flatMap((row) => {
        const value = valueOf(metric, row.values)
        return value === null ? [] : [{ at: row.createdAt, value, version: row.version }]
      })
      const p = project(points, threshold, now())
      const times = points.map((x) => x.at.getTime())
      const spanMs = times.length ? Math.max(...times) - Math.min(...times) : 0
      return { cluster: c.name, metric, threshold, ...p, message: describe(metric, threshold, p, spanMs) }
    },
  }
}

const ZERO: NamespaceCounts = { services: 0, servicePorts: 0, endpoints: 0, chains: 0, rules: 0 }

/** Namespaces ranked by growth of `by` between two breakdowns (new namespaces count from zero). */
export function rankGrowers(from: Record<string, NamespaceCounts>, to: Record<string, NamespaceCounts>, by: GrowerField): Grower[] {
  const names = new Set([...Object.keys(from), ...Object.keys(to)])
  const out: Grower[] = []
  for (const namespace of names) {
    const a = from[namespace] ?? ZERO
    const b = to[namespace] ?? ZERO
    const delta = Object.fromEntries(GROWER_FIELDS.map((f) => [f, (b[f] ?? 0) - (a[f] ?? 0)])) as unknown as NamespaceCounts
    out.push({ namespace, from: { ...ZERO, ...a }, to: { ...ZERO, ...b }, delta })
  }
  return out.sort((x, y) => y.delta[by] - x.delta[by] || x.namespace.localeCompare(y.namespace))
}

export { METRIC_COLUMNS }
