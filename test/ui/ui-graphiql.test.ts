/**
 * GraphiQL (/graphiql) and Swagger UI (/docs) with the network cut off: every request that is
 * not to the app on 127.0.0.1 is aborted, so both pages work only if natplan serves every asset
 * itself. GraphiQL must render, run a query with the UI's saved token and show the data.
 */
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateSnapshot } from '../../src/planner/testing/generate.js'
import { startTestApp, uniqueName, type TestApp } from '../api/helpers.js'
import { haveChromium, launch, openPage, screenshot } from './browser.js'

const TOKEN = 'ui-graphiql-token-0123456789abcdef'

describe.skipIf(!haveChromium)('GraphiQL and Swagger UI offline', () => {
  let t: TestApp
  let browser: Browser
  let base: string
  const cluster = uniqueName('gql')

  beforeAll(async () => {
    t = await startTestApp({ tokens: [{ name: 'reader', secret: TOKEN, scope: 'write' }] })
    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/clusters/${cluster}/snapshots`,
      headers: { authorization: `Bearer ${TOKEN}` },
      payload: generateSnapshot({ services: 3, namespaces: 1, seed: 5 }),
    })
    expect(res.statusCode).toBe(201)
    base = await t.app.listen({ host: '127.0.0.1', port: 0 })
    browser = await launch()
  })
  afterAll(async () => {
    await browser?.close()
    await t?.close()
  })

  it('GraphiQL renders from local assets and runs a query with the token saved by the UI', async () => {
    const w = await openPage(browser)
    const { page } = w
    // The token the UI keeps in this tab's sessionStorage.
    await page.goto(`${base}/ui`)
    // Without a token the server's 401 becomes a hint to set one.
    await expect.poll(() => page.locator('#status').textContent()).toBe('This server needs an API token (top right).')
    await page.fill('#token', TOKEN)
    await page.press('#token', 'Enter')
    await page.locator(`[data-cluster="${cluster}"]`).waitFor()
    // The UI's first listing, before the token was saved, was a 401: expected, not GraphiQL's.
    w.httpErrors.length = 0

    const res = await page.goto(`${base}/graphiql`)
    expect(res?.status()).toBe(200)
    const csp = res?.headers()['content-security-policy'] ?? ''
    expect(csp).toContain("script-src 'self'")
    expect(csp).not.toMatch(/script-src[^;]*unsafe/)
    await page.locator('.graphiql-container').waitFor()
    await expect.poll(() => page.locator('#token-note').textContent()).toMatch(/carry the API token/)

    const query = `query OneCluster { cluster(name: "${cluster}") { name latestVersion versionCount } }`
    const direct = await t.app.inject({ method: 'POST', url: '/graphql', headers: { authorization: `Bearer ${TOKEN}` }, payload: { query } })
    const expected = direct.json().data.cluster
    expect(expected.versionCount).toBe(1)

    // Replace the default query through the editor, as a user would, and run it (Ctrl-Enter).
    const editor = page.locator('.graphiql-query-editor .CodeMirror')
    await editor.click()
    await page.keyboard.press('Control+A')
    await page.keyboard.press('Delete')
    await page.keyboard.insertText(query)
    // GraphiQL re-reads the operation names after a short debounce; run only once it has.
    await page.waitForTimeout(600)
    const answer = page.waitForResponse((r) => r.url().endsWith('/graphql') && r.request().postData()?.includes(cluster) === true)
    await page.keyboard.press('Control+Enter')
    const r = await answer
    expect(r.request().headers().authorization).toBe(`Bearer ${TOKEN}`)
    expect(r.status()).toBe(200)
    const result = page.locator('.result-window')
    await expect.poll(() => result.textContent(), { timeout: 15_000 }).toContain(`"name": "${cluster}"`)
    const shown = await result.textContent()
    expect(shown).toContain(`"versionCount": ${expected.versionCount}`)
    expect(shown).toContain(`"latestVersion": ${expected.latestVersion}`)
    await screenshot(page, 'graphiql')

    expect(w.problems).toEqual([])
    expect(w.blocked).toEqual([])
    expect(w.httpErrors).toEqual([])
    await w.context.close()
  })

  it('Swagger UI at /docs renders from local assets', async () => {
    const w = await openPage(browser)
    const res = await w.page.goto(`${base}/docs`)
    expect(res?.status()).toBe(200)
    await w.page.locator('.swagger-ui .info .title').waitFor()
    expect(await w.page.locator('.swagger-ui .info .title').textContent()).toContain('natplan')
    await w.page.locator('.opblock-summary-path', { hasText: '/v1/clusters/{cluster}/versions' }).first().waitFor()
    await screenshot(w.page, 'docs')
    expect(w.problems).toEqual([])
    expect(w.blocked).toEqual([])
    expect(w.httpErrors).toEqual([])
    await w.context.close()
  })

  it('serves only the files it knows under /graphiql/assets', async () => {
    for (const url of ['/graphiql/assets/../../package.json', '/graphiql/assets/%2e%2e%2fpackage.json', '/graphiql/assets/nope.js']) {
      expect((await t.app.inject({ method: 'GET', url })).statusCode).toBe(404)
    }
    const js = await t.app.inject({ method: 'GET', url: '/graphiql/assets/graphiql.min.js' })
    expect(js.statusCode).toBe(200)
    expect(js.headers['content-type']).toContain('javascript')
  })
})

describe('GraphiQL settings', () => {
  it('NATPLAN_GRAPHIQL=false serves no page and no assets; NATPLAN_DOCS_AUTH=read guards the assets too', async () => {
    const off = await startTestApp({ graphiql: false })
    try {
      for (const url of ['/graphiql', '/graphiql/assets/init.js']) expect((await off.app.inject({ method: 'GET', url })).statusCode, url).toBe(404)
    } finally {
      await off.close()
    }
    const secret = 'ui-graphiql-docs-auth-0123456789abcdef'
    const guarded = await startTestApp({ docsAuth: 'read', tokens: [{ name: 'r', secret, scope: 'read' }] })
    try {
      for (const url of ['/graphiql', '/graphiql/assets/graphiql.min.css']) {
        expect((await guarded.app.inject({ method: 'GET', url })).statusCode, url).toBe(401)
        expect((await guarded.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${secret}` } })).statusCode, url).toBe(200)
      }
    } finally {
      await guarded.close()
    }
  })
})
