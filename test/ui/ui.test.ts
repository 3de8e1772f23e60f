/**
 * The /ui page in a real headless browser (Debian's chromium driven by playwright-core) against
 * the real app listening on 127.0.0.1: clusters -> versions -> growth chart, a comparison of two
 * versions, a restore-script download. A screenshot is kept in test-artifacts/ui.png.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateSnapshot } from '../../src/planner/testing/generate.js'
import { startGrowthApp, uniqueName, type GrowthTestApp } from '../growth/helpers.js'

const CHROMIUM = '/usr/bin/chromium'
const haveChromium = existsSync(CHROMIUM)
if (!haveChromium) console.warn(`test/ui: SKIPPED — ${CHROMIUM} is missing (install it with: apt-get install -y chromium)`)

describe.skipIf(!haveChromium)('/ui in headless chromium', () => {
  let t: GrowthTestApp
  let browser: Browser
  let base: string
  const cluster = uniqueName('ui')

  beforeAll(async () => {
    t = await startGrowthApp()
    for (const services of [3, 6, 12]) {
      const res = await t.app.inject({
        method: 'POST',
        url: `/v1/clusters/${cluster}/snapshots`,
        payload: generateSnapshot({ services, namespaces: 2, seed: 3 }),
      })
      expect(res.statusCode).toBe(201)
    }
    base = await t.app.listen({ host: '127.0.0.1', port: 0 })
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    })
  })
  afterAll(async () => {
    await browser?.close()
    await t?.close()
  })

  it('walks clusters -> versions -> chart -> diff -> download without console or CSP errors', async () => {
    const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1200, height: 1400 } })
    const page = await context.newPage()
    const problems: string[] = []
    // HTTP errors are checked by URL below; any other console error (CSP violation, exception) fails.
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(m.text())
    })
    const httpErrors: string[] = []
    page.on('response', (r) => {
      if (r.status() >= 400) httpErrors.push(`${r.status()} ${new URL(r.url()).pathname}`)
    })
    page.on('pageerror', (e) => problems.push(e.message))

    const res = await page.goto(`${base}/ui`)
    expect(res?.status()).toBe(200)
    expect(res?.headers()['content-security-policy']).toMatch(/script-src 'self'/)

    await page.locator(`#clusters tr[data-cluster="${cluster}"] a`).click()
    await page.locator('#versions tr[data-version="3"]').waitFor()
    expect(await page.locator('#versions tbody tr').count()).toBe(3)
    await page.locator('#growth-chart[data-loaded="true"]').waitFor()
    const chartWidth = await page.locator('#growth-chart').evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)
    expect(chartWidth).toBe(800)
    await expect.poll(() => page.locator('#projection').textContent()).toMatch(/KUBE-SERVICES/)

    await page.selectOption('#diff-from', '1')
    await page.selectOption('#diff-to', '3')
    await page.click('#diff-form button')
    await page.locator('#diff-result[data-done="true"]').waitFor()
    const servicesRow = page.locator('#diff-counts tbody tr', { hasText: 'services' }).first()
    expect(await servicesRow.locator('td').allTextContents()).toEqual(['services', '3', '12', '+9'])

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('button[data-download="2"]')])
    expect(download.suggestedFilename()).toBe(`${cluster}-v2.rules`)
    const saved = readFileSync((await download.path())!, 'utf8')
    const direct = await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/versions/2/restore-script` })
    expect(saved).toBe(direct.body)

    mkdirSync('test-artifacts', { recursive: true })
    await page.screenshot({ path: 'test-artifacts/ui.png', fullPage: true })
    expect(problems).toEqual([])
    // The diff endpoint belongs to the history capability; without it the page falls back to counts.
    const diffRoute = t.app.hasRoute({ method: 'GET', url: '/v1/clusters/:cluster/diff' })
    expect(httpErrors.filter((e) => diffRoute || !e.endsWith('/diff'))).toEqual([])
    if (diffRoute) expect(await page.locator('#diff-summary').count()).toBe(1)
    await context.close()
  })
})
