/** POST /v1/clusters/{cluster}/snapshots: ingest a snapshot as a new version (or not, if identical). */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { validatorCompiler } from 'fastify-type-provider-zod'
import { YAML_CONTENT_TYPES } from '../../plugins/app/yaml.js'
import type { ParseLimits } from '../../services/bounded.js'
import { versionLinks, withVersionLinks } from './links.js'
import { ClusterParams, IngestResponse, Problem, ProxyQuery, SnapshotBody } from './schemas.js'

const problems = { 400: Problem, 401: Problem, 403: Problem, 413: Problem, 415: Problem, 422: Problem, 429: Problem, 503: Problem }

/** A snapshot's body as received: parsed and validated by the ingest worker, off the event loop. */
class RawBody {
  constructor(
    readonly bytes: Buffer,
    readonly type: 'json' | 'yaml',
  ) {}
}

const snapshotRoutes: FastifyPluginAsyncZod<{ limits?: ParseLimits }> = async (app, opts) => {
  // This scope's bodies stay bytes: parsing 28 MB of JSON holds a thread for a third of a second,
  // so the worker does it (src/services/ingest-workers.ts), with the same parser and limits as
  // the app's (src/services/parse-body.ts). SnapshotBody documents the shape; the worker checks it.
  app.removeContentTypeParser(['application/json', ...YAML_CONTENT_TYPES])
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => done(null, new RawBody(body as Buffer, 'json')))
  app.addContentTypeParser(YAML_CONTENT_TYPES, { parseAs: 'buffer' }, (_request, body, done) => done(null, new RawBody(body as Buffer, 'yaml')))
  app.setValidatorCompiler((req) =>
    req.httpPart === 'body' ? (value: unknown) => ({ value }) : validatorCompiler(req as Parameters<typeof validatorCompiler>[0]),
  )

  app.post(
    '/clusters/:cluster/snapshots',
    {
      config: { scope: 'write', accepts: ['application/json', ...YAML_CONTENT_TYPES] },
      schema: {
        tags: ['snapshots'],
        summary: 'Ingest a cluster snapshot',
        description:
          'Body: an envelope `{proxy, resources}`, a bare `List` (proxy settings then come from the query parameters ' +
          'and Node objects), a single object, or YAML (single or multi-document). 201 with the new version; ' +
          '200 when identical to the latest version (nothing stored). Content types: application/json, ' +
          YAML_CONTENT_TYPES.join(', ') +
          '.',
        params: ClusterParams,
        querystring: ProxyQuery,
        body: SnapshotBody,
        response: { 200: IngestResponse, 201: IngestResponse, ...problems },
      },
    },
    async (request, reply) => {
      const { cluster } = request.params
      const proxy = Object.fromEntries(Object.entries(request.query).filter(([, v]) => v !== undefined))
      const body = request.body as unknown
      const result = await app.services.ingest({
        cluster,
        ...(body instanceof RawBody ? { body: { bytes: body.bytes, type: body.type }, ...(opts.limits && { limits: opts.limits }) } : { document: body }),
        proxy: Object.keys(proxy).length > 0 ? proxy : undefined,
        actor: request.principal?.actor ?? 'anonymous',
      })
      const links = versionLinks(result.version)
      reply.header('location', links.self)
      return reply.code(result.created ? 201 : 200).send({ created: result.created, version: withVersionLinks(result.version), links })
    },
  )
}

export default snapshotRoutes
