/**
 * The /ui pages in headless chromium against the real app on 127.0.0.1, with every other host
 * blocked: clusters, a cluster (versions, the SVG growth chart with its markers and projection,
 * a diff grouped by Service) and its history — each page's content checked against the API's
 * JSON fetched in the same test, and the chart and forms used from the keyboard.
 */
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestApp, uniqueName, type TestApp } from '../api/helpers.js'
import { haveChromium, launch, openPage, screenshot } from './browser.js'
import { seedCluster } from './seed.js'

describe.skipIf(!haveChromium)('/ui pages in headless chromium', () => {
  let t: TestApp
  let browser: Browser
  let base: string
  const cluster = uniqueName('uip')
  const json = async (url: string) => (await t.app.inject({ method: 'GET', url })).json()

  beforeAll(async () => {
    t = await startTestApp()
    await seedCluster(t, cluster)
    base = await t.app.listen({ host: '127.0.0.1', port: 0 })
    browser = await launch()
  })
  afterAll(async () => {
    await browser?.close()
    await t?.close()
  })

  it('lists the clusters, and reaches a cluster with the keyboard', async () => {
    const w = await openPage(browser)
    const { page } = w
    const res = await page.goto(`${base}/ui`)
    expect(res?.status()).toBe(200)
    expect(res?.headers()['content-security-policy']).toMatch(/script-src 'self'/)
    const row = page.locator(`#clusters tr[data-cluster="${cluster}"]`)
    await row.waitFor()
    const api = (await json('/v1/clusters?limit=500')).items.find((c: any) => c.name === cluster)
    expect(await row.locator('td').first().textContent()).toBe(String(api.latestVersion))
    expect(await row.locator('td').nth(1).textContent()).toBe(String(api.versions))
    await screenshot(page, 'ui-clusters')

    // Tab from the top: skip link, brand, the navigation, the token form, then the table's links.
    // Bounded by what can take focus: in the whole suite the shared database holds many clusters before ours.
    const order: string[] = []
    const focusable = await page.locator('a[href], button, input, select, textarea, [tabindex]').count()
    for (let i = 0; i < focusable + 1; i++) {
      await page.keyboard.press('Tab')
      const label = await page.evaluate(() => {
        const a = (globalThis as any).document.activeElement
        return a ? `${a.tagName.toLowerCase()}:${a.getAttribute('href') ?? a.id ?? ''}` : ''
      })
      order.push(label)
      if (label === `a:#/clusters/${cluster}`) break
    }
    expect(order.slice(0, 8)).toEqual(['a:#view', 'a:#/', 'a:#/', 'a:#/backups', 'a:/graphiql', 'a:/docs', 'input:token', 'button:'])
    expect(order.at(-1)).toBe(`a:#/clusters/${cluster}`)
    // A visible focus ring: the outline comes from :focus-visible.
    const outline = await page.evaluate(() => (globalThis as any).getComputedStyle((globalThis as any).document.activeElement).outlineStyle)
    expect(outline).toBe('solid')
    await page.keyboard.press('Enter')
    await page.locator('#versions').waitFor()
    expect(page.url()).toContain(`#/clusters/${cluster}`)
    expect(w.problems).toEqual([])
    expect(w.blocked).toEqual([])
    expect(w.httpErrors).toEqual([])
    // The watch would see a violation: an inline <style> is refused by the page's CSP and reported.
    await page.evaluate(() => {
      const d = (globalThis as any).document
      const style = d.createElement('style')
      style.textContent = 'body { color: red }'
      d.head.append(style)
    })
    await expect.poll(() => w.problems.some((p) => p.startsWith('CSP violation: style-src'))).toBe(true)
    await w.context.close()
  })

  it('draws the growth chart: date ticks, a marker per version by kind, the projection and its band, values on focus', async () => {
    const w = await openPage(browser, { viewport: { width: 1280, height: 1500 } })
    const { page } = w
    const versions = (await json(`/v1/clusters/${cluster}/versions?limit=200`)).items
    await page.goto(`${base}/ui#/clusters/${cluster}`)
    await page.locator('#growth[data-ready="true"]').waitFor()
    expect(await page.locator('#versions tbody tr').count()).toBe(versions.length)
    for (const v of versions) expect(await page.locator(`#versions tr[data-version="${v.version}"]`).getAttribute('data-kind')).toBe(v.kind)

    // The threshold: twice the latest KUBE-SERVICES length, so the crossing is near; typed and
    // submitted from the keyboard.
    const growth = await json(`/v1/clusters/${cluster}/growth?metric=kubeServicesRules`)
    const latest = growth.points.at(-1).values.kubeServicesRules
    const threshold = latest * 2
    await page.locator('#growth-threshold').focus()
    await page.keyboard.press('Control+A')
    await page.keyboard.type(String(threshold))
    await page.keyboard.press('Enter')
    await expect.poll(() => page.locator('#growth[data-ready="true"] #projection').textContent()).toBeTruthy()
    const projection = await json(`/v1/clusters/${cluster}/growth/projection?metric=kubeServicesRules&threshold=${threshold}`)
    await expect.poll(() => page.locator('#projection').textContent()).toBe(projection.message)

    // A marker per version, shaped by its kind.
    const chart = page.locator('#growth svg.chart')
    expect(await chart.locator('g.pt').count()).toBe(growth.points.length)
    const kinds = new Map(versions.map((v: any) => [v.version, v.kind]))
    for (const p of growth.points) expect(await chart.locator(`g.pt[data-version="${p.version}"]`).getAttribute('data-kind')).toBe(kinds.get(p.version))
    expect(await chart.locator('g.pt.kind-rollback path').count()).toBe(versions.filter((v: any) => v.kind === 'rollback').length)
    expect(await chart.locator('g.pt.kind-rollback path').count()).toBeGreaterThan(0)
    // Time ticks are dates: six days of history, so every tick is a YYYY-MM-DD day.
    const ticks = await chart.locator('text.time-tick').allTextContents()
    expect(ticks.length).toBeGreaterThanOrEqual(3)
    for (const tick of ticks) expect(tick).toMatch(/^\d{4}-\d{2}-\d{2}$/)
    const firstDay = growth.points[0].createdAt.slice(0, 10)
    expect(ticks.some((x) => x >= firstDay)).toBe(true)
    // The projection line whenever the API fitted one; the band whenever it gave an interval.
    expect(await chart.locator('line.projection').count()).toBe(typeof projection.fitted === 'number' && typeof projection.slopePerDay === 'number' ? 1 : 0)
    expect(await chart.locator('polygon.band').count()).toBe(projection.interval ? 1 : 0)
    expect(projection.status).toBe('projected')
    expect(await chart.locator('text.threshold-label').textContent()).toBe(`threshold ${threshold.toLocaleString('en-US')}`)

    // Values on keyboard focus, arrows to move along the versions.
    const first = growth.points[0]
    await chart.locator(`g.pt[data-version="${first.version}"]`).focus()
    await expect.poll(() => chart.getAttribute('data-shown')).toBe(String(first.version))
    expect(await chart.locator('.tip').getAttribute('visibility')).toBe('visible')
    expect(await chart.locator('.tip text').allTextContents()).toEqual([
      `v${first.version} · ${kinds.get(first.version)}`,
      `${first.createdAt.slice(0, 19).replace('T', ' ')} UTC`,
      `kubeServicesRules: ${first.values.kubeServicesRules} rules`,
    ])
    await page.keyboard.press('ArrowRight')
    const second = growth.points[1]
    await expect.poll(() => chart.getAttribute('data-shown')).toBe(String(second.version))
    expect(await chart.locator('.tip text').nth(2).textContent()).toBe(`kubeServicesRules: ${second.values.kubeServicesRules} rules`)
    // And on hover.
    const rollback = versions.find((v: any) => v.kind === 'rollback')
    await chart.locator(`g.pt[data-version="${rollback.version}"]`).hover()
    await expect.poll(() => chart.getAttribute('data-shown')).toBe(String(rollback.version))
    expect(await chart.locator('.tip text').first().textContent()).toBe(`v${rollback.version} · rollback`)
    await page.locator('#growth').screenshot({ path: 'test-artifacts/ui-growth-chart.png' })
    await screenshot(page, 'ui-cluster')
    expect(w.problems).toEqual([])
    expect(w.blocked).toEqual([])
    expect(w.httpErrors).toEqual([])
    await w.context.close()
  })

  it('shows a diff of two versions coloured and grouped by Service', async () => {
    const w = await openPage(browser, { viewport: { width: 1280, height: 1500 } })
    const { page } = w
    await page.goto(`${base}/ui#/clusters/${cluster}`)
    await page.locator('#diff-form').waitFor()
    await page.selectOption('#diff-from', '6')
    await page.selectOption('#diff-to', '7')
    await page.locator('#diff-form button').focus()
    await page.keyboard.press('Enter')
    await page.locator('#diff-result[data-done="true"]').waitFor()
    const d = await json(`/v1/clusters/${cluster}/diff?from=6&to=7&format=json`)
    expect(d.families).toHaveLength(1)
    const services = d.families[0].services
    expect(services.length).toBeGreaterThan(0)
    const groups = page.locator('#diff-result details.svc[data-service]')
    const keys = await groups.evaluateAll((els) => els.map((e) => e.getAttribute('data-service')))
    expect(keys.slice(0, services.length)).toEqual(services.map((s: any) => s.key))
    for (const s of services.slice(0, 3)) {
      const g = page.locator(`#diff-result details.svc[data-service="${s.key}"]`)
      expect(await g.getAttribute('class')).toContain(`svc-${s.change}`)
      expect(await g.locator('summary').textContent()).toContain(`+${s.rulesAdded}`)
      // Every added rule of the service is shown as a green + line.
      const added = s.tables.nat.chainsChanged.flatMap((c: any) => c.rulesAdded)
      const shown = await g.locator('pre.diff span.add').allTextContents()
      for (const rule of added) expect(shown).toContain(`+ ${rule}\n`)
    }
    const colour = await page
      .locator('#diff-result pre.diff span.add')
      .first()
      .evaluate((e) => (globalThis as any).getComputedStyle(e).color)
    expect(colour).toBe('rgb(17, 99, 41)')
    await page.locator('#diff-result details.unified-box summary').click()
    const unified = (await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/diff?from=6&to=7&format=unified` })).body
    const firstAdd = unified.split('\n').find((l) => l.startsWith('+') && !l.startsWith('+++'))!
    expect(await page.locator('#diff-result pre.unified span.add').first().textContent()).toBe(`${firstAdd}\n`)
    await screenshot(page, 'ui-diff')
    expect(w.problems).toEqual([])
    expect(w.httpErrors).toEqual([])
    expect(w.blocked).toEqual([])
    await w.context.close()
  })

  it("shows the cluster's history and filters it by type", async () => {
    const w = await openPage(browser)
    const { page } = w
    const h = await json(`/v1/clusters/${cluster}/history?limit=50`)
    await page.goto(`${base}/ui#/clusters/${cluster}/history`)
    await page.locator('#history tbody tr').first().waitFor()
    expect(await page.locator('#history tbody tr').count()).toBe(h.items.length)
    expect(await page.locator('#history tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-type')))).toEqual(h.items.map((e: any) => e.type))
    const rb = h.items.find((e: any) => e.type === 'rollback')
    expect(await page.locator(`#history tr[data-event="${rb.id}"]`).textContent()).toContain('ui test: back to v3')
    await page.selectOption('#history-type', 'rollback')
    await page.locator('#history-form button').press('Enter')
    await expect.poll(() => page.locator('#history tbody tr').count()).toBe(h.items.filter((e: any) => e.type === 'rollback').length)
    await screenshot(page, 'ui-history')
    expect(w.problems).toEqual([])
    expect(w.httpErrors).toEqual([])
    await w.context.close()
  })
})
