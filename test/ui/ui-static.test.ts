/**
 * How /ui serves its folder: every file under src/ui/static with its type and the strict CSP,
 * every module import of the pages resolving to a served file, and nothing else — no path
 * (`..`, encoded or not, a source file beside the folder, a dotfile) reaches the filesystem.
 */
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { listStatic, staticDir } from '../../src/ui/plugin.js'
import { startTestApp, type TestApp } from '../api/helpers.js'

let t: TestApp
beforeAll(async () => {
  t = await startTestApp()
})
afterAll(async () => {
  await t?.close()
})

describe('/ui static files', () => {
  it('serves every file of the folder with its type, the CSP and nosniff', async () => {
    const files = listStatic(staticDir())
    expect([...files.keys()]).toEqual(
      expect.arrayContaining(['index.html', 'style.css', 'favicon.svg', 'js/main.js', 'js/api.js', 'js/chart.js', 'js/diff.js', 'js/pages/version.js']),
    )
    for (const [name, f] of files) {
      const res = await t.app.inject({ method: 'GET', url: `/ui/${name}` })
      expect(res.statusCode, name).toBe(200)
      expect(res.headers['content-type']).toBe(f.type)
      expect(res.headers['content-security-policy']).toContain("script-src 'self'")
      expect(res.headers['content-security-policy']).not.toContain('unsafe')
      expect(res.headers['x-content-type-options']).toBe('nosniff')
      expect(res.body).toBe(readFileSync(`${staticDir()}/${name}`, 'utf8'))
    }
  })

  it('has every module import resolve to a served file', () => {
    const files = listStatic(staticDir())
    for (const [name, f] of files) {
      if (!name.endsWith('.js')) continue
      for (const m of f.body.toString('utf8').matchAll(/^import .* from '(\.{1,2}\/[^']+)'/gm)) {
        const resolved = new URL(m[1]!, `http://x/ui/${name}`).pathname.slice('/ui/'.length)
        expect(files.has(resolved), `${name} imports ${m[1]}`).toBe(true)
      }
    }
  })

  it('answers 404 for anything else, never reading the disk', async () => {
    for (const url of [
      '/ui/../package.json',
      '/ui/%2e%2e/package.json',
      '/ui/js/%2e%2e%2f%2e%2e%2fplugin.ts',
      '/ui/..%2fplugin.ts',
      '/ui/plugin.ts',
      '/ui/js/',
      '/ui/js',
      '/ui/%2fetc%2fpasswd',
      '/ui//etc/passwd',
      '/ui/.hidden',
      '/ui/js/main.js%00.png',
    ]) {
      const res = await t.app.inject({ method: 'GET', url })
      expect(res.statusCode, url).toBe(404)
      expect(res.headers['content-type'], url).toMatch(/problem\+json/)
    }
  })
})
