/**
 * COPY FROM STDIN for the big writes (a 10k-service snapshot is ~30 MB of objects and ~30 MB of
 * segments). Measured on PostgreSQL 15: the same 20k objects took 9 s as `unnest($1::text[])`
 * parameters (pg serialises and PostgreSQL re-parses giant array literals), 2.5 s as one JSON
 * parameter, and a fraction of that through COPY's streaming text format.
 */
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'

/** COPY text format: backslash escapes for the four special characters, \N for NULL. */
function field(v: string | null): string {
  if (v === null) return '\\N'
  if (!/[\\\n\r\t]/.test(v)) return v
  // One native replaceAll per character, the backslash first (it must not escape the escapes):
  // a segment's lines have a newline every ~50 bytes, too many matches for a callback each.
  let out = v.includes('\\') ? v.replaceAll('\\', '\\\\') : v
  if (out.includes('\n')) out = out.replaceAll('\n', '\\n')
  if (out.includes('\r')) out = out.replaceAll('\r', '\\r')
  if (out.includes('\t')) out = out.replaceAll('\t', '\\t')
  return out
}

/** One row as a line of COPY's text format (with its newline). */
export function copyLine(row: ReadonlyArray<string | null>): string {
  return row.map(field).join('\t') + '\n'
}

/**
 * A row: its values, or its line already encoded (copyLine's bytes, made where the row was
 * computed — the ingest worker thread — so the main thread only forwards them).
 */
export type CopyRow = ReadonlyArray<string | null> | Uint8Array

function* lines(rows: Iterable<CopyRow>, chunkBytes = 1 << 20): Generator<string | Buffer> {
  let acc = ''
  let bytes: Uint8Array[] = []
  let size = 0
  for (const row of rows) {
    if (row instanceof Uint8Array) {
      if (acc !== '') yield acc
      acc = ''
      bytes.push(row)
      size += row.byteLength
      if (size >= chunkBytes) {
        yield Buffer.concat(bytes)
        bytes = []
        size = 0
      }
      continue
    }
    if (bytes.length > 0) yield Buffer.concat(bytes)
    bytes = []
    size = 0
    acc += copyLine(row)
    if (acc.length >= chunkBytes) {
      yield acc
      acc = ''
    }
  }
  if (acc !== '') yield acc
  if (bytes.length > 0) yield Buffer.concat(bytes)
}

/** Streams rows into `table (columns)`; the table is usually a staging temp table. */
export async function copyRows(client: pg.ClientBase, table: string, columns: readonly string[], rows: Iterable<CopyRow>): Promise<void> {
  const sink = client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`))
  await pipeline(Readable.from(lines(rows)), sink)
}
