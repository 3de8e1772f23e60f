/**
 * Backups through the real app: deterministic archives with a verifiable manifest, immutable
 * byte-identical downloads, and the round trip — back up, delete the cluster,
 * import into the same name, every version's restore script byte-identical. Tampered and
 * truncated archives are 422 and leave no trace.
 */
import { createHash } from 'node:crypto'
import { gunzipSync, gzipSync } from 'node:zlib'
import tar from 'tar-stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ingest, restoreScript, smallEnvelope, startHistoryApp, uniqueName, type HistoryTestApp } from './helpers.js'

let t: HistoryTestApp
beforeAll(async () => {
  t = await startHistoryApp()
})
afterAll(async () => t?.close())

const post = (url: string, payload: object) => t.app.inject({ method: 'POST', url, payload })
const get = (url: string) => t.app.inject({ method: 'GET', url })
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex')
const importArchive = (cluster: string, archive: Buffer, contentType = 'application/gzip') =>
  t.app.inject({ method: 'POST', url: `/v1/backups/import?cluster=${cluster}`, payload: archive, headers: { 'content-type': contentType } })

async function untar(archive: Buffer): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>()
  const extract = tar.extract()
  const done = (async () => {
    for await (const entry of extract) {
      const parts: Buffer[] = []
      for await (const c of entry) parts.push(c as Buffer)
      files.set(entry.header.name, Buffer.concat(parts))
    }
  })()
  extract.end(gunzipSync(archive))
  await done
  return files
}

async function tarOf(files: Map<string, Buffer>): Promise<Buffer> {
  const pack = tar.pack()
  for (const [name, body] of files) pack.entry({ name, mtime: new Date(0) }, body)
  pack.finalize()
  const parts: Buffer[] = []
  for await (const c of pack) parts.push(c as Buffer)
  return gzipSync(Buffer.concat(parts))
}

async function versionCount(cluster: string): Promise<number> {
  const r = await t.db.pool.query<{ n: string }>('SELECT count(*) AS n FROM versions v JOIN clusters c ON c.id = v.cluster_id WHERE c.name = $1', [cluster])
  return Number(r.rows[0]!.n)
}

describe('backup and restore round trip', () => {
  const cluster = uniqueName('hbk')
  let backupId = ''
  let archive: Buffer = Buffer.alloc(0)
  const scripts: string[] = []

  beforeAll(async () => {
    await ingest(t.app, cluster, smallEnvelope({ endpoints: ['10.1.0.5'] }))
    await ingest(t.app, cluster, smallEnvelope({ endpoints: ['10.1.0.6', '10.1.0.7'] }))
    await ingest(t.app, cluster, smallEnvelope({ port: 8080, endpoints: ['10.1.0.8'] }))
    expect((await post(`/v1/clusters/${cluster}/rollbacks`, { toVersion: 2, reason: 'port change broke clients' })).statusCode).toBe(201)
    for (let v = 1; v <= 4; v++) scripts.push(await restoreScript(t.app, cluster, v))
  })

  it("creates an archive: 201, metadata, manifest with every file's sha256, a backup.created event", async () => {
    const res = await post(`/v1/clusters/${cluster}/backups`, { note: 'before the upgrade' })
    expect(res.statusCode).toBe(201)
    const b = res.json()
    backupId = b.id
    expect(b).toMatchObject({ cluster, fromVersion: 1, toVersion: 4, versions: 4, note: 'before the upgrade', actor: 'anonymous' })
    expect(b.links.download).toBe(`/v1/backups/${b.id}/download`)
    expect(b.manifest.format).toBe('natplan-backup/1')
    expect(b.manifest.natplanVersion).toMatch(/^\d+\.\d+\.\d+/)
    expect(b.manifest.plannerVersion).toBeTruthy()
    expect(b.manifest.versions.map((v: { version: number; kind: string }) => [v.version, v.kind])).toEqual([
      [1, 'snapshot'],
      [2, 'snapshot'],
      [3, 'snapshot'],
      [4, 'rollback'],
    ])
    const events = (await get(`/v1/clusters/${cluster}/history?type=backup.created`)).json().items
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({ backupId: b.id, fromVersion: 1, toVersion: 4, reason: 'before the upgrade' })
  })

  it('downloads the same bytes every time, with Content-Length and checksums', async () => {
    const first = await get(`/v1/backups/${backupId}/download`)
    const second = await get(`/v1/backups/${backupId}/download`)
    expect(first.statusCode).toBe(200)
    expect(first.headers['content-type']).toBe('application/gzip')
    archive = first.rawPayload
    expect(second.rawPayload.equals(archive)).toBe(true)
    expect(Number(first.headers['content-length'])).toBe(archive.length)
    const meta = (await get(`/v1/backups/${backupId}`)).json()
    expect(first.headers['x-checksum-sha256']).toBe(sha256(archive))
    expect(meta.sha256).toBe(sha256(archive))
    expect(meta.bytes).toBe(archive.length)
    expect(first.headers.digest).toBe(`sha-256=${createHash('sha256').update(archive).digest('base64')}`)
    expect(first.headers['repr-digest']).toBe(`sha-256=:${createHash('sha256').update(archive).digest('base64')}:`)
    // A client holding the archive revalidates for nothing.
    expect(first.headers.etag).toBe(`"${sha256(archive)}"`)
    const again = await t.app.inject({ method: 'GET', url: `/v1/backups/${backupId}/download`, headers: { 'if-none-match': first.headers.etag as string } })
    expect(again.statusCode).toBe(304)
    expect(again.rawPayload.length).toBe(0)
    const other = await t.app.inject({ method: 'GET', url: `/v1/backups/${backupId}/download`, headers: { 'if-none-match': '"0000"' } })
    expect(other.statusCode).toBe(200)
    expect(other.rawPayload.equals(archive)).toBe(true)
  })

  it("the archive holds the manifest, each version's snapshot and exact restore script, checksummed", async () => {
    const files = await untar(archive)
    expect([...files.keys()][0]).toBe('manifest.json')
    const manifest = JSON.parse(files.get('manifest.json')!.toString())
    for (const f of manifest.files) {
      expect(sha256(files.get(f.path)!), f.path).toBe(f.sha256)
      expect(files.get(f.path)!.length).toBe(f.bytes)
    }
    expect(files.size).toBe(manifest.files.length + 1)
    for (let v = 1; v <= 4; v++) {
      expect(files.get(`versions/${v}/restore.rules`)!.toString()).toBe(scripts[v - 1])
      const snap = JSON.parse(files.get(`versions/${v}/snapshot.json`)!.toString())
      expect(snap.proxy.nodeName).toBe('node-a')
      expect(snap.resources.items.length).toBe(2)
    }
  })

  it('is deterministic: a second backup of the same versions has the same sha256', async () => {
    const again = (await post(`/v1/clusters/${cluster}/backups`, { note: 'before the upgrade' })).json()
    expect(again.id).not.toBe(backupId)
    expect(again.sha256).toBe(sha256(archive))
    const partial = (await post(`/v1/clusters/${cluster}/backups`, { fromVersion: 2, toVersion: 3 })).json()
    expect(partial).toMatchObject({ fromVersion: 2, toVersion: 3, versions: 2 })
  })

  it('lists and fetches backups, filtered by cluster, paginated', async () => {
    const list = (await get(`/v1/backups?cluster=${cluster}&limit=2`)).json()
    expect(list.items).toHaveLength(2)
    expect(list.next).toBeTruthy()
    const rest = (await get(list.links.next)).json()
    expect(rest.items).toHaveLength(1)
    expect(rest.items[0].id).toBe(backupId)
    expect((await get(`/v1/backups/${backupId}`)).json().id).toBe(backupId)
    expect((await get('/v1/backups/00000000-0000-4000-8000-000000000000')).statusCode).toBe(404)
    expect((await get('/v1/backups/not-a-uuid/download')).statusCode).toBe(404)
  })

  it('round trip: delete the cluster, import into the same name, every restore script byte-identical', async () => {
    const del = await t.app.inject({ method: 'DELETE', url: `/v1/clusters/${cluster}` })
    expect(del.statusCode).toBe(200)
    expect(del.json()).toEqual({ cluster, versions: 4 })
    expect((await get(`/v1/clusters/${cluster}/versions/1`)).statusCode).toBe(404)
    // Backups outlive the cluster.
    expect((await get(`/v1/backups/${backupId}/download`)).rawPayload.equals(archive)).toBe(true)

    const res = await importArchive(cluster, archive)
    expect(res.statusCode).toBe(201)
    const body = res.json()
    expect(body.versions).toEqual([1, 2, 3, 4].map((v) => ({ version: v, archivedVersion: v })))
    expect(body.replanned).toEqual([])
    expect(body.archiveSha256).toBe(sha256(archive))
    for (let v = 1; v <= 4; v++) expect(await restoreScript(t.app, cluster, v), `version ${v}`).toBe(scripts[v - 1])
    const v4 = (await get(`/v1/clusters/${cluster}/versions/4`)).json()
    expect(v4.kind).toBe('import')
    expect(v4.reason).toContain('rollback to 2')
    const events = (await get(`/v1/clusters/${cluster}/history`)).json().items
    expect(events.map((e: { type: string }) => e.type)).toEqual(['backup.imported'])
    expect(events[0]).toMatchObject({ fromVersion: 1, toVersion: 4, backupId })
  })

  it('importing the same archive again is idempotent: every version is reported as existing, nothing copied', async () => {
    const res = await importArchive(cluster, archive)
    expect(res.statusCode).toBe(200)
    expect(res.json().versions).toEqual([])
    // Archived 4 was a rollback to 2: both are the content of version 4, the newest with it.
    expect(res.json().existing).toEqual([1, 4, 3, 4].map((v, i) => ({ version: v, archivedVersion: i + 1 })))
    expect(await versionCount(cluster)).toBe(4)
    const events = (await get(`/v1/clusters/${cluster}/history`)).json().items
    expect(events.map((e: { type: string }) => e.type)).toEqual(['backup.imported'])
  })

  it('importing into a cluster with other versions appends only what it lacks', async () => {
    const other = uniqueName('hmix')
    const first = await importArchive(other, archive)
    expect(first.statusCode).toBe(201)
    await t.app.inject({ method: 'POST', url: `/v1/clusters/${other}/prune`, payload: { keep: 1 } })
    expect(await versionCount(other)).toBe(1)
    const again = await importArchive(other, archive)
    expect(again.statusCode).toBe(201)
    // Version 4 (kept) has the content of archived 4, and of archived 2 (4 was a rollback to 2).
    expect(again.json().existing).toEqual([
      { version: 4, archivedVersion: 2 },
      { version: 4, archivedVersion: 4 },
    ])
    expect(again.json().versions).toEqual([
      { version: 5, archivedVersion: 1 },
      { version: 6, archivedVersion: 3 },
    ])
    expect(await restoreScript(t.app, other, 6)).toBe(scripts[2])
  })

  describe('bad archives: 422, nothing written', () => {
    const target = uniqueName('himp')

    async function expectRejected(body: Buffer, status = 422): Promise<any> {
      const res = await importArchive(target, body)
      expect(res.statusCode).toBe(status)
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/)
      expect(await versionCount(target)).toBe(0)
      expect((await get(`/v1/clusters/${target}/versions`)).statusCode).toBe(404)
      return res.json()
    }

    it('truncated', async () => {
      await expectRejected(archive.subarray(0, Math.floor(archive.length * 0.6)))
      await expectRejected(archive.subarray(0, archive.length - 8))
    })

    it('not gzip at all', async () => {
      await expectRejected(Buffer.from('definitely not an archive'))
    })

    it('a tampered restore script or snapshot (checksum mismatch), with a pointer to the file', async () => {
      const files = await untar(archive)
      const tampered = new Map(files)
      tampered.set('versions/3/restore.rules', Buffer.from(files.get('versions/3/restore.rules')!.toString().replace('10.1.0.8', '10.6.6.6')))
      const problem = await expectRejected(await tarOf(tampered))
      expect(problem.errors).toEqual([expect.objectContaining({ pointer: '/versions/3/restore.rules' })])

      const snap = new Map(files)
      snap.set('versions/1/snapshot.json', Buffer.from(files.get('versions/1/snapshot.json')!.toString().replace('10.1.0.5', '10.1.0.9')))
      expect((await expectRejected(await tarOf(snap))).errors[0].pointer).toBe('/versions/1/snapshot.json')
    })

    it('a missing file, an extra file, a broken manifest', async () => {
      const files = await untar(archive)
      const missing = new Map(files)
      missing.delete('versions/2/snapshot.json')
      expect((await expectRejected(await tarOf(missing))).errors[0].pointer).toBe('/versions/2/snapshot.json')
      const extra = new Map(files)
      extra.set('versions/9/evil.sh', Buffer.from('rm -rf /'))
      await expectRejected(await tarOf(extra))
      const noManifest = new Map(files)
      noManifest.delete('manifest.json')
      await expectRejected(await tarOf(noManifest))
      const badManifest = new Map(files)
      badManifest.set('manifest.json', Buffer.from('{"format":"something-else"}'))
      await expectRejected(await tarOf(badManifest))
    })

    it('a consistent archive whose snapshot this natplan rejects: 422 after verification, rolled back', async () => {
      const files = await untar(archive)
      const bad = new Map(files)
      const snap = JSON.parse(files.get('versions/3/snapshot.json')!.toString())
      snap.resources.items.find((o: { kind: string }) => o.kind === 'Service').spec.ports[0].port = 'eighty'
      bad.set('versions/3/snapshot.json', Buffer.from(JSON.stringify(snap)))
      // Re-sign the manifest so every checksum matches: only the content is wrong.
      const manifest = JSON.parse(files.get('manifest.json')!.toString())
      for (const f of manifest.files) {
        f.sha256 = sha256(bad.get(f.path)!)
        f.bytes = bad.get(f.path)!.length
      }
      bad.set('manifest.json', Buffer.from(JSON.stringify(manifest)))
      const problem = await expectRejected(await tarOf(bad))
      expect(problem.detail).toContain('versions/3/snapshot.json')
      expect(problem.errors[0].pointer).toMatch(/^\/versions\/3\/snapshot\.json\/resources\/items\/\d+\/spec\/ports\/0\/port/)
    })

    it('a wrong content type is 415; a bad cluster name 400', async () => {
      const res = await importArchive(target, archive, 'text/csv')
      expect(res.statusCode).toBe(415)
      expect(
        (
          await t.app.inject({
            method: 'POST',
            url: '/v1/backups/import?cluster=Not_A_Name',
            payload: archive,
            headers: { 'content-type': 'application/gzip' },
          })
        ).statusCode,
      ).toBe(400)
      expect(await versionCount(target)).toBe(0)
    })
  })

  it('backup of unknown cluster or version is 404; inverted range 400', async () => {
    expect((await post(`/v1/clusters/${uniqueName('none')}/backups`, {})).statusCode).toBe(404)
    expect((await post(`/v1/clusters/${cluster}/backups`, { toVersion: 99 })).statusCode).toBe(404)
    const inv = await post(`/v1/clusters/${cluster}/backups`, { fromVersion: 3, toVersion: 2 })
    expect(inv.statusCode).toBe(400)
    expect(inv.json().errors[0].pointer).toBe('/fromVersion')
  })
})
