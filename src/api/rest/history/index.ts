/**
 * History routes: diffs, rollbacks, the event history, backups (create, list, get,
 * download, import), pruning and cluster deletion. Thin: validate, call one HistoryServices
 * method (app.services.history), shape the response.
 *
 * Also owns the retention timer: when NATPLAN_RETAIN_VERSIONS or NATPLAN_RETAIN_DAYS is set,
 * the policy is applied every NATPLAN_RETAIN_INTERVAL seconds (default 3600) while the app runs.
 */
import type { FastifyInstance } from 'fastify'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { Readable } from 'node:stream'
import { z } from 'zod'
import { LimitError } from '../../../errors.js'
import { drainRequest } from '../../../services/backup-archive.js'
import type { HistoryServices } from '../../../services/history-types.js'
import type { HistoryEventType } from '../../../services/history-types.js'
import { serviceOf } from '../../optional.js'
import { etagMatches } from '../etag.js'
import { withVersionLinks } from '../links.js'
import { ClusterParams, Problem, toVersionRef } from '../schemas.js'
import * as S from './schemas.js'

const problems = { 400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem, 429: Problem, 503: Problem }
const enc = encodeURIComponent

/** The archive content types accepted by the import route. */
export const ARCHIVE_CONTENT_TYPES = ['application/gzip', 'application/x-gzip', 'application/x-tar+gzip', 'application/octet-stream']

function history(app: FastifyInstance): HistoryServices {
  return serviceOf(app.services, 'history')
}

const backupLinks = (b: { id: string; cluster: string }) => ({
  self: `/v1/backups/${b.id}`,
  download: `/v1/backups/${b.id}/download`,
  cluster: `/v1/clusters/${enc(b.cluster)}/versions`,
  history: `/v1/clusters/${enc(b.cluster)}/history`,
})

const historyRoutes: FastifyPluginAsyncZod = async (app) => {
  // Archives stream straight into the tar/gzip parser; the byte limit is enforced there.
  app.addContentTypeParser(ARCHIVE_CONTENT_TYPES, (_request, payload, done) => done(null, payload))

  app.get(
    '/clusters/:cluster/diff',
    {
      schema: {
        tags: ['history'],
        summary: 'Diff two versions',
        description:
          'Computed from stored segment hashes (only changed segments are read). format=json: per family, per table ' +
          'chains added/removed/changed and rules added/removed, grouped by service port, with a summary. format=unified: ' +
          'text/x-diff of the normalised scripts. format=restore: the minimal `iptables-restore --noflush` input ' +
          '(KEP-3453 partial sync) taking a node from `from` to `to`.',
        params: ClusterParams,
        querystring: S.DiffQuery,
        response: {
          200: {
            description: 'The diff',
            content: { 'application/json': { schema: S.JsonDiff }, 'text/x-diff': { schema: z.string() }, 'text/plain': { schema: z.string() } },
          },
          ...problems,
        },
      },
    },
    async (request, reply) => {
      const { cluster } = request.params
      const { format, family, fromNode, toNode } = request.query
      const q = { from: toVersionRef(request.query.from), to: toVersionRef(request.query.to), family, fromNode, toNode }
      if (format === 'json') {
        const d = await history(app).diffJson(cluster, q)
        const base = `/v1/clusters/${enc(cluster)}`
        const nodes = `${fromNode ? `&fromNode=${enc(fromNode)}` : ''}${toNode ? `&toNode=${enc(toNode)}` : ''}`
        const links = {
          self: `${base}/diff?from=${d.from}&to=${d.to}${nodes}`,
          unified: `${base}/diff?from=${d.from}&to=${d.to}&format=unified${nodes}`,
          restore: `${base}/diff?from=${d.from}&to=${d.to}&format=restore${nodes}`,
          from: `${base}/versions/${d.from}`,
          to: `${base}/versions/${d.to}`,
        }
        return reply
          .type('application/json; charset=utf-8')
          .serializer(JSON.stringify)
          .send({ ...d, links })
      }
      const d = format === 'unified' ? await history(app).diffUnified(cluster, q) : await history(app).diffRestore(cluster, q)
      const name = `${cluster}-v${d.from}${fromNode ? `-${fromNode}` : ''}-v${d.to}${toNode ? `-${toNode}` : ''}${format === 'unified' ? '.diff' : '.rules'}`
      return reply
        .type(format === 'unified' ? 'text/x-diff; charset=utf-8' : 'text/plain; charset=utf-8')
        .header('content-disposition', `inline; filename="${name}"`)
        .header('x-natplan-family', d.family)
        .serializer((x: unknown) => x as string)
        .send(d.text)
    },
  )

  app.post(
    '/clusters/:cluster/rollbacks',
    {
      config: { scope: 'write' },
      schema: {
        tags: ['history'],
        summary: "Roll back: a new version with an older version's content",
        description:
          'The new version references the same snapshot and plan rows (nothing copied). 409 when the latest version ' +
          'already has that content. Links: the full restore script and the minimal restore from the replaced version.',
        params: ClusterParams,
        body: S.RollbackBody,
        response: { 201: S.RollbackResponse, ...problems },
      },
    },
    async (request, reply) => {
      const { cluster } = request.params
      const r = await history(app).rollback({ cluster, ...request.body, actor: request.principal?.actor ?? 'anonymous' })
      const base = `/v1/clusters/${enc(cluster)}`
      const n = r.version.version
      const links = {
        self: `${base}/versions/${n}`,
        restoreScript: `${base}/versions/${n}/restore-script`,
        minimalRestore: `${base}/diff?from=${r.replaced}&to=${n}&format=restore`,
        diff: `${base}/diff?from=${r.replaced}&to=${n}`,
        history: `${base}/history`,
      }
      reply.header('location', links.self)
      return reply.code(201).send({ version: withVersionLinks(r.version), replaced: r.replaced, links })
    },
  )

  app.get(
    '/clusters/:cluster/history',
    {
      schema: {
        tags: ['history'],
        summary: "The cluster's history, newest first",
        description: 'Snapshots ingested, duplicates ignored, rollbacks, backups created and imported, versions pruned.',
        params: ClusterParams,
        querystring: S.HistoryQuery,
        response: { 200: S.HistoryPage, ...problems },
      },
    },
    async (request) => {
      const { cluster } = request.params
      const { type, since, until, limit, cursor } = request.query
      // Unknown names are rejected by the service (400 with the list of known types).
      const types = type
        ?.split(',')
        .map((t) => t.trim())
        .filter(Boolean) as HistoryEventType[] | undefined
      const page = await history(app).history(cluster, { types, since, until, limit, cursor })
      const path = `/v1/clusters/${enc(cluster)}/history`
      const keep = new URLSearchParams()
      if (type) keep.set('type', type)
      if (since) keep.set('since', since)
      if (until) keep.set('until', until)
      keep.set('limit', String(limit))
      const links: Record<string, string> = { self: path, first: `${path}?${keep}` }
      if (page.next) links.next = `${path}?${keep}&cursor=${enc(page.next)}`
      return { items: page.items, next: page.next, links }
    },
  )

  app.post(
    '/clusters/:cluster/backups',
    {
      config: { scope: 'write' },
      schema: {
        tags: ['backups'],
        summary: 'Create a backup archive',
        description:
          "A deterministic tar.gz with manifest.json (versions, metadata, sha256 of every file), each version's " +
          'snapshot.json and restore.rules; stored immutably in PostgreSQL.',
        params: ClusterParams,
        body: S.BackupBody,
        response: { 201: S.Backup, ...problems },
      },
    },
    async (request, reply) => {
      const b = await history(app).createBackup({ cluster: request.params.cluster, ...request.body, actor: request.principal?.actor ?? 'anonymous' })
      const links = backupLinks(b)
      reply.header('location', links.self)
      return reply.code(201).send({ ...b, links })
    },
  )

  app.get(
    '/backups',
    { schema: { tags: ['backups'], summary: 'List backups, newest first', querystring: S.BackupListQuery, response: { 200: S.BackupPage, ...problems } } },
    async (request) => {
      const page = await history(app).listBackups(request.query)
      const keep = new URLSearchParams({ limit: String(request.query.limit) })
      if (request.query.cluster) keep.set('cluster', request.query.cluster)
      const links: Record<string, string> = { self: '/v1/backups', first: `/v1/backups?${keep}` }
      if (page.next) links.next = `/v1/backups?${keep}&cursor=${enc(page.next)}`
      return { items: page.items.map((b) => ({ ...b, links: backupLinks(b) })), next: page.next, links }
    },
  )

  app.get(
    '/backups/:id',
    { schema: { tags: ['backups'], summary: 'Backup metadata and manifest', params: S.BackupParams, response: { 200: S.Backup, ...problems } } },
    async (request) => {
      const b = await history(app).getBackup(request.params.id)
      return { ...b, links: backupLinks(b) }
    },
  )

  app.get(
    '/backups/:id/download',
    {
      schema: {
        tags: ['backups'],
        summary: 'Download the archive (application/gzip), the same bytes every time',
        description: 'Content-Length, `Digest: sha-256=<base64>`, `X-Checksum-Sha256: <hex>` and a strong ETag; send If-None-Match for a 304.',
        params: S.BackupParams,
        response: {
          200: { description: 'tar.gz archive', content: { 'application/gzip': { schema: z.string() } } },
          304: z.undefined().describe('Not modified'),
          ...problems,
        },
      },
    },
    async (request, reply) => {
      const { backup, body } = await history(app).downloadBackup(request.params.id)
      reply.header('etag', `"${backup.sha256}"`).header('cache-control', 'private, immutable')
      // An archive never changes: a client that has it (its ETag is the archive's sha256) gets a
      // 304, and the chunks (read lazily by `body`) are never read.
      if (etagMatches(request.headers['if-none-match'], `"${backup.sha256}"`)) return reply.code(304).send()
      const sha = Buffer.from(backup.sha256, 'hex')
      return (
        reply
          .type('application/gzip')
          .header('content-length', backup.bytes)
          .header(
            'content-disposition',
            `attachment; filename="natplan-${backup.cluster}-v${backup.fromVersion}-v${backup.toVersion}-${backup.id.slice(0, 8)}.tar.gz"`,
          )
          // RFC 3230 Digest (what most tools check) and its successor RFC 9530 Repr-Digest.
          .header('digest', `sha-256=${sha.toString('base64')}`)
          .header('repr-digest', `sha-256=:${sha.toString('base64')}:`)
          .header('x-checksum-sha256', backup.sha256)
          .send(Readable.from(body) as never)
      )
    },
  )

  app.post(
    '/backups/import',
    {
      config: { scope: 'write', accepts: ARCHIVE_CONTENT_TYPES },
      schema: {
        tags: ['backups'],
        summary: 'Import an archive into a cluster',
        description:
          'Body: the tar.gz archive (application/gzip), streamed. Every checksum is verified before anything is written; ' +
          'a tampered or truncated archive is a 422 and nothing is stored. Versions are appended (kind `import`) in ' +
          'archive order; the cluster is created if absent. Idempotent: an archived version whose snapshot and plan the ' +
          'cluster already had is listed under `existing` and not copied (200 when nothing was new).',
        querystring: S.ImportQuery,
        response: { 200: S.ImportResponse, 201: S.ImportResponse, 413: Problem, 415: Problem, 422: Problem, ...problems },
      },
    },
    async (request, reply) => {
      const body = request.body as unknown
      if (!(body instanceof Readable)) {
        throw Object.assign(new Error('unsupported media type'), { statusCode: 415 })
      }
      const { cluster } = request.query
      const declared = Number(request.headers['content-length'])
      const limit = app.initialConfig.bodyLimit ?? 64 * 1024 * 1024
      if (Number.isFinite(declared) && declared > limit) {
        // Read and drop what the client sends while the answer goes out, up to the limit; past
        // it the socket is closed (the client announced more than we will read).
        drainRequest(body, limit)
        reply.header('connection', 'close')
        throw new LimitError(413, `the archive (${declared} bytes) is larger than the body limit (${limit} bytes, NATPLAN_BODY_LIMIT)`, {
          name: 'bodyLimit',
          value: limit,
          env: 'NATPLAN_BODY_LIMIT',
        })
      }
      const r = await history(app).importBackup({ cluster, body, actor: request.principal?.actor ?? 'anonymous', maxBytes: limit })
      const base = `/v1/clusters/${enc(cluster)}`
      const last = r.versions[r.versions.length - 1]?.version
      const links = { cluster: `${base}/versions`, latest: `${base}/versions/${last ?? 'latest'}`, history: `${base}/history` }
      // Nothing new (every archived version was already there): 200, as a repeated ingest is.
      if (last === undefined) return reply.code(200).send({ ...r, links })
      reply.header('location', links.latest)
      return reply.code(201).send({ ...r, links })
    },
  )

  app.post(
    '/clusters/:cluster/prune',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['history'],
        summary: 'Prune old versions (admin)',
        description:
          'Deletes versions beyond the newest `keep` and/or created before `olderThan` (either condition prunes), never the ' +
          'latest; then garbage-collects snapshots, plans, objects and segments no version references. Backups are unaffected.',
        params: ClusterParams,
        body: S.PruneBody,
        response: { 200: S.PruneResponse, ...problems },
      },
    },
    async (request) => history(app).prune({ cluster: request.params.cluster, ...request.body, actor: request.principal?.actor ?? 'anonymous' }),
  )

  app.get(
    '/retention',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['history'],
        summary: 'Preview the retention policy (admin): what a sweep would prune now, per cluster',
        description: 'A dry run of NATPLAN_RETAIN_VERSIONS / NATPLAN_RETAIN_DAYS over every cluster; deletes nothing.',
        response: { 200: S.RetentionPreview, ...problems },
      },
    },
    async () => {
      const h = history(app)
      const p = h.retentionPolicy()
      const clusters = await h.sweepRetention({ dryRun: true })
      return {
        policy: { keepVersions: p.keepVersions ?? null, keepDays: p.keepDays ?? null, intervalSeconds: p.intervalSeconds, dryRun: p.dryRun === true },
        clusters,
      }
    },
  )

  app.delete(
    '/clusters/:cluster',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['history'],
        summary: 'Delete a cluster with its versions and history (admin); its backups stay',
        params: ClusterParams,
        response: { 200: S.DeleteClusterResponse, ...problems },
      },
    },
    async (request) => history(app).deleteCluster(request.params.cluster, request.principal?.actor ?? 'anonymous'),
  )

  retentionTimer(app)
}

function retentionTimer(app: FastifyInstance): void {
  let timer: NodeJS.Timeout | undefined
  app.addHook('onReady', async () => {
    const h = app.services.history
    const policy = h?.retentionPolicy()
    if (!h || !policy || (policy.keepVersions === undefined && policy.keepDays === undefined) || policy.intervalSeconds === 0) return
    const sweep = () => {
      h.sweepRetention()
        .then((results) => {
          // One line per cluster, so an operator can see (and grep) what each sweep removed.
          for (const r of results) {
            app.log.info(
              { cluster: r.cluster, versions: r.pruned, kept: r.kept, dryRun: r.dryRun },
              r.dryRun ? 'retention would prune (dry run)' : 'retention pruned',
            )
          }
        })
        .catch((err: unknown) => app.log.warn({ err }, 'retention sweep failed'))
    }
    timer = setInterval(sweep, policy.intervalSeconds * 1000)
    timer.unref()
    sweep()
  })
  app.addHook('onClose', async () => clearInterval(timer))
}

export default historyRoutes
