/**
 * A backup unpacked and packed again by the tools people use — GNU tar (with `./` names and
 * directory entries, or under a folder of its own), bsdtar and Python's tarfile (PAX headers) —
 * imports, and every version's restore script is byte-identical to the original's.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ingest, restoreScript, smallEnvelope, startHistoryApp, uniqueName, type HistoryTestApp } from './helpers.js'

let t: HistoryTestApp
let dir: string
let archive: Buffer
const source = uniqueName('htar')
const scripts: string[] = []

const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0
const missing = ['tar', 'bsdtar', 'python3'].filter((tool) => !has(tool))
if (missing.length > 0) console.warn(`backup-tar: skipping the ${missing.join(', ')} cases: not installed (Debian: tar, libarchive-tools, python3)`)

beforeAll(async () => {
  t = await startHistoryApp()
  for (let i = 1; i <= 3; i++) await ingest(t.app, source, smallEnvelope({ endpoints: [`10.40.0.${i}`, `10.40.1.${i}`] }))
  for (let v = 1; v <= 3; v++) scripts.push(await restoreScript(t.app, source, v))
  const backup = await t.app.inject({ method: 'POST', url: `/v1/clusters/${source}/backups`, payload: {} })
  archive = (await t.app.inject({ method: 'GET', url: `/v1/backups/${backup.json().id}/download` })).rawPayload
  dir = mkdtempSync(join(tmpdir(), 'natplan-tar-'))
  writeFileSync(join(dir, 'original.tar.gz'), archive)
  execFileSync('mkdir', ['-p', join(dir, 'backup')])
  execFileSync('tar', ['xzf', join(dir, 'original.tar.gz'), '-C', join(dir, 'backup')])
})
afterAll(async () => {
  await t?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

async function importsWhole(file: string): Promise<void> {
  const cluster = uniqueName('htari')
  const res = await t.app.inject({
    method: 'POST',
    url: `/v1/backups/import?cluster=${cluster}`,
    payload: readFileSync(file),
    headers: { 'content-type': 'application/gzip' },
  })
  expect(res.statusCode, res.body).toBe(201)
  expect(res.json().versions).toHaveLength(3)
  for (let v = 1; v <= 3; v++) expect(await restoreScript(t.app, cluster, v), `version ${v}`).toBe(scripts[v - 1])
}

describe('archives repacked by other tools import', () => {
  it.skipIf(!has('tar'))("GNU tar of the folder's contents: ./ names and directory entries", async () => {
    const out = join(dir, 'gnu-dot.tar.gz')
    execFileSync('tar', ['czf', out, '-C', join(dir, 'backup'), '.'])
    expect(execFileSync('tar', ['tzf', out], { encoding: 'utf8' })).toMatch(/^\.\/versions\/$/m)
    await importsWhole(out)
  })

  it.skipIf(!has('tar'))('GNU tar of the folder itself: every name under backup/', async () => {
    const out = join(dir, 'gnu-folder.tar.gz')
    execFileSync('tar', ['czf', out, '-C', dir, 'backup'])
    expect(execFileSync('tar', ['tzf', out], { encoding: 'utf8' })).toMatch(/^backup\/manifest\.json$/m)
    await importsWhole(out)
  })

  it.skipIf(!has('tar'))('GNU tar in its own format (GNU headers) and in POSIX pax format', async () => {
    for (const format of ['gnu', 'posix']) {
      const out = join(dir, `gnu-${format}.tar.gz`)
      execFileSync('tar', ['czf', out, `--format=${format}`, '-C', join(dir, 'backup'), '.'])
      await importsWhole(out)
    }
  })

  it.skipIf(!has('bsdtar'))('bsdtar (libarchive)', async () => {
    const out = join(dir, 'bsd.tar.gz')
    execFileSync('bsdtar', ['czf', out, '-C', join(dir, 'backup'), '.'])
    await importsWhole(out)
  })

  it.skipIf(!has('python3'))("Python's tarfile (PAX format, its default)", async () => {
    const out = join(dir, 'python.tar.gz')
    execFileSync('python3', [
      '-c',
      'import sys, tarfile\nwith tarfile.open(sys.argv[1], "w:gz", format=tarfile.PAX_FORMAT) as t:\n  t.add(sys.argv[2], arcname=".")',
      out,
      join(dir, 'backup'),
    ])
    await importsWhole(out)
  })

  it.skipIf(!has('tar'))('a symbolic link inside is still refused (422)', async () => {
    execFileSync('ln', ['-sf', '/etc/passwd', join(dir, 'backup', 'versions', 'link')])
    const out = join(dir, 'link.tar.gz')
    execFileSync('tar', ['czf', out, '-C', join(dir, 'backup'), '.'])
    rmSync(join(dir, 'backup', 'versions', 'link'))
    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/backups/import?cluster=${uniqueName('htarl')}`,
      payload: readFileSync(out),
      headers: { 'content-type': 'application/gzip' },
    })
    expect(res.statusCode).toBe(422)
    expect(res.json().detail).toMatch(/versions\/link is not a regular file/)
  })
})
