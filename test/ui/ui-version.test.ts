/**
 * The version page in headless chromium (other hosts blocked): the nodes of a three-node version
 * with their variants and restore scripts, a node-to-node diff, a trace typed from the keyboard
 * and drawn chain by chain, drift of a pasted and of an uploaded dump, the cleanup report and a
 * rollback — each checked against the API's answer to the same question.
 */
import { readFileSync } from 'node:fs'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestApp, uniqueName, type TestApp } from '../api/helpers.js'
import { haveChromium, launch, openPage, screenshot, type Watched } from './browser.js'
import { seedCluster } from './seed.js'

describe.skipIf(!haveChromium)('the version page in headless chromium', () => {
  let t: TestApp
  let browser: Browser
  let base: string
  let w: Watched
  const cluster = uniqueName('uiv')
  const v1 = `/v1/clusters/${cluster}/versions/1`
  const get = (url: string) => t.app.inject({ method: 'GET', url })
  const json = async (url: string) => (await get(url)).json()

  beforeAll(async () => {
    t = await startTestApp()
    await seedCluster(t, cluster)
    base = await t.app.listen({ host: '127.0.0.1', port: 0 })
    browser = await launch()
    w = await openPage(browser, { viewport: { width: 1280, height: 1400 } })
    await w.page.goto(`${base}/ui#/clusters/${cluster}/versions/1`)
    await w.page.locator('#view[data-ready="true"]').waitFor()
  })
  afterAll(async () => {
    await w?.context.close()
    await browser?.close()
    await t?.close()
  })

  it('lists the nodes with their variants and serves their restore scripts', async () => {
    const { page } = w
    const nodes = await json(`${v1}/nodes`)
    expect(nodes.items.length).toBe(3)
    expect(await page.locator('#nodes tbody tr').evaluateAll((rows) => rows.map((r) => [r.getAttribute('data-node'), r.getAttribute('data-variant')]))).toEqual(
      nodes.items.map((n: any) => [n.name, String(n.variant)]),
    )
    expect(await page.locator('#nodes-note').textContent()).toContain(`${nodes.items.length} node(s) in ${nodes.variants} variant(s)`)
    const node = nodes.items[1].name
    const [download] = await Promise.all([page.waitForEvent('download'), page.click(`button[data-download-node="${node}"]`)])
    expect(download.suggestedFilename()).toBe(`${cluster}-v1-${node}.rules`)
    expect(readFileSync((await download.path())!, 'utf8')).toBe((await get(`${v1}/nodes/${node}/restore-script`)).body)
    // Three nodes and no default node: no whole-version script to offer.
    expect((await get(`${v1}/restore-script`)).statusCode).toBe(400)
    expect(await page.locator('#download-script').count()).toBe(0)
    expect(await page.locator('#download-per-node').count()).toBe(1)
  })

  it('diffs two nodes, grouped by Service', async () => {
    const { page } = w
    const nodes = (await json(`${v1}/nodes`)).items
    await page.selectOption('#node-diff-from', nodes[0].name)
    await page.selectOption('#node-diff-to', nodes[1].name)
    await page.locator('#node-diff-form button').press('Enter')
    await page.locator('#node-diff-result[data-done="true"]').waitFor()
    const d = await json(`/v1/clusters/${cluster}/diff?from=1&to=1&fromNode=${nodes[0].name}&toNode=${nodes[1].name}&format=json`)
    const services = d.families[0].services
    expect(services.length).toBeGreaterThan(0)
    const keys = await page.locator('#node-diff-result details.svc').evaluateAll((els) => els.map((e) => e.getAttribute('data-service')))
    expect(keys.slice(0, services.length)).toEqual(services.map((s: any) => s.key))
    expect(await page.locator('#node-diff-result .diff-summary').textContent()).toContain(`v1 ${nodes[0].name} → v1 ${nodes[1].name}`)
  })

  it('traces a connection typed from the keyboard and draws its path chain by chain', async () => {
    const { page } = w
    const nodes = (await json(`${v1}/nodes`)).items
    const packet = { source: '10.244.9.9', destination: '10.96.30.30', port: 80, protocol: 'tcp' }
    const r = (await t.app.inject({ method: 'POST', url: `${v1}/nodes/${nodes[0].name}/trace`, payload: packet })).json()
    expect(r.verdict).toBe('DNAT')
    await page.locator('#trace-node').focus()
    expect(await page.locator('#trace-node').inputValue()).toBe(nodes[0].name)
    await page.keyboard.press('Tab')
    await page.keyboard.press('Control+A')
    await page.keyboard.type(packet.source)
    await page.keyboard.press('Tab')
    await page.keyboard.type(packet.destination)
    await page.keyboard.press('Tab')
    expect(await page.evaluate(() => (globalThis as any).document.activeElement.id)).toBe('trace-port')
    await page.keyboard.press('Enter')
    await page.locator('#trace-result[data-done="true"]').waitFor()
    // One box per chain in the order the rules matched, then the verdict and the endpoints.
    const chains: string[] = []
    for (const m of r.rulesMatched) if (chains.at(-1) !== m.chain) chains.push(m.chain)
    expect(await page.locator('#trace-path > li.hop[data-chain]').evaluateAll((els) => els.map((e) => e.getAttribute('data-chain')))).toEqual(chains)
    expect(await page.locator('#trace-path li.hop[data-chain] code').allTextContents()).toEqual(r.rulesMatched.map((m: any) => m.rule))
    expect(await page.locator('#trace-end .verdict').textContent()).toBe(r.verdict)
    expect(await page.locator('#trace-end [data-endpoint]').evaluateAll((els) => els.map((e) => e.getAttribute('data-endpoint')))).toEqual(
      r.endpoints.map((e: any) => e.endpoint),
    )
    expect(await page.locator('#trace-summary').textContent()).toContain(r.output)
    await page.locator('#trace').screenshot({ path: 'test-artifacts/ui-trace.png' })
  })

  it('checks drift of a pasted dump and of an uploaded one', async () => {
    const { page } = w
    const node = (await json(`${v1}/nodes`)).items[0].name
    const script = (await get(`${v1}/nodes/${node}/restore-script`)).body
    const removed = script.split('\n').find((l) => l.startsWith('-A KUBE-SVC-'))!
    const edited = script.replace(`${removed}\n`, '')
    const api = (await t.app.inject({ method: 'POST', url: `${v1}/nodes/${node}/drift`, headers: { 'content-type': 'text/plain' }, payload: edited })).json()
    expect(api.inSync).toBe(false)
    await page.selectOption('#drift-node', node)
    await page.locator('#drift-dump').fill(edited)
    await page.locator('#drift-form button[type="submit"]').click()
    await page.locator('#drift-result[data-done="true"]').waitFor()
    expect(await page.locator('#drift-result [data-in-sync]').getAttribute('data-in-sync')).toBe('false')
    expect(await page.locator('#drift-lines span.add').allTextContents()).toContain(`+ ${removed}\n`)
    expect(await page.locator('#drift-verdict').textContent()).toContain(`${api.summary.missingRules} missing rules`)
    await page.locator('#drift').screenshot({ path: 'test-artifacts/ui-drift.png' })

    // The untouched script, uploaded as a file: in sync.
    await page.setInputFiles('#drift-file', { name: `${node}.rules`, mimeType: 'text/plain', buffer: Buffer.from(script) })
    await expect.poll(() => page.locator('#drift-dump').inputValue()).toBe(script)
    await page.locator('#drift-form button[type="submit"]').click()
    await expect.poll(() => page.locator('#drift-result [data-in-sync]').getAttribute('data-in-sync')).toBe('true')
  })

  it("shows each node's cleanup report", async () => {
    const { page } = w
    const nodes = (await json(`${v1}/nodes`)).items
    for (const n of nodes) {
      const r = await json(`${v1}/nodes/${n.name}/cleanup`)
      await page.selectOption('#cleanup-node', n.name)
      await page.locator('#cleanup-form button').press('Enter')
      await page.locator('#cleanup-result[data-done="true"]').waitFor()
      for (const [kind, count] of Object.entries(r.summary))
        expect(await page.locator(`#cleanup-summary li[data-kind="${kind}"] strong`).textContent()).toBe(String(count))
      expect(await page.locator('#cleanup-items tbody tr').evaluateAll((rows) => rows.map((x) => x.getAttribute('data-service')))).toEqual(
        r.items.map((i: any) => i.service),
      )
    }
    // The Local-policy Service leaves some node without local endpoints.
    const all = await Promise.all(nodes.map((n: any) => json(`${v1}/nodes/${n.name}/cleanup`)))
    expect(all.some((r) => r.items.length > 0)).toBe(true)
    await screenshot(page, 'ui-version')
  })

  it('rolls back to this version from the form', async () => {
    const { page } = w
    const before = (await json(`/v1/clusters/${cluster}/versions?limit=1`)).items[0].version
    await page.locator('#rollback-reason').fill('ui test: rollback from the page')
    await page.locator('#rollback-reason').press('Enter')
    await page.waitForURL(`**/ui#/clusters/${cluster}/versions/${before + 1}`)
    await page.locator('#view[data-ready="true"] #version-title').waitFor()
    const v = await json(`/v1/clusters/${cluster}/versions/${before + 1}`)
    expect(v).toMatchObject({ kind: 'rollback', sourceVersion: 1, reason: 'ui test: rollback from the page' })
    expect(await page.locator('#version-title').textContent()).toBe(`${cluster} v${before + 1}`)
    expect(w.problems).toEqual([])
    expect(w.blocked).toEqual([])
    expect(w.httpErrors).toEqual([])
  })
  it("downloads a single-default-node version's restore script", async () => {
    const { page } = w
    const v = (await json(`/v1/clusters/${cluster}/versions?limit=200`)).items.find((x: any) => x.kind === 'snapshot' && x.counts.nodes?.defaultNode)
    await page.goto(`${base}/ui#/clusters/${cluster}/versions/${v.version}`)
    await page.locator('#view[data-ready="true"] #download-script').waitFor()
    const [whole] = await Promise.all([page.waitForEvent('download'), page.locator('#download-script').press('Enter')])
    expect(whole.suggestedFilename()).toBe(`${cluster}-v${v.version}.rules`)
    expect(readFileSync((await whole.path())!, 'utf8')).toBe((await get(`/v1/clusters/${cluster}/versions/${v.version}/restore-script`)).body)
    expect(w.problems).toEqual([])
    expect(w.httpErrors).toEqual([])
  })
})
