/**
 * Opening the database: one pg.Pool shared by Prisma (through @prisma/adapter-pg) and by the
 * store's raw bulk SQL, migrations applied before anything else runs.
 *
 * Without a URL, an embedded PostgreSQL (real PostgreSQL binaries from npm) is started with its
 * data under ./.natplan/pg, so `npm start` works on a bare machine and keeps its data.
 */
import { PrismaPg } from '@prisma/adapter-pg'
import pg from 'pg'
import { PrismaClient } from '../generated/prisma/client.js'
import { startEmbedded, type EmbeddedServer } from './embedded.js'
import { isUnavailable, registerPool } from './errors.js'
import { migrate } from './migrate.js'

export interface DbLogger {
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
  debug?(obj: object, msg?: string): void
}

export interface OpenDatabaseOptions {
  /** PostgreSQL URL; unset: embedded PostgreSQL under `dataDir`. */
  databaseUrl?: string
  /** Embedded PostgreSQL data directory, default `./.natplan/pg`. */
  dataDir?: string
  logger?: DbLogger
  /** Pool size, default 10. */
  poolSize?: number
  /** How long a query waits for a free connection (or a new one to open), default 5 s. */
  poolWaitMs?: number
  /** Apply pending migrations at open (default true). */
  migrate?: boolean
  /**
   * How long to keep retrying while PostgreSQL is not reachable yet at start (default 30 s):
   * containers start together and the database is often a few seconds behind.
   */
  startupTimeoutMs?: number
}

export interface Database {
  prisma: PrismaClient
  pool: pg.Pool
  url: string
  close(): Promise<void>
}

export async function openDatabase(opts: OpenDatabaseOptions = {}): Promise<Database> {
  let embedded: EmbeddedServer | undefined
  let url = opts.databaseUrl
  if (!url) {
    embedded = await startEmbedded({ dataDir: opts.dataDir ?? './.natplan/pg', logger: opts.logger })
    url = embedded.url
  }
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.poolSize ?? 10,
    connectionTimeoutMillis: opts.poolWaitMs ?? 5_000,
    idleTimeoutMillis: 30_000,
  })
  // An idle client whose server went away emits 'error' on the pool; unhandled, that would kill
  // the process. The pool drops the client and the next query reconnects.
  const unregister = registerPool(pool)
  pool.on('error', (err) => opts.logger?.warn({ err: err.message }, 'idle PostgreSQL connection lost'))
  // A client checked out of the pool (a transaction, a COPY, Prisma's adapter between queries)
  // emits 'error' on itself when the server goes away, and pg.Pool listens only while it is
  // idle: without a listener of our own that event would kill the process. The query in flight
  // rejects by itself (a 503 through src/db/errors.ts), and the pool discards the client.
  pool.on('connect', (client) => client.on('error', (err) => opts.logger?.warn({ err: err.message }, 'PostgreSQL connection lost while in use')))
  try {
    await waitForDatabase(pool, opts.startupTimeoutMs ?? 30_000, opts.logger)
    if (opts.migrate !== false) await migrate(pool, { logger: opts.logger })
  } catch (err) {
    unregister()
    await pool.end().catch(() => {})
    await embedded?.stop().catch(() => {})
    throw err
  }
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) })
  let closed = false
  return {
    prisma,
    pool,
    url,
    async close() {
      if (closed) return
      closed = true
      await prisma.$disconnect().catch(() => {})
      unregister()
      await pool.end().catch(() => {})
      await embedded?.stop()
    },
  }
}

async function waitForDatabase(pool: pg.Pool, timeoutMs: number, logger?: DbLogger): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (let attempt = 1; ; attempt++) {
    try {
      await pool.query('SELECT 1')
      return
    } catch (err) {
      if (!isUnavailable(err) || Date.now() >= deadline) throw err
      logger?.warn({ attempt, err: (err as Error).message }, 'PostgreSQL not reachable yet; retrying')
      await new Promise((r) => setTimeout(r, Math.min(2_000, 200 * attempt)))
    }
  }
}
