/**
 * GraphQL resolvers: thin, like the REST routes. Versions reached through a parent (a cluster's
 * latest, a rollback's source) go through mercurius loaders, which batch every such lookup in a
 * query into one services.getVersions call; plan summaries come from the version's stored
 * counts, so listing N versions with their summaries costs a constant number of queries.
 */
import { GraphQLScalarType, valueFromASTUntyped } from 'graphql'
import type { IResolvers, MercuriusContext, MercuriusLoaders } from 'mercurius'
import { z } from 'zod'
import { BadRequestError, DomainError } from '../../errors.js'
import { hasScope, type Principal } from '../../plugins/app/auth.js'
import { parseYaml } from '../../plugins/app/yaml.js'
import { ClusterName, NodeName } from '../rest/schemas.js'
import type { ClusterSummary, NodeSummary, RestoreScript, Services, VersionSummary } from '../../services/contract.js'

declare module 'mercurius' {
  interface MercuriusContext {
    services: Services
    principal: Principal | undefined
  }
}

export type GraphQLContext = MercuriusContext

export class ForbiddenError extends DomainError {
  constructor(detail: string) {
    super(403, 'Forbidden', detail)
  }
}

const JSONScalar = new GraphQLScalarType({
  name: 'JSON',
  serialize: (v) => v,
  parseValue: (v) => v,
  parseLiteral: (ast, variables) => valueFromASTUntyped(ast, variables),
})

const RefArg = z.union([z.literal('latest'), z.coerce.number().int().positive().max(999_999_999)])
const Limit = z.number().int().min(1).max(500)
const RestoreArgs = z.object({
  table: z.enum(['nat', 'filter', 'all']),
  flavour: z.enum(['kube-proxy', 'standalone']),
  family: z
    .enum(['IPv4', 'IPv6'])
    .nullish()
    .transform((v) => v ?? undefined),
})

/** Arguments are checked with zod; a failure is a client error naming the argument. */
function parseArg<T>(schema: z.ZodType<T>, value: unknown, name: string): T {
  const result = schema.safeParse(value)
  if (!result.success) {
    throw new BadRequestError(`invalid argument ${name}: ${result.error.issues[0]?.message ?? 'invalid'}`, [
      { pointer: `/${name}`, detail: result.error.issues[0]?.message ?? 'invalid' },
    ])
  }
  return result.data
}

async function readAll(body: RestoreScript['body']): Promise<string> {
  if (Buffer.isBuffer(body)) return body.toString('utf8')
  const chunks: Buffer[] = []
  for await (const chunk of body) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
  return Buffer.concat(chunks).toString('utf8')
}

/** Missing versions are null in GraphQL, not errors. */
async function orNull<T>(promise: Promise<T>): Promise<T | null> {
  try {
    return await promise
  } catch (err) {
    if (err instanceof DomainError && err.status === 404) return null
    throw err
  }
}

export const resolvers: IResolvers = {
  JSON: JSONScalar,
  Query: {
    clusters: (_root, args: { limit: number; cursor?: string | null }, ctx: GraphQLContext) =>
      ctx.services.listClusters({ limit: parseArg(Limit, args.limit, 'limit'), cursor: args.cursor ?? undefined }),
    cluster: (_root, args: { name: string }, ctx: GraphQLContext) => orNull(ctx.services.getCluster(parseArg(ClusterName, args.name, 'name'))),
  },
  Mutation: {
    ingestSnapshot: async (_root, args: { cluster: string; document: unknown; proxy?: unknown }, ctx: GraphQLContext) => {
      if (!hasScope(ctx.principal, 'write')) {
        throw new ForbiddenError(`token "${ctx.principal?.actor ?? 'none'}" cannot ingest: this mutation needs scope write`)
      }
      const proxy = parseArg(z.record(z.string(), z.unknown()).nullish(), args.proxy, 'proxy')
      const cluster = parseArg(ClusterName, args.cluster, 'cluster')
      // Text is what kubectl printed (-o yaml or -o json): read it as the REST route reads YAML bodies.
      const document = typeof args.document === 'string' ? parseYaml(args.document) : args.document
      return ctx.services.ingest({ cluster, document, proxy: proxy ?? undefined, actor: ctx.principal?.actor ?? 'anonymous' })
    },
  },
  Cluster: {
    // Counted, not derived from the numbering: pruning removes old versions.
    versionCount: (c: ClusterSummary) => c.versions,
    versions: (c: ClusterSummary, args: { limit: number; cursor?: string | null }, ctx: GraphQLContext) =>
      ctx.services.listVersions(c.name, { limit: parseArg(Limit, args.limit, 'limit'), cursor: args.cursor ?? undefined }),
    version: (c: ClusterSummary, args: { ref: string }, ctx: GraphQLContext) => orNull(ctx.services.getVersion(c.name, parseArg(RefArg, args.ref, 'ref'))),
  },
  Version: {
    plan: (v: VersionSummary) => planSummary(v.counts),
    counts: (v: VersionSummary) => v.counts,
    restoreScript: async (v: VersionSummary, args: Record<string, unknown>, ctx: GraphQLContext) => {
      const query = parseArg(RestoreArgs, args, 'restoreScript')
      return readAll((await ctx.services.getRestoreScript(v.cluster, v.version, query)).body)
    },
    nodes: async (v: VersionSummary, _args: unknown, ctx: GraphQLContext) => {
      const list = await ctx.services.listNodes(v.cluster, v.version)
      return list.items.map((n) => ({ ...n, cluster: v.cluster, version: v.version }))
    },
    node: async (v: VersionSummary, args: { name: string }, ctx: GraphQLContext) => {
      const name = parseArg(NodeName, args.name, 'name')
      const n = (await ctx.services.listNodes(v.cluster, v.version)).items.find((x) => x.name === name)
      return n ? { ...n, cluster: v.cluster, version: v.version } : null
    },
  },
  Node: {
    plan: (n: NodeSummary) => planSummary(n.counts),
    restoreScript: async (n: NodeSummary & { cluster: string; version: number }, args: Record<string, unknown>, ctx: GraphQLContext) => {
      const query = parseArg(RestoreArgs, args, 'restoreScript')
      return readAll((await ctx.services.getRestoreScript(n.cluster, n.version, query, n.name)).body)
    },
  },
}

function planSummary(counts: Pick<VersionSummary['counts'], 'families' | 'scriptBytes'>) {
  return {
    scriptBytes: counts.scriptBytes,
    families: Object.entries(counts.families).map(([family, tables]) => ({
      family,
      tables: Object.entries(tables ?? {}).map(([table, c]) => ({ table, chains: c.chains, rules: c.rules })),
    })),
  }
}

/** The versions behind `keys` in one services.getVersions call; version 0 means none. */
async function versionsBatch(services: Services, keys: Array<{ cluster: string; version: number }>): Promise<Array<VersionSummary | null>> {
  const wanted = keys.filter((k) => k.version > 0)
  const found = wanted.length ? await services.getVersions(wanted) : []
  const byKey = new Map(wanted.map((k, i) => [`${k.cluster}\u0000${k.version}`, found[i] ?? null]))
  return keys.map((k) => byKey.get(`${k.cluster}\u0000${k.version}`) ?? null)
}

/** One services.getVersions call per query for every parent-linked version. */
export const loaders: MercuriusLoaders<GraphQLContext> = {
  Cluster: {
    latest: (queries: Array<{ obj: ClusterSummary }>, ctx) =>
      versionsBatch(
        ctx.services,
        queries.map(({ obj }) => ({ cluster: obj.name, version: obj.latestVersion ?? 0 })),
      ),
  },
  Version: {
    source: (queries: Array<{ obj: VersionSummary }>, ctx) =>
      versionsBatch(
        ctx.services,
        queries.map(({ obj }) => ({ cluster: obj.cluster, version: obj.sourceVersion ?? 0 })),
      ),
  },
}
