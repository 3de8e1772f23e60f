/**
 * Growth/inspect test harness: the real app (buildApp) on the real services (createServices, which
 * attaches the growth and inspect use-cases) and the run's PostgreSQL.
 */
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app.js'
import { defaultConfig, type Config } from '../../src/config.js'
import type { Database } from '../../src/db/index.js'
import type { Services } from '../../src/services/contract.js'
import type { GrowthServices } from '../../src/services/growth.js'
import type { InspectServices } from '../../src/services/inspect.js'
import { openTestServices } from '../helpers/services.js'

export { uniqueName } from '../helpers/db.js'

export type FullServices = Services & { growth: GrowthServices; inspect: InspectServices }

export interface GrowthTestApp {
  app: FastifyInstance
  services: FullServices
  db: Database
  close(): Promise<void>
}

export async function startGrowthApp(overrides: Partial<Config> = {}): Promise<GrowthTestApp> {
  const { db, services } = await openTestServices({ poolSize: 4 })
  if (!services.growth || !services.inspect) throw new Error('createServices must provide growth and inspect')
  const app = await buildApp({ config: defaultConfig({ rateLimit: null, ...overrides }), services, logger: false })
  await app.ready()
  return {
    app,
    services: services as FullServices,
    db,
    async close() {
      await app.close()
      await db.close()
    },
  }
}
