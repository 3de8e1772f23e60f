/**
 * Restore scripts compressed when asked (Accept-Encoding gzip, or zstd where the runtime has
 * it): compressed once and kept, each representation with its own strong ETag and a 304 for it,
 * `Vary: Accept-Encoding`, plain text otherwise. Over a real socket too (curl --compressed).
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import zlib from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ENCODINGS } from '../../src/services/index.js'
import { generateSnapshot } from '../../src/planner/testing/generate.js'
import { startTestApp, uniqueName, type TestApp } from './helpers.js'

let t: TestApp
const cluster = uniqueName('gz')
let url: string
let plain: Buffer
beforeAll(async () => {
  t = await startTestApp()
  const doc = generateSnapshot({ services: 300, endpointsPerService: 5, seed: 7 })
  const res = await t.app.inject({ method: 'POST', url: `/v1/clusters/${cluster}/snapshots`, payload: doc })
  expect(res.statusCode).toBe(201)
  url = `/v1/clusters/${cluster}/versions/1/restore-script`
  plain = (await t.app.inject({ method: 'GET', url })).rawPayload
})
afterAll(async () => t?.close())

const get = (headers: Record<string, string>) => t.app.inject({ method: 'GET', url, headers })

describe('compressed restore scripts', () => {
  it('gzip when asked: the same bytes once decompressed, its own ETag, Vary, a 304 for that ETag', async () => {
    const res = await get({ 'accept-encoding': 'gzip' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-encoding']).toBe('gzip')
    expect(res.headers.vary).toMatch(/Accept-Encoding/i)
    expect(Number(res.headers['content-length'])).toBe(res.rawPayload.length)
    expect(zlib.gunzipSync(res.rawPayload).equals(plain)).toBe(true)
    expect(res.rawPayload.length * 4).toBeLessThan(plain.length)
    const identity = await get({})
    expect(identity.headers['content-encoding']).toBeUndefined()
    expect(identity.headers.etag).not.toBe(res.headers.etag)
    expect((await get({ 'accept-encoding': 'gzip', 'if-none-match': res.headers.etag as string })).statusCode).toBe(304)
    // The plain ETag does not validate the gzip representation.
    expect((await get({ 'accept-encoding': 'gzip', 'if-none-match': identity.headers.etag as string })).statusCode).toBe(200)
    // Compressed once and kept: the second answer is the same buffer's bytes.
    expect((await get({ 'accept-encoding': 'gzip' })).rawPayload.equals(res.rawPayload)).toBe(true)
  })

  it('plain text when the client takes nothing we have, or refuses gzip', async () => {
    for (const accept of ['br', 'gzip;q=0', 'identity', '']) {
      const res = await get(accept === '' ? {} : { 'accept-encoding': accept })
      expect(res.headers['content-encoding'], accept).toBeUndefined()
      expect(res.rawPayload.equals(plain), accept).toBe(true)
    }
  })

  it.skipIf(!ENCODINGS.includes('zstd'))('zstd first when the runtime has it and the client takes both', async () => {
    const res = await get({ 'accept-encoding': 'gzip, zstd' })
    expect(res.headers['content-encoding']).toBe('zstd')
    const unzstd = (zlib as unknown as { zstdDecompressSync: (b: Buffer) => Buffer }).zstdDecompressSync
    expect(unzstd(res.rawPayload).equals(plain)).toBe(true)
  })
  if (!ENCODINGS.includes('zstd')) console.warn(`compression: zstd case skipped: Node ${process.versions.node} has no zlib zstd (22.15+ has)`)

  it('over a real socket, curl --compressed gets gzip and the same script', async () => {
    const address = await t.app.listen({ host: '127.0.0.1', port: 0 })
    // Asynchronously: the server answering curl runs on this process's event loop. Headers and
    // body go to files (curl given pipes for both crashed here).
    const dir = mkdtempSync(join(tmpdir(), 'natplan-gz-'))
    try {
      await promisify(execFile)('curl', ['-sS', '--compressed', '-D', join(dir, 'headers'), '-o', join(dir, 'body'), `${address}${url}`])
      expect(readFileSync(join(dir, 'headers'), 'latin1')).toMatch(/content-encoding: (gzip|zstd)/i)
      expect(readFileSync(join(dir, 'body')).equals(plain)).toBe(true)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
