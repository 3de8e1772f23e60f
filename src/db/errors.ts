/**
 * Which database errors mean "PostgreSQL is not reachable right now" (→ UnavailableError, HTTP
 * 503 with Retry-After) rather than a bug. pg.Pool discards broken clients by itself, so once
 * PostgreSQL is back the next query simply gets a fresh connection.
 */
import { UnavailableError } from '../errors.js'

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EPIPE', 'EAI_AGAIN'])

/** SQLSTATE classes/codes: 08 connection exception, 57P01-57P03 shutdown/cannot connect now, 53300 too many connections. */
const SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '3D000'])

/** Prisma's codes for an unreachable or timed-out database. */
const PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024'])

const MESSAGES = [/Connection terminated/i, /timeout exceeded when trying to connect/i, /connect ECONNREFUSED/i, /the database system is (starting up|shutting down)/i, /Client has encountered a connection error/i]

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

/** Rethrows connection failures as UnavailableError; everything else unchanged. */
export function mapDbError(err: unknown): never {
  if (isUnavailable(err)) throw new UnavailableError()
  throw err
}

/** Runs `fn`, mapping connection failures to UnavailableError. */
export async function guard<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    return mapDbError(err)
  }
}
