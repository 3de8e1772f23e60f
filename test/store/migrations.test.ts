import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { migrate, migrationsDir, packageRoot, pendingMigrations, readMigrations } from '../../src/db/migrate.js'
import { scratchDatabase } from '../helpers/db.js'

const run = promisify(execFile)

async function withPool<T>(url: string, fn: (pool: pg.Pool) => Promise<T>): Promise<T> {
  const pool = new pg.Pool({ connectionString: url, max: 3 })
  try {
    return await fn(pool)
  } finally {
    await pool.end()
  }
}

/** Runs scripts/db.mjs (Prisma's own schema engine, wasm build) against `url`. */
async function dbMjs(url: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(packageRoot(), 'scripts', 'db.mjs'), ...args], {
      env: { ...process.env, DATABASE_URL: url },
    })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

describe('runtime migrator', () => {
  let scratch: Awaited<ReturnType<typeof scratchDatabase>>
  beforeAll(async () => {
    scratch = await scratchDatabase('migrate')
  })
  afterAll(async () => scratch?.drop())

  it('applies every migration to an empty database with Prisma-compatible bookkeeping', async () => {
    const names = readMigrations().map((m) => m.name)
    expect(names.length).toBeGreaterThan(0)
    const applied = await withPool(scratch.url, (pool) => migrate(pool))
    expect(applied).toEqual(names)
    await withPool(scratch.url, async (pool) => {
      const rows = await pool.query('SELECT migration_name, checksum, finished_at, applied_steps_count FROM "_prisma_migrations" ORDER BY migration_name')
      expect(rows.rows.map((r) => r.migration_name)).toEqual(names)
      for (const r of rows.rows) {
        const file = readFileSync(join(migrationsDir(), r.migration_name, 'migration.sql'))
        expect(r.checksum).toBe(createHash('sha256').update(file).digest('hex'))
        expect(r.finished_at).toBeInstanceOf(Date)
        expect(r.applied_steps_count).toBe(1)
      }
      const tables = await pool.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)
      expect(tables.rows.map((r) => r.tablename)).toEqual(
        expect.arrayContaining(['clusters', 'objects', 'snapshots', 'segments', 'plans', 'versions', '_prisma_migrations']),
      )
      expect(await pendingMigrations(pool)).toEqual([])
    })
  })

  it('re-applying is a no-op', async () => {
    const again = await withPool(scratch.url, (pool) => migrate(pool))
    expect(again).toEqual([])
    const count = await withPool(scratch.url, (pool) => pool.query('SELECT count(*)::int AS n FROM "_prisma_migrations"'))
    expect(count.rows[0].n).toBe(readMigrations().length)
  })

  it("Prisma's schema engine agrees: status is clean and schema.prisma diffs empty against the migrated database", async () => {
    const status = await dbMjs(scratch.url, 'status')
    expect(status.stderr).toBe('')
    expect(status.code).toBe(0)
    expect(JSON.parse(status.stdout)).toMatchObject({ history: null, failedMigrationNames: [], editedMigrationNames: [] })
    const diff = await dbMjs(scratch.url, 'diff', '--exit-code')
    expect(diff.stderr).toBe('')
    expect(diff.stdout).toContain('empty migration')
    expect(diff.code).toBe(0)
  })

  it('the diff check does fail when the database drifts from schema.prisma', async () => {
    const drifted = await scratchDatabase('drift')
    try {
      await withPool(drifted.url, async (pool) => {
        await migrate(pool)
        await pool.query('ALTER TABLE clusters ADD COLUMN drift int')
      })
      const diff = await dbMjs(drifted.url, 'diff', '--exit-code')
      expect(diff.code).toBe(2)
      expect(diff.stdout).toContain('DROP COLUMN "drift"')
    } finally {
      await drifted.drop()
    }
  })

  it("accepts a database migrated by Prisma's engine (db.mjs deploy) as up to date", async () => {
    const other = await scratchDatabase('deploy')
    try {
      const deploy = await dbMjs(other.url, 'deploy')
      expect(deploy.code).toBe(0)
      await withPool(other.url, async (pool) => {
        expect(await pendingMigrations(pool)).toEqual([])
        expect(await migrate(pool)).toEqual([])
      })
    } finally {
      await other.drop()
    }
  })

  it('two migrators starting together apply each migration exactly once', async () => {
    const other = await scratchDatabase('race')
    try {
      const [a, b] = await Promise.all([withPool(other.url, (pool) => migrate(pool)), withPool(other.url, (pool) => migrate(pool))])
      expect([...a, ...b].sort()).toEqual(readMigrations().map((m) => m.name))
      const rows = await withPool(other.url, (pool) => pool.query('SELECT migration_name FROM "_prisma_migrations"'))
      expect(rows.rowCount).toBe(readMigrations().length)
    } finally {
      await other.drop()
    }
  })

  it('a failing migration leaves neither schema changes nor a bookkeeping row behind', async () => {
    const other = await scratchDatabase('fail')
    try {
      const broken = [
        { name: '20000101000000_ok', sql: 'CREATE TABLE ok_t (id int);', checksum: 'a'.repeat(64) },
        { name: '20000102000000_broken', sql: 'CREATE TABLE half_t (id int); SELECT no_such_function();', checksum: 'b'.repeat(64) },
      ]
      await withPool(other.url, async (pool) => {
        await expect(migrate(pool, { migrations: broken })).rejects.toThrow(/20000102000000_broken failed/)
        const rows = await pool.query('SELECT migration_name FROM "_prisma_migrations"')
        expect(rows.rows.map((r) => r.migration_name)).toEqual(['20000101000000_ok'])
        const half = await pool.query(`SELECT to_regclass('half_t')::text AS t`)
        expect(half.rows[0].t).toBeNull()
      })
    } finally {
      await other.drop()
    }
  })
})
