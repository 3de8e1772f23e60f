/**
 * Pagination, one way for every list (clusters, versions, history, backups): a page size of 1 to
 * 500 (default 50; anything else is a 400 naming /limit, never clamped), and opaque cursors —
 * base64url JSON of where the page ended, checked when read back (a 400 naming /cursor).
 */
import { BadRequestError } from '../errors.js'

export const DEFAULT_PAGE = 50
export const MAX_PAGE = 500

export function pageSize(limit: number | undefined): number {
  const n = limit ?? DEFAULT_PAGE
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE) {
    throw new BadRequestError(`limit must be an integer from 1 to ${MAX_PAGE}`, [{ pointer: '/limit', detail: `expected 1..${MAX_PAGE}` }])
  }
  return n
}

export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

/** The position a cursor holds; undefined for no cursor (the first page). */
export function decodeCursor<T>(cursor: string | undefined, check: (v: unknown) => v is T): T | undefined {
  if (cursor === undefined) return undefined
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    value = undefined
  }
  if (!check(value)) throw new BadRequestError('invalid cursor', [{ pointer: '/cursor', detail: 'not a cursor this API returned' }])
  return value
}
