/**
 * Which database errors mean "PostgreSQL is not reachable right now" (→ UnavailableError, HTTP
 * 503 with Retry-After) rather than a bug. pg.Pool discards broken clients by itself, so once
 * PostgreSQL is back the next query simply gets a fresh connection.
 */
import type pg from 'pg'
import { DomainError, UnavailableError } from '../errors.js'

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EPIPE', 'EAI_AGAIN'])

/** SQLSTATE classes/codes: 08 connection exception, 57P01-57P03 shutdown/cannot connect now, 53300 too many connections. */
const SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '3D000'])

/** Prisma's codes for an unreachable or timed-out database. */
const PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024'])

/** pg.Pool's and Prisma's words for "no connection became free in time". */
const POOL_TIMEOUT = [/timeout exceeded when trying to connect/i, /Timed out fetching a new connection from the connection pool/i]

const MESSAGES = [
  /Connection terminated/i,
  ...POOL_TIMEOUT,
  /connect ECONNREFUSED/i,
  /the database system is (starting up|shutting down)/i,
  /Client has encountered a connection error/i,
]

export function isUnavailable(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== 'object' || depth > 5) return false
  const e = err as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown }
  const code = typeof e.code === 'string' ? e.code : ''
  if (NETWORK_CODES.has(code) || SQLSTATES.has(code) || code.startsWith('08') || PRISMA_CODES.has(code)) return true
  if (typeof e.message === 'string' && MESSAGES.some((re) => re.test(e.message as string))) return true
  // AggregateError (dual-stack connect attempts) and wrapped causes (Prisma's DriverAdapterError).
  if (Array.isArray(e.errors) && e.errors.some((x) => isUnavailable(x, depth + 1))) return true
  return isUnavailable(e.cause, depth + 1)
}

/**
 * The process's connection pools (src/db/index.ts registers each): a checkout that timed out
 * while a pool had every connection in use and others waiting is a busy server, not an outage,
 * and the 503 says so (with a shorter Retry-After), so operators look at load, not at PostgreSQL.
 */
const pools = new Set<pg.Pool>()

export function registerPool(pool: pg.Pool): () => void {
  pools.add(pool)
  return () => pools.delete(pool)
}

function busyPool(): pg.Pool | undefined {
  return [...pools].find((p) => p.totalCount >= (p.options.max ?? 10) && p.idleCount === 0)
}

function isPoolTimeout(err: unknown): boolean {
  const e = err as { message?: unknown; code?: unknown; cause?: unknown }
  if (e?.code === 'P2024') return true
  if (typeof e?.message === 'string' && POOL_TIMEOUT.some((re) => re.test(e.message as string))) return true
  return e?.cause !== undefined && e.cause !== err && isPoolTimeout(e.cause)
}

/** Rethrows connection failures as UnavailableError (or BusyPoolError); everything else unchanged. */
export function mapDbError(err: unknown): never {
  if (isPoolTimeout(err)) {
    const pool = busyPool()
    if (pool) throw new BusyPoolError(pool.options.max ?? 10, pool.waitingCount)
  }
  if (isUnavailable(err)) throw new UnavailableError()
  throw err
}

/** 503 for a pool with no free connection: the database is up, the server is loaded. */
export class BusyPoolError extends DomainError {
  readonly retryAfterSeconds = 1
  constructor(size: number, waiting: number) {
    super(
      503,
      'Service Unavailable',
      `The server is busy: all ${size} database connections are in use (${waiting} requests waiting); the database itself is up. Retry shortly.`,
    )
  }
}

/** Runs `fn`, mapping connection failures to UnavailableError. */
export async function guard<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    return mapDbError(err)
  }
}
