/**
 * The one way to run a transaction: a client from the pool, BEGIN (at the isolation asked for),
 * the work, COMMIT — or ROLLBACK when the work throws or returns `rollback(value)` (work that
 * finds it has nothing to keep, such as an ingest that lost the race to identical content), and
 * the client back to the pool whatever happened.
 */
import type pg from 'pg'

const ROLLBACK = Symbol('rollback')

export interface RolledBack<T> {
  readonly [ROLLBACK]: true
  readonly value: T
}

/** Returned by the work: roll back, and answer `value`. */
export function rollback<T>(value: T): RolledBack<T> {
  return { [ROLLBACK]: true, value }
}

function isRolledBack<T>(v: T | RolledBack<T>): v is RolledBack<T> {
  return typeof v === 'object' && v !== null && ROLLBACK in v
}

export interface TransactionOptions {
  /** Default: PostgreSQL's READ COMMITTED. */
  isolation?: 'REPEATABLE READ' | 'SERIALIZABLE'
}

export async function inTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T | RolledBack<T>>,
  options: TransactionOptions = {},
): Promise<T> {
  const client = await pool.connect()
  try {
    await client.query(options.isolation ? `BEGIN ISOLATION LEVEL ${options.isolation}` : 'BEGIN')
    const result = await work(client)
    if (isRolledBack(result)) {
      await client.query('ROLLBACK')
      return result.value
    }
    await client.query('COMMIT')
    return result
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {})
    throw err
  } finally {
    client.release()
  }
}
