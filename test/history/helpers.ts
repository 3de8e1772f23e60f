/**
 * History test harness: the real app (buildApp) on the real services and the run's PostgreSQL.
 * Until the REST index registers the history plugin, it is mounted here the same way (its own
 * zod-compiled scope under /v1); once the app has the routes, nothing is added.
 */
import type { FastifyInstance } from 'fastify'
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod'
import { buildApp } from '../../src/app.js'
import historyRoutes from '../../src/api/rest/history/index.js'
import { defaultConfig, type Config } from '../../src/config.js'
import type { Database } from '../../src/db/index.js'
import type { Services } from '../../src/services/contract.js'
import type { HistoryServices } from '../../src/services/history-types.js'
import { openTestServices } from '../helpers/services.js'

export { uniqueName } from '../helpers/db.js'
export { smallEnvelope } from '../api/helpers.js'

export interface HistoryTestApp {
  app: FastifyInstance
  services: Services
  history: HistoryServices
  db: Database
  close(): Promise<void>
}

export async function startHistoryApp(overrides: Partial<Config> = {}, poolSize = 6): Promise<HistoryTestApp> {
  const { db, services } = await openTestServices({ poolSize, services: { retention: overrides.retention } })
  const app = await buildApp({ config: defaultConfig({ rateLimit: null, ...overrides }), services, logger: false })
  if (!app.hasRoute({ method: 'GET', url: '/v1/clusters/:cluster/history' })) {
    await app.register(
      async (scope) => {
        scope.setValidatorCompiler(validatorCompiler)
        scope.setSerializerCompiler(serializerCompiler)
        await scope.register(historyRoutes)
      },
      { prefix: '/v1' },
    )
  }
  await app.ready()
  return {
    app,
    services,
    history: services.history!,
    db,
    async close() {
      await app.close()
      await db.close()
    },
  }
}

/** POSTs a snapshot; returns the version number (created or deduplicated). */
export async function ingest(app: FastifyInstance, cluster: string, body: unknown, token?: string): Promise<number> {
  const res = await app.inject({
    method: 'POST',
    url: `/v1/clusters/${cluster}/snapshots`,
    payload: body as object,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  })
  if (res.statusCode !== 201 && res.statusCode !== 200) throw new Error(`ingest ${res.statusCode}: ${res.body}`)
  return (res.json() as { version: { version: number } }).version.version
}

export async function restoreScript(app: FastifyInstance, cluster: string, version: number | 'latest', token?: string): Promise<string> {
  const res = await app.inject({
    method: 'GET',
    url: `/v1/clusters/${cluster}/versions/${version}/restore-script`,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  })
  if (res.statusCode !== 200) throw new Error(`restore-script ${res.statusCode}: ${res.body}`)
  return res.body
}
