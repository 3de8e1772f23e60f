/**
 * A busy connection pool is not a database outage: with every connection of the pool held (as
 * long transactions would hold them) a request that cannot get one in time answers 503 saying
 * the server is busy and the database up, with a short Retry-After; once connections are free
 * again it is served. An outage still reads as an outage (test/services/unavailable.test.ts).
 */
import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../../src/app.js'
import { defaultConfig, loadConfig } from '../../src/config.js'
import { openDatabase, type Database } from '../../src/db/index.js'
import { createServices } from '../../src/services/index.js'
import { testDatabaseUrl } from '../helpers/db.js'

let db: Database
beforeAll(async () => {
  db = await openDatabase({ databaseUrl: testDatabaseUrl(), poolSize: 2, poolWaitMs: 300 })
})
afterAll(async () => db?.close())

describe('a busy pool', () => {
  it('is a 503 that says busy, not unavailable, and clears by itself', async () => {
    const app = await buildApp({ config: defaultConfig({ rateLimit: null }), services: createServices(db), logger: false })
    try {
      const held: pg.PoolClient[] = [await db.pool.connect(), await db.pool.connect()]
      const res = await app.inject({ method: 'GET', url: '/v1/clusters' })
      expect(res.statusCode).toBe(503)
      expect(res.headers['retry-after']).toBe('1')
      expect(res.json().detail).toMatch(/busy: all 2 database connections are in use .*the database itself is up/)
      for (const c of held) c.release()
      expect((await app.inject({ method: 'GET', url: '/v1/clusters' })).statusCode).toBe(200)
    } finally {
      await app.close()
    }
  })

  it('is sized from the environment', () => {
    expect(loadConfig({}).database).toEqual({ poolSize: 10, poolWaitMs: 5000 })
    expect(loadConfig({ NATPLAN_DB_POOL_SIZE: '32', NATPLAN_DB_POOL_WAIT_MS: '2000' }).database).toEqual({ poolSize: 32, poolWaitMs: 2000 })
    expect(loadConfig({ NATPLAN_INGEST_WAIT_MS: '5000', NATPLAN_INGEST_MAX_WAITING: '20' }).ingestQueue).toEqual({ waitMs: 5000, maxWaiting: 20 })
    expect(() => loadConfig({ NATPLAN_DB_POOL_SIZE: '0' })).toThrow(/NATPLAN_DB_POOL_SIZE/)
  })
})
