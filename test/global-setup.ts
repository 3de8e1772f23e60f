/**
 * One FRESH database per test run, migrated by the runtime migrator (src/db/migrate.ts), on
 * TEST_DATABASE_URL's server when set (CI: the local PostgreSQL), otherwise on an embedded
 * PostgreSQL started in a temp dir. Test files get the URL through `inject('databaseUrl')`
 * (or NATPLAN_TEST_DATABASE_URL); the database is dropped at the end.
 */
import pg from 'pg'
import type { TestProject } from 'vitest/node'
import { migrate } from '../src/db/migrate.js'
import { createThrowawayDatabase } from '../src/db/throwaway.js'

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const serverUrl = process.env.TEST_DATABASE_URL
  if (!serverUrl) console.log('[global-setup] TEST_DATABASE_URL unset: starting an embedded PostgreSQL for this run')
  const db = await createThrowawayDatabase('test', serverUrl)
  const pool = new pg.Pool({ connectionString: db.url, max: 1 })
  try {
    await migrate(pool)
  } finally {
    await pool.end()
  }
  project.provide('databaseUrl', db.url)
  process.env.NATPLAN_TEST_DATABASE_URL = db.url
  return () => db.drop()
}
