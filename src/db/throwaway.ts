/**
 * Throwaway databases for the test suite and the benchmarks: a fresh database on a given
 * PostgreSQL server (TEST_DATABASE_URL in CI), or, without one, on an embedded PostgreSQL started
 * in a temporary directory. `drop()` removes the database (and stops the embedded server).
 */
import { randomBytes } from 'node:crypto'
import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { startEmbedded, type EmbeddedServer } from './embedded.js'

export interface ThrowawayDatabase {
  /** URL of the new, empty database. */
  url: string
  /** URL of the server's maintenance database (for CREATE/DROP DATABASE). */
  serverUrl: string
  /** Drops the database, stops the embedded server if one was started. Never throws. */
  drop(): Promise<void>
}

/** Runs one statement on `url` with its own connection (CREATE/DROP DATABASE cannot be pooled). */
export async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

/**
 * A new database named `natplan_<label>_<pid>_<random>` on `serverUrl`'s server, or on an
 * embedded PostgreSQL when `serverUrl` is undefined.
 */
export async function createThrowawayDatabase(label: string, serverUrl?: string): Promise<ThrowawayDatabase> {
  let embedded: EmbeddedServer | undefined
  let dir: string | undefined
  if (!serverUrl) {
    dir = mkdtempSync(join(tmpdir(), 'natplan-pg-'))
    // As root the server runs as user postgres, which must be able to enter the temp dir.
    chmodSync(dir, 0o755)
    embedded = await startEmbedded({ dataDir: join(dir, 'pg'), persistent: false })
    serverUrl = embedded.adminUrl
  }
  const server = serverUrl
  const name = `natplan_${label}_${process.pid}_${randomBytes(3).toString('hex')}`
  await adminQuery(server, `CREATE DATABASE "${name}"`)
  return {
    url: withDatabase(server, name),
    serverUrl: server,
    async drop() {
      await adminQuery(server, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch((err: Error) => {
        console.error(`could not drop database ${name}: ${err.message}`)
      })
      await embedded?.stop()
      if (dir) rmSync(dir, { recursive: true, force: true })
    },
  }
}
