/** openDatabase without a URL: a real embedded PostgreSQL whose data survives a restart. */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { openDatabase } from '../../src/db/index.js'
import { readMigrations } from '../../src/db/migrate.js'

const dir = mkdtempSync(join(tmpdir(), 'natplan-embedded-'))
chmodSync(dir, 0o755) // as root, the server runs as user postgres
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('embedded PostgreSQL', () => {
  it('starts, migrates, and keeps its data across restarts', async () => {
    const dataDir = join(dir, 'pg')
    const first = await openDatabase({ dataDir })
    try {
      expect(first.url).toMatch(/^postgresql:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/natplan$/)
      const version = await first.pool.query<{ v: string }>("SELECT current_setting('server_version') AS v")
      expect(version.rows[0]!.v).toMatch(/^\d+/)
      await first.prisma.cluster.create({ data: { name: 'kept' } })
      const applied = await first.pool.query('SELECT count(*)::int AS n FROM "_prisma_migrations"')
      expect(applied.rows[0].n).toBe(readMigrations().length)
    } finally {
      await first.close()
    }
    const second = await openDatabase({ dataDir })
    try {
      const kept = await second.prisma.cluster.findUnique({ where: { name: 'kept' } })
      expect(kept?.name).toBe('kept')
      expect(second.url).not.toBe('')
    } finally {
      await second.close()
    }
  })
})
