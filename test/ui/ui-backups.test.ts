/**
 * The backups page in headless chromium (other hosts blocked): create a backup from the form,
 * download it, import the downloaded archive into a new cluster, and see the imported versions
 * marked as imports on that cluster's growth chart — checked against the API's answers.
 */
import { readFileSync } from 'node:fs'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestApp, uniqueName, type TestApp } from '../api/helpers.js'
import { haveChromium, launch, openPage, screenshot } from './browser.js'
import { seedCluster } from './seed.js'

describe.skipIf(!haveChromium)('the backups page in headless chromium', () => {
  let t: TestApp
  let browser: Browser
  let base: string
  const cluster = uniqueName('uib')
  const target = uniqueName('uiimp')
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

  it('creates, downloads and imports a backup; the import is marked on the chart', async () => {
    const w = await openPage(browser, { viewport: { width: 1280, height: 1200 } })
    const { page } = w
    await page.goto(`${base}/ui#/backups`)
    await page.locator('#view[data-ready="true"] #backup-form').waitFor()

    // Create v2..v4 from the keyboard.
    await page.selectOption('#backup-cluster', cluster)
    await page.locator('#backup-from').focus()
    await page.keyboard.type('2')
    await page.keyboard.press('Tab')
    await page.keyboard.type('4')
    await page.keyboard.press('Tab')
    await page.keyboard.type('ui test backup')
    await page.keyboard.press('Enter')
    await expect.poll(() => page.locator('#backup-created').getAttribute('data-id')).toBeTruthy()
    const id = (await page.locator('#backup-created').getAttribute('data-id'))!
    const b = await json(`/v1/backups/${id}`)
    expect(b).toMatchObject({ cluster, fromVersion: 2, toVersion: 4, versions: 3, note: 'ui test backup' })
    const row = page.locator(`#backups tr[data-backup="${id}"]`)
    await row.waitFor()
    expect(await row.textContent()).toContain('v2–v4')
    // The list holds what the API lists for this cluster.
    const ours = (await json(`/v1/backups?cluster=${cluster}&limit=100`)).items.map((x: any) => x.id)
    for (const x of ours) expect(await page.locator(`#backups tr[data-backup="${x}"]`).count()).toBe(1)

    const [download] = await Promise.all([page.waitForEvent('download'), row.locator('button[data-download-backup]').press('Enter')])
    expect(download.suggestedFilename()).toBe(`${cluster}-v2-v4.tar.gz`)
    const file = (await download.path())!
    const direct = await t.app.inject({ method: 'GET', url: `/v1/backups/${id}/download` })
    expect(readFileSync(file).equals(direct.rawPayload)).toBe(true)
    await screenshot(page, 'ui-backups')

    // Import the downloaded archive into a new cluster.
    await page.setInputFiles('#import-file', file)
    await page.locator('#import-cluster').fill(target)
    await page.locator('#import-form button').click()
    await page.locator('#import-result[data-done="true"]').waitFor()
    const versions = (await json(`/v1/clusters/${target}/versions?limit=200`)).items
    expect(versions.map((v: any) => v.kind)).toEqual(['import', 'import', 'import'])
    expect(await page.locator('#import-result').getAttribute('data-created')).toBe(String(versions.length))
    expect(await page.locator('#import-result').textContent()).toContain(`from ${cluster}: 3 version(s) created`)

    await page.locator(`#import-result a[href="#/clusters/${target}"]`).press('Enter')
    await page.locator('#growth[data-ready="true"]').waitFor()
    expect(await page.locator('#growth svg.chart g.pt.kind-import').count()).toBe(versions.length)
    expect(await page.locator('#growth svg.chart g.pt.kind-import path').count()).toBe(versions.length)
    await screenshot(page, 'ui-imported-cluster')

    // The history of the source cluster records the backup.
    await page.goto(`${base}/ui#/clusters/${cluster}/history`)
    await page.locator(`#history tr[data-type="backup.created"]`).first().waitFor()
    expect(await page.locator('#history tr[data-type="backup.created"]').first().textContent()).toContain(id)
    expect(w.problems).toEqual([])
    expect(w.blocked).toEqual([])
    expect(w.httpErrors).toEqual([])
    await w.context.close()
  })
})
