/**
 * The runtime migrator: applies prisma/migrations/<name>/migration.sql at start, without the
 * Prisma CLI (a devDependency, and unable to run offline). It keeps Prisma's own bookkeeping
 * table `_prisma_migrations` (same columns; checksum = sha256 hex of the file, as the schema
 * engine computes it) and takes the same advisory lock as Prisma's schema engine, so
 * `prisma migrate deploy` and this migrator agree about what is applied, and any number of
 * replicas (or a replica and the CLI) starting together apply each migration exactly once.
 */
import { createHash, randomUUID } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type pg from 'pg'

/** The key Prisma's schema engine passes to pg_advisory_lock (schema-engine's postgres connector). */
export const PRISMA_MIGRATION_LOCK = 72707369

export interface Migration {
  name: string
  sql: string
  checksum: string
}

export interface MigrationLogger {
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
}

/**
 * The package root, found by walking up to natplan's package.json, so the same code finds
 * prisma/migrations whether it runs from src/ (tsx, vitest) or dist/src/ (tsc output).
 */
export function packageRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json')
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'natplan') return dir
    if (dirname(dir) === dir) throw new Error(`natplan's package.json not found above ${from}`)
  }
}

export function migrationsDir(): string {
  return join(packageRoot(), 'prisma', 'migrations')
}

export function readMigrations(dir = migrationsDir()): Migration[] {
  return readdirSync(dir)
    .filter((d) => statSync(join(dir, d)).isDirectory() && existsSync(join(dir, d, 'migration.sql')))
    .sort()
    .map((name) => {
      const sql = readFileSync(join(dir, name, 'migration.sql'), 'utf8')
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') }
    })
}

// Prisma's DDL for its bookkeeping table (schema-engine, postgres flavour), verbatim columns.
const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`

interface AppliedRow {
  migration_name: string
  checksum: string
  finished_at: Date | null
  rolled_back_at: Date | null
}

async function appliedRows(client: pg.ClientBase): Promise<AppliedRow[]> {
  const exists = await client.query<{ t: string | null }>(`SELECT to_regclass('"_prisma_migrations"')::text AS t`)
  if (!exists.rows[0]?.t) return []
  const res = await client.query<AppliedRow>('SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations" ORDER BY started_at')
  return res.rows
}

/** Names of migrations in the folder that the database has not (successfully) applied. */
export async function pendingMigrations(client: pg.ClientBase | pg.Pool, migrations = readMigrations()): Promise<string[]> {
  const c = client as pg.ClientBase
  const done = new Set((await appliedRows(c)).filter((r) => r.finished_at && !r.rolled_back_at).map((r) => r.migration_name))
  return migrations.filter((m) => !done.has(m.name)).map((m) => m.name)
}

/**
 * Applies every pending migration, each in its own transaction together with its bookkeeping
 * row (PostgreSQL DDL is transactional), so a failure leaves neither half-applied schema nor a
 * "failed" row that would block the next start. Returns the names applied.
 */
export async function migrate(pool: pg.Pool, opts: { logger?: MigrationLogger; migrations?: Migration[] } = {}): Promise<string[]> {
  const migrations = opts.migrations ?? readMigrations()
  const client = await pool.connect()
  try {
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_MIGRATION_LOCK])
    try {
      await client.query(CREATE_MIGRATIONS_TABLE)
      return await applyPending(client, migrations, opts.logger)
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [PRISMA_MIGRATION_LOCK])
    }
  } finally {
    client.release()
  }
}

async function applyPending(client: pg.PoolClient, migrations: Migration[], logger?: MigrationLogger): Promise<string[]> {
  const rows = await appliedRows(client)
  const failed = rows.filter((r) => !r.finished_at && !r.rolled_back_at)
  if (failed.length > 0) {
    // Same stance as `prisma migrate deploy` (P3009): a failed migration needs a human.
    throw new Error(`migration ${failed[0]!.migration_name} failed earlier; resolve it (prisma migrate resolve) before starting`)
  }
  const applied = new Map(rows.filter((r) => !r.rolled_back_at).map((r) => [r.migration_name, r]))
  const done: string[] = []
  for (const m of migrations) {
    const row = applied.get(m.name)
    if (row) {
      if (row.checksum !== m.checksum) logger?.warn({ migration: m.name }, 'migration file changed after it was applied')
      continue
    }
    await applyOne(client, m)
    logger?.info({ migration: m.name }, 'migration applied')
    done.push(m.name)
  }
  return done
}

async function applyOne(client: pg.PoolClient, m: Migration): Promise<void> {
  await client.query('BEGIN')
  try {
    await client.query(m.sql)
    await client.query(
      `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, started_at, applied_steps_count)
       VALUES ($1, $2, now(), $3, now(), 1)`,
      [randomUUID(), m.checksum, m.name],
    )
    await client.query('COMMIT')
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {})
    throw new Error(`migration ${m.name} failed: ${(err as Error).message}`, { cause: err })
  }
}
