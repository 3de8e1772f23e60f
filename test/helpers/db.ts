/**
 * Test-file access to the run's database (test/global-setup.ts). Each test file uses its own
 * cluster names (uniqueName) so files can share the database and run in parallel.
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { inject } from 'vitest'
import { openDatabase, type Database } from '../../src/db/index.js'

export function testDatabaseUrl(): string {
  const url = inject('databaseUrl') ?? process.env.NATPLAN_TEST_DATABASE_URL
  if (!url) throw new Error('no test database: run through vitest (test/global-setup.ts provides it)')
  return url
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`
}

export async function openTestDatabase(opts: { poolSize?: number } = {}): Promise<Database> {
  return openDatabase({ databaseUrl: testDatabaseUrl(), poolSize: opts.poolSize })
}

/**
 * An empty scratch database on the test server (for migration tests that need a blank
 * schema); drop() removes it.
 */
export async function scratchDatabase(label: string): Promise<{ url: string; drop(): Promise<void> }> {
  const base = testDatabaseUrl()
  const name = `natplan_scratch_${label}_${process.pid}_${randomBytes(3).toString('hex')}`
  const run = async (sql: string) => {
    const c = new pg.Client({ connectionString: base })
    await c.connect()
    try {
      await c.query(sql)
    } finally {
      await c.end()
    }
  }
  await run(`CREATE DATABASE "${name}"`)
  const u = new URL(base)
  u.pathname = `/${name}`
  return { url: u.toString(), drop: () => run(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) }
}
