/**
 * Clusters and versions: listing, metadata, the stored snapshot, the plan and the restore script.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { Readable } from 'node:stream'
import { z } from 'zod'
import { segmentLines, type Plan } from '../../planner/types.js'
import { etagMatches } from './etag.js'
import { pageLinks, withClusterLinks, withVersionLinks } from './links.js'
import {
  ClusterPage,
  ClusterParams,
  NodeList,
  NodeParams,
  PageQuery,
  Problem,
  RestoreQuery,
  toVersionRef,
  Version,
  VersionPage,
  VersionParams,
} from './schemas.js'
import Negotiator from 'negotiator'
import { ENCODINGS, type ContentEncoding } from '../../services/script-cache.js'

const problems = { 400: Problem, 401: Problem, 403: Problem, 404: Problem, 429: Problem, 503: Problem }

const Segment = z.object({
  key: z.string(),
  service: z.string().optional(),
  protocol: z.enum(['tcp', 'udp', 'sctp']).optional(),
  filterChains: z.array(z.string()),
  filterRules: z.array(z.string()),
  natChains: z.array(z.string()),
  natRules: z.array(z.string()),
})
const PlanSchema = z
  .object({
    families: z.array(z.object({ family: z.enum(['IPv4', 'IPv6']), segments: z.array(Segment) })),
    warnings: z.array(z.object({ code: z.string(), message: z.string(), pointer: z.string().optional() })),
    counts: z.object({ services: z.number(), servicePorts: z.number(), endpoints: z.number(), ignoredObjects: z.number() }),
  })
  .meta({ id: 'Plan', description: "Per family, the segments whose buffers concatenate into kube-proxy's restore input" })

const Envelope = z.object({ proxy: z.record(z.string(), z.unknown()), resources: z.looseObject({ items: z.array(z.unknown()) }) }).meta({ id: 'Envelope' })

/** The plan as the REST document shows it: every segment buffer as an array of lines. */
function planJson(plan: Plan): z.infer<typeof PlanSchema> {
  return {
    ...plan,
    families: plan.families.map((f) => ({
      ...f,
      segments: f.segments.map((s) => ({
        ...s,
        filterChains: segmentLines(s, 'filterChains'),
        filterRules: segmentLines(s, 'filterRules'),
        natChains: segmentLines(s, 'natChains'),
        natRules: segmentLines(s, 'natRules'),
      })),
    })),
  }
}

const versionRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/clusters',
    { schema: { tags: ['clusters'], summary: 'List clusters', querystring: PageQuery, response: { 200: ClusterPage, ...problems } } },
    async (request) => {
      const page = await app.services.listClusters(request.query)
      return { items: page.items.map(withClusterLinks), next: page.next, links: pageLinks('/v1/clusters', page.next, request.query.limit) }
    },
  )

  app.get(
    '/clusters/:cluster/versions',
    {
      schema: {
        tags: ['versions'],
        summary: 'List versions, newest first',
        params: ClusterParams,
        querystring: PageQuery,
        response: { 200: VersionPage, ...problems },
      },
    },
    async (request) => {
      const { cluster } = request.params
      const page = await app.services.listVersions(cluster, request.query)
      const path = `/v1/clusters/${encodeURIComponent(cluster)}/versions`
      return { items: page.items.map(withVersionLinks), next: page.next, links: pageLinks(path, page.next, request.query.limit) }
    },
  )

  app.get(
    '/clusters/:cluster/versions/:version',
    { schema: { tags: ['versions'], summary: 'Version metadata and plan summary', params: VersionParams, response: { 200: Version, ...problems } } },
    async (request) => withVersionLinks(await app.services.getVersion(request.params.cluster, toVersionRef(request.params.version))),
  )

  app.get(
    '/clusters/:cluster/versions/:version/snapshot',
    { schema: { tags: ['versions'], summary: 'The stored snapshot as an envelope', params: VersionParams, response: { 200: Envelope, ...problems } } },
    async (request, reply) => {
      const snapshot = await app.services.getSnapshot(request.params.cluster, toVersionRef(request.params.version))
      // Large documents: skip the schema serializer's re-validation, the store wrote them.
      return reply.serializer(JSON.stringify).send(snapshot as never)
    },
  )

  for (const [path, what] of [
    ['/clusters/:cluster/versions/:version/plan', "the version's node"],
    ['/clusters/:cluster/versions/:version/nodes/:node/plan', 'one node'],
  ] as const) {
    const perNode = path.includes(':node')
    app.get(
      path,
      {
        schema: {
          tags: [perNode ? 'nodes' : 'versions'],
          summary: `The plan of ${what}: chains and rules as JSON`,
          ...(!perNode && { description: 'A version of many nodes whose settings name none answers 400: use /nodes/{node}/plan.' }),
          params: perNode ? NodeParams : VersionParams,
          response: { 200: PlanSchema, ...problems },
        },
      },
      async (request, reply) => {
        const { cluster, version, node } = request.params as { cluster: string; version: string; node?: string }
        const plan = await app.services.getPlan(cluster, toVersionRef(version), node)
        return reply.serializer(JSON.stringify).send(planJson(plan))
      },
    )

    const scriptPath = path.replace(/plan$/, 'restore-script')
    app.get(
      scriptPath,
      {
        schema: {
          tags: [perNode ? 'nodes' : 'versions'],
          summary: `The iptables-restore input of ${what} (text/plain), streamed`,
          description:
            "Defaults: all tables, kube-proxy flavour, the plan's first family — byte for byte what kube-proxy writes. " +
            'Strong ETag; send If-None-Match for a 304. With Accept-Encoding gzip (or zstd, where the runtime has it) the ' +
            'script comes compressed (compressed once per script and kept, not per request), with its own ETag.' +
            (perNode ? '' : ' A version of many nodes whose settings name none answers 400: use /nodes/{node}/restore-script.'),
          params: perNode ? NodeParams : VersionParams,
          querystring: RestoreQuery,
          response: {
            200: { description: 'iptables-restore input', content: { 'text/plain': { schema: z.string() } } },
            304: z.undefined().describe('Not modified'),
            ...problems,
          },
        },
      },
      async (request, reply) => {
        const { cluster, version, node } = request.params as { cluster: string; version: string; node?: string }
        // At equal q the server's order breaks the tie (zstd first where there is one); negotiator 1
        // takes that as `preferred`, which @types/negotiator 0.6 does not describe yet.
        const negotiate = new Negotiator(request.raw) as unknown as { encodings(available: string[], options: { preferred: string[] }): string[] }
        const accept = negotiate.encodings([...ENCODINGS], { preferred: [...ENCODINGS] }).filter((e): e is ContentEncoding => e !== 'identity')
        const script = await app.services.getRestoreScript(cluster, toVersionRef(version), request.query, node, accept)
        reply.header('etag', script.etag).header('cache-control', 'no-cache').header('vary', 'Accept-Encoding')
        if (etagMatches(request.headers['if-none-match'], script.etag)) {
          if (!Buffer.isBuffer(script.body)) await drain(script.body)
          return reply.code(304).send()
        }
        reply.type('text/plain; charset=utf-8').header('content-disposition', `attachment; filename="${script.filename}"`)
        if (script.encoding) reply.header('content-encoding', script.encoding)
        if (Buffer.isBuffer(script.body)) return reply.send(script.body as never)
        if (script.bytes !== undefined) reply.header('content-length', script.bytes)
        return reply.send(Readable.from(script.body) as never)
      },
    )
  }

  app.get(
    '/clusters/:cluster/versions/:version/nodes',
    {
      schema: {
        tags: ['nodes'],
        summary: 'The nodes of a version, with their plan sha256, counts and variant',
        params: VersionParams,
        response: { 200: NodeList, ...problems },
      },
    },
    async (request) => {
      const list = await app.services.listNodes(request.params.cluster, toVersionRef(request.params.version))
      const base = `/v1/clusters/${encodeURIComponent(list.cluster)}/versions/${list.version}/nodes`
      return {
        ...list,
        items: list.items.map((n) => ({ ...n, links: { plan: `${base}/${n.name}/plan`, restoreScript: `${base}/${n.name}/restore-script` } })),
      }
    },
  )
}

/** Let a lazily rendered body that we will not send release what it holds. */
async function drain(body: AsyncIterable<string | Buffer>): Promise<void> {
  const iterator = body[Symbol.asyncIterator]()
  await iterator.return?.()
}

export default versionRoutes
