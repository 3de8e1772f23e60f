/**
 * The REST API under /v1, in a zod scope of its own (zod-scope.ts: the compilers, strict input).
 */
import type { FastifyInstance } from 'fastify'
import type { ParseLimits } from '../../services/bounded.js'
import yaml from '../../plugins/app/yaml.js'
import historyRoutes from './history/index.js'
import snapshotRoutes from './snapshots.js'
import versionRoutes from './versions.js'
import { zodScope } from './zod-scope.js'

export default async function restApi(app: FastifyInstance, opts: { limits?: ParseLimits }): Promise<void> {
  zodScope(app)
  // Snapshots are JSON or YAML; a text/plain body is a client mistake (415), not a string.
  app.removeContentTypeParser('text/plain')
  await app.register(yaml, { limits: opts.limits })
  await app.register(snapshotRoutes, { limits: opts.limits })
  await app.register(versionRoutes)
  // Diffs, rollbacks, history, backups: answers 501 itself when services.history is absent.
  await app.register(historyRoutes)
  // Growth and inspect (trace/drift) set their own compilers and are registered by src/app.ts.
}
