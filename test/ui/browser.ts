/**
 * Headless Chromium (Debian's chromium, driven by playwright-core) for the UI tests: a context
 * whose every request to anything but the app on 127.0.0.1 is aborted (so a CDN dependency
 * fails the test instead of passing online), and a page that records console errors, CSP
 * violations, uncaught exceptions and failed requests for the test to assert empty.
 */
import { existsSync, mkdirSync } from 'node:fs'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'
export const haveChromium = existsSync(CHROMIUM)
if (!haveChromium) console.warn(`test/ui: SKIPPED — ${CHROMIUM} is missing (install it with: apt-get install -y chromium)`)

export function launch(): Promise<Browser> {
  return chromium.launch({
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
}

export interface Watched {
  context: BrowserContext
  page: Page
  /** Console errors, CSP violations, page exceptions. */
  problems: string[]
  /** Requests that left 127.0.0.1 (all aborted). */
  blocked: string[]
  /** Responses with status >= 400, as "status path". */
  httpErrors: string[]
}

export async function openPage(browser: Browser, opts: { viewport?: { width: number; height: number } } = {}): Promise<Watched> {
  const context = await browser.newContext({ acceptDownloads: true, viewport: opts.viewport ?? { width: 1280, height: 1000 } })
  const blocked: string[] = []
  await context.route(
    (url) => url.hostname !== '127.0.0.1',
    (route) => {
      blocked.push(route.request().url())
      return route.abort('blockedbyclient')
    },
  )
  const page = await context.newPage()
  const problems: string[] = []
  const httpErrors: string[] = []
  page.on('console', (m) => {
    // HTTP errors are collected by URL below; everything else logged as an error fails.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(m.text())
  })
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`))
  page.on('response', (r) => {
    if (r.status() >= 400) httpErrors.push(`${r.status()} ${new URL(r.url()).pathname}`)
  })
  // CSP violations also reach the console, but the event says which directive refused what.
  await page.addInitScript({
    content: "document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' blocked ' + e.blockedURI))",
  })
  return { context, page, problems, blocked, httpErrors }
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync('test-artifacts', { recursive: true })
  await page.screenshot({ path: `test-artifacts/${name}.png`, fullPage: true })
}
