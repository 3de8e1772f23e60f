import type pg from 'pg'

/** Anything that runs a query: the pool, or a client inside a transaction. */
export type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>

/** int8 columns arrive as strings from pg; ids and sizes here stay far below 2^53. */
export const num = (v: string | number): number => (typeof v === 'number' ? v : Number(v))
