/**
 * openDatabase without a URL: a real embedded PostgreSQL whose data survives a restart, and a
 * process that used one exits with its own exit code (the package's exit hooks must not change it).
 */
import { spawnSync } from 'node:child_process'
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

  it.each([0, 3])('a process that started and stopped one exits with its own code (%i)', (code) => {
    const script = `
      import { startEmbedded } from './src/db/embedded.ts'
      const s = await startEmbedded({ dataDir: ${JSON.stringify(join(dir, `exit-${code}`))}, persistent: false })
      await s.stop()
      process.exitCode = ${code}
    `
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 })
    expect(r.stderr).not.toMatch(/done is not a function/)
    expect(r.status, r.stderr).toBe(code)
  })
})
