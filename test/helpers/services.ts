import type { Database } from '../../src/db/index.js'
import type { Services } from '../../src/services/contract.js'
import { createServices, type ServicesOptions } from '../../src/services/index.js'
import { openTestDatabase } from './db.js'

/** The real services layer on the run's database; close `db` in afterAll. */
export async function openTestServices(opts: { poolSize?: number; services?: ServicesOptions } = {}): Promise<{ db: Database; services: Services }> {
  const db = await openTestDatabase(opts)
  return { db, services: createServices(db, opts.services) }
}
