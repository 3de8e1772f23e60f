/**
 * The REST API under /v1. The zod validator and serializer compilers are set inside this
 * encapsulated scope only: on the root they would also apply to mercurius' JSON-schema routes
 * and break them (reference/stack.md §3, pitfall 1).
 */
import type { FastifyInstance } from 'fastify'
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod'
import type { ParseLimits } from '../../plugins/app/bounded.js'
import yaml from '../../plugins/app/yaml.js'
import historyRoutes from './history/index.js'
import snapshotRoutes from './snapshots.js'
import versionRoutes from './versions.js'

export default async function restApi(app: FastifyInstance, opts: { limits?: ParseLimits }): Promise<void> {
  app.setValidatorCompiler(validatorCompiler)
  app.setSerializerCompiler(serializerCompiler)
  // Snapshots are JSON or YAML; a text/plain body is a client mistake (415), not a string.
  app.removeContentTypeParser('text/plain')
  await app.register(yaml, { limits: opts.limits })
  await app.register(snapshotRoutes)
  await app.register(versionRoutes)
  // Diffs, rollbacks, history, backups: answers 501 itself when services.history is absent.
  await app.register(historyRoutes)
  // Growth and inspect (trace/drift) set their own compilers and are registered by src/app.ts.
}
