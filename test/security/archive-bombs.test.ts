/**
 * Archive bombs and lying manifests on backup import, over real HTTP: refused from
 * the tar headers before their bytes are unpacked, the 422 reaching a client still uploading
 * (no connection reset), the process alive; a manifest listing entries twice is a 400. The
 * memory each refusal costs the server is measured by `npm run bench:attacks`.
 */
import { gunzipSync, gzipSync } from 'node:zlib'
import tar from 'tar-stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ingest, smallEnvelope, startHistoryApp, uniqueName, type HistoryTestApp } from '../history/helpers.js'
import { manifestFor, zeroBomb } from './bombs.js'

let t: HistoryTestApp
let url: string
let archive: Buffer
beforeAll(async () => {
  t = await startHistoryApp()
  url = await t.app.listen({ host: '127.0.0.1', port: 0 })
  const cluster = uniqueName('bomb')
  await ingest(t.app, cluster, smallEnvelope())
  await ingest(t.app, cluster, smallEnvelope({ port: 81 }))
  const b = (await t.app.inject({ method: 'POST', url: `/v1/clusters/${cluster}/backups`, payload: {} })).json()
  archive = (await t.app.inject({ method: 'GET', url: `/v1/backups/${b.id}/download` })).rawPayload
})
afterAll(async () => {
  t?.app.server.closeAllConnections()
  await t?.close()
})

async function send(body: Buffer, cluster = uniqueName('bomb')) {
  // streamed in 64 KiB pieces: the server answers while the client is still sending
  const chunks = function* () {
    for (let i = 0; i < body.length; i += 64 * 1024) yield body.subarray(i, i + 64 * 1024)
  }
  const stream = new ReadableStream({
    start(controller) {
      for (const c of chunks()) controller.enqueue(c)
      controller.close()
    },
  })
  const res = await fetch(`${url}/v1/backups/import?cluster=${cluster}`, {
    method: 'POST',
    body: stream,
    headers: { 'content-type': 'application/gzip' },
    duplex: 'half',
  } as RequestInit)
  const exists = ((await t.db.pool.query('SELECT 1 FROM clusters WHERE name = $1', [cluster])).rowCount ?? 0) > 0
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: (await res.json()) as any, exists }
}

/** The tar entries of an archive, to build altered ones. */
async function entries(gz: Buffer): Promise<Array<{ name: string; body: Buffer }>> {
  const out: Array<{ name: string; body: Buffer }> = []
  const extract = tar.extract()
  const done = (async () => {
    for await (const e of extract) {
      const parts: Buffer[] = []
      for await (const c of e) parts.push(c as Buffer)
      out.push({ name: e.header.name, body: Buffer.concat(parts) })
    }
  })()
  extract.end(gunzipSync(gz))
  await done
  return out
}

async function pack(list: Array<{ name: string; body: Buffer }>): Promise<Buffer> {
  const p = tar.pack()
  for (const e of list) p.entry({ name: e.name, mtime: new Date(0) }, e.body)
  p.finalize()
  const parts: Buffer[] = []
  for await (const c of p) parts.push(c as Buffer)
  return gzipSync(Buffer.concat(parts))
}

async function alive() {
  expect((await fetch(`${url}/healthz`)).status).toBe(200)
}

describe('archive bombs', () => {
  it('a 1 MB tar.gz holding a 1,000 MiB file with no manifest before it: 422 before it is unpacked', async () => {
    const bomb = zeroBomb({ name: 'versions/1/restore.rules', zeroMiB: 1000 })
    expect(bomb.length).toBeLessThan(1.5 * 1024 * 1024)
    const r = await send(bomb)
    expect(r.status).toBe(422)
    expect(r.type).toMatch(/problem\+json/)
    expect(r.body.detail).toMatch(/manifest\.json/)
    expect(r.exists).toBe(false)
    await alive()
  })

  it('a manifest announcing a 1,000 MiB snapshot: 422 naming the limit, before the file', async () => {
    const size = 1000 * 1024 * 1024
    const manifest = manifestFor([
      { path: 'versions/1/snapshot.json', bytes: size },
      { path: 'versions/1/restore.rules', bytes: 0 },
    ])
    const r = await send(zeroBomb({ name: 'versions/1/snapshot.json', zeroMiB: 1000, before: [{ name: 'manifest.json', body: manifest }] }))
    expect(r.status).toBe(422)
    expect(r.body.limit).toMatchObject({ env: 'NATPLAN_BODY_LIMIT' })
    await alive()
  })

  it('a 4 GiB bomb: 422 naming NATPLAN_IMPORT_MAX_UNPACKED, and the client gets it', async () => {
    const size = 4096 * 1024 * 1024
    const manifest = manifestFor([
      { path: 'versions/1/snapshot.json', bytes: 10 },
      { path: 'versions/1/restore.rules', bytes: size },
    ])
    const bomb = zeroBomb({ name: 'versions/1/restore.rules', zeroMiB: 4096, before: [{ name: 'manifest.json', body: manifest }] })
    const r = await send(bomb)
    expect(r.status).toBe(422)
    expect(r.body.limit).toMatchObject({ name: 'importMaxUnpackedBytes', env: 'NATPLAN_IMPORT_MAX_UNPACKED' })
    // the same file size unannounced (the entry's header disagrees with the manifest)
    const lying = zeroBomb({
      name: 'versions/1/restore.rules',
      zeroMiB: 4096,
      before: [
        {
          name: 'manifest.json',
          body: manifestFor([
            { path: 'versions/1/snapshot.json', bytes: 10 },
            { path: 'versions/1/restore.rules', bytes: 10 },
          ]),
        },
      ],
    })
    const l = await send(lying)
    expect(l.status).toBe(422)
    expect(l.body.errors[0].pointer).toBe('/versions/1/restore.rules')
    await alive()
  })

  it('bytes past what the headers announce are still stopped by the meter behind gunzip', async () => {
    const small = await startHistoryApp({}, 2)
    try {
      const { createHistoryServices } = await import('../../src/services/history.js')
      const h = createHistoryServices(small.db, { importLimits: { maxUncompressedBytes: 8 * 1024 * 1024 } })
      const { Readable } = await import('node:stream')
      // a valid manifest, then 64 MiB of zeros where the end-of-archive blocks should be
      const list = await entries(archive)
      const tarGz = Buffer.concat([await pack(list), zeroBomb({ name: 'x', zeroMiB: 64 }).subarray(0)])
      await expect(h.importBackup({ cluster: uniqueName('bomb'), body: Readable.from([tarGz]), actor: 'x' })).rejects.toMatchObject({ status: 422 })
    } finally {
      await small.close()
    }
  })

  it('a manifest listing its versions repeatedly is a 400, nothing imported', async () => {
    const list = await entries(archive)
    const m = JSON.parse(list[0]!.body.toString())
    expect(list[0]!.name).toBe('manifest.json')
    m.versions = [...m.versions, ...m.versions, ...m.versions]
    const r = await send(await pack([{ name: 'manifest.json', body: Buffer.from(JSON.stringify(m)) }, ...list.slice(1)]))
    expect(r.status).toBe(400)
    expect(r.body.errors[0].pointer).toMatch(/^\/manifest\.json\/versions\/\d+\/version$/)
    expect(r.exists).toBe(false)
    const files = JSON.parse(list[0]!.body.toString())
    files.files = [...files.files, files.files[0]]
    const f = await send(await pack([{ name: 'manifest.json', body: Buffer.from(JSON.stringify(files)) }, ...list.slice(1)]))
    expect(f.status).toBe(400)
    expect(f.body.errors[0].pointer).toMatch(/^\/manifest\.json\/files\/\d+\/path$/)
  })

  it('a declared length over the body limit: 413 while the client is still sending, Connection: close', async () => {
    const { connect } = await import('node:net')
    const u = new URL(url)
    const text = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(u.port), u.hostname)
      const parts: Buffer[] = []
      socket.on('data', (c) => {
        parts.push(c)
        const t = Buffer.concat(parts).toString()
        const len = /content-length: (\d+)/i.exec(t)
        const end = t.indexOf('\r\n\r\n')
        if (len && end >= 0 && t.length - end - 4 >= Number(len[1])) {
          resolve(t)
          socket.destroy()
        }
      })
      socket.on('error', reject)
      socket.write(
        `POST /v1/backups/import?cluster=${uniqueName('bomb')} HTTP/1.1\r\nHost: x\r\nContent-Type: application/gzip\r\nContent-Length: ${100 * 1024 * 1024}\r\n\r\n`,
      )
      socket.write(Buffer.alloc(256 * 1024))
    })
    expect(text).toMatch(/^HTTP\/1.1 413 /)
    expect(text).toMatch(/connection: close/i)
    expect(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)).limit).toMatchObject({ env: 'NATPLAN_BODY_LIMIT' })
    await alive()
  })

  it('the untouched archive still imports over the same path', async () => {
    const r = await send(archive)
    expect(r.status, JSON.stringify(r.body)).toBe(201)
    expect(r.body.versions).toHaveLength(2)
  })
})
