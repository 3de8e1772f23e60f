/**
 * Test-file access to the run's database (test/global-setup.ts). Each test file uses its own
 * cluster names (uniqueName) so files can share the database and run in parallel.
 */
import { randomBytes } from 'node:crypto'
import { inject } from 'vitest'
import { openDatabase, type Database } from '../../src/db/index.js'
import { createThrowawayDatabase } from '../../src/db/throwaway.js'

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
  // On the test run's server: the maintenance connection goes to the run's database, which is
  // fine for CREATE/DROP DATABASE of another one.
  return createThrowawayDatabase(`scratch_${label}`, testDatabaseUrl())
}
