/**
 * Growth/inspect test harness: the real app (buildApp) on the real services and the run's
 * PostgreSQL, with the growth and inspect use-cases attached the way createServices attaches them.
 */
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app.js'
import { defaultConfig, type Config } from '../../src/config.js'
import type { Database } from '../../src/db/index.js'
import type { Services } from '../../src/services/contract.js'
import { createGrowthServices, type GrowthServices } from '../../src/services/growth.js'
import { createInspectServices, type InspectServices } from '../../src/services/inspect.js'
import { openTestServices } from '../helpers/services.js'

export { uniqueName } from '../helpers/db.js'

export type FullServices = Services & { growth: GrowthServices; inspect: InspectServices }

export interface GrowthTestApp {
  app: FastifyInstance
  services: FullServices
  db: Database
  close(): Promise<void>
}

/** The services object with growth + inspect, whether or not createServices already adds them. */
export function withInspection(db: Database, base: Services): FullServices {
  const s = base as Partial<FullServices>
  if (s.growth && s.inspect) return base as FullServices
  return Object.assign(Object.create(null), base, {
    growth: s.growth ?? createGrowthServices(db.pool, { getPlan: (c: string, v: number) => base.getPlan(c, v) }),
    inspect: s.inspect ?? createInspectServices(base),
  }) as FullServices
}

export async function startGrowthApp(overrides: Partial<Config> = {}): Promise<GrowthTestApp> {
  const { db, services: base } = await openTestServices({ poolSize: 4 })
  const services = withInspection(db, base)
  const app = await buildApp({ config: defaultConfig({ rateLimit: null, ...overrides }), services, logger: false })
  // Until src/app.ts registers the growth/inspect/UI plugins itself (they are registered there
  // in the integration commit), register them here the same way.
  if (!app.hasRoute({ method: 'GET', url: '/v1/clusters/:cluster/growth' })) {
    await app.register((await import('../../src/api/rest/growth/index.js')).default, { prefix: '/v1' })
    await app.register((await import('../../src/api/rest/inspect/index.js')).default, { prefix: '/v1' })
  }
  if (!app.hasRoute({ method: 'GET', url: '/ui' })) await app.register((await import('../../src/ui/plugin.js')).default)
  await app.ready()
  return {
    app,
    services,
    db,
    async close() {
      await app.close()
      await db.close()
    },
  }
}
