/**
 * One FRESH database per test run, migrated by the runtime migrator (src/db/migrate.ts), on
 * TEST_DATABASE_URL's server when set (CI: the local PostgreSQL), otherwise on an embedded
 * PostgreSQL started in a temp dir. Test files get the URL through `inject('databaseUrl')`
 * (or NATPLAN_TEST_DATABASE_URL); the database is dropped at the end.
 */
import { chmodSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import type { TestProject } from 'vitest/node'
import { startEmbedded, type EmbeddedServer } from '../src/db/embedded.js'
import { migrate } from '../src/db/migrate.js'

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string
  }
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

async function admin(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let embedded: EmbeddedServer | undefined
  let serverUrl = process.env.TEST_DATABASE_URL
  if (!serverUrl) {
    console.log('[global-setup] TEST_DATABASE_URL unset: starting an embedded PostgreSQL for this run')
    const dir = mkdtempSync(join(tmpdir(), 'natplan-test-'))
    // As root the server runs as user postgres, which must be able to enter the temp dir.
    chmodSync(dir, 0o755)
    embedded = await startEmbedded({ dataDir: join(dir, 'pg'), persistent: false })
    serverUrl = embedded.adminUrl
  }
  const database = `natplan_test_${process.pid}_${Date.now()}`
  await admin(serverUrl, `CREATE DATABASE "${database}"`)
  const url = withDatabase(serverUrl, database)
  const pool = new pg.Pool({ connectionString: url, max: 1 })
  try {
    await migrate(pool)
  } finally {
    await pool.end()
  }
  project.provide('databaseUrl', url)
  process.env.NATPLAN_TEST_DATABASE_URL = url

  return async () => {
    await admin(serverUrl, `DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`).catch((err) => {
      console.error(`[global-setup] could not drop ${database}: ${(err as Error).message}`)
    })
    await embedded?.stop()
  }
}
