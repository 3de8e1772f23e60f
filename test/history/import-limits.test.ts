/**
 * Import limits: the archive streams through gunzip/tar with byte meters — more than the body
 * limit is a 413, more unpacked bytes than allowed (a gzip bomb) a 422, and nothing is written.
 */
import { Readable } from 'node:stream'
import { gzipSync } from 'node:zlib'
import tar from 'tar-stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DomainError } from '../../src/errors.js'
import { createHistoryServices } from '../../src/services/history.js'
import { ingest, smallEnvelope, startHistoryApp, uniqueName, type HistoryTestApp } from './helpers.js'

let t: HistoryTestApp
let archive: Buffer
beforeAll(async () => {
  t = await startHistoryApp({ bodyLimit: 1024 * 1024 })
  const cluster = uniqueName('hlim')
  await ingest(t.app, cluster, smallEnvelope())
  const b = (await t.app.inject({ method: 'POST', url: `/v1/clusters/${cluster}/backups`, payload: {} })).json()
  archive = (await t.app.inject({ method: 'GET', url: `/v1/backups/${b.id}/download` })).rawPayload
})
afterAll(async () => {
  // fetch keeps its connection alive; do not wait out the server's keep-alive timeout.
  t?.app.server.closeAllConnections()
  await t?.close()
})

async function clusterExists(name: string): Promise<boolean> {
  return ((await t.db.pool.query('SELECT 1 FROM clusters WHERE name = $1', [name])).rowCount ?? 0) > 0
}

async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p
    return 200
  } catch (err) {
    if (err instanceof DomainError) return err.status
    throw err
  }
}

describe('import limits', () => {
  it('a body over the limit is 413 (declared length or counted while streaming)', async () => {
    const target = uniqueName('hlim')
    const big = Buffer.concat([archive, Buffer.alloc(2 * 1024 * 1024)])
    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/backups/import?cluster=${target}`,
      payload: big,
      headers: { 'content-type': 'application/gzip' },
    })
    expect(res.statusCode).toBe(413)
    // Without a declared length the stream meter stops it.
    expect(await status(t.history.importBackup({ cluster: target, body: Readable.from([archive]), actor: 'x', maxBytes: 100 }))).toBe(413)
    expect(await clusterExists(target)).toBe(false)
  })

  it('an archive that unpacks past the limit (gzip bomb) is 422', async () => {
    const pack = tar.pack()
    pack.entry({ name: 'versions/1/restore.rules' }, Buffer.alloc(8 * 1024 * 1024))
    pack.finalize()
    const parts: Buffer[] = []
    for await (const c of pack) parts.push(c as Buffer)
    const bomb = gzipSync(Buffer.concat(parts))
    expect(bomb.length).toBeLessThan(64 * 1024)
    const small = createHistoryServices(t.db, { importLimits: { maxUncompressedBytes: 1024 * 1024 } })
    const target = uniqueName('hbomb')
    expect(await status(small.importBackup({ cluster: target, body: Readable.from([bomb]), actor: 'x' }))).toBe(422)
    expect(await clusterExists(target)).toBe(false)
    // The same archive within limits still imports.
    expect(await status(small.importBackup({ cluster: target, body: Readable.from([archive]), actor: 'x' }))).toBe(200)
    expect(await clusterExists(target)).toBe(true)
  })

  it('over real HTTP, a chunked upload (no Content-Length) streams in: imported, or 413 past the limit', async () => {
    const address = await t.app.listen({ port: 0, host: '127.0.0.1' })
    const send = (body: Buffer, cluster: string) =>
      fetch(`${address}/v1/backups/import?cluster=${cluster}`, {
        method: 'POST',
        headers: { 'content-type': 'application/gzip' },
        // A stream body: sent chunked, so only the server-side meter knows the size.
        body: Readable.toWeb(Readable.from(chunksOf(body, 16 * 1024))) as ReadableStream,
        duplex: 'half',
      } as RequestInit)
    const ok = uniqueName('hchunk')
    const res = await send(archive, ok)
    expect(res.status).toBe(201)
    expect(((await res.json()) as { versions: unknown[] }).versions).toHaveLength(1)
    const tooBig = uniqueName('hchunk')
    const big = await send(Buffer.concat([archive, Buffer.alloc(2 * 1024 * 1024)]), tooBig)
    expect(big.status).toBe(413)
    expect(await clusterExists(tooBig)).toBe(false)
  })
})

function* chunksOf(b: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size)
}
