/**
 * GraphiQL at /graphiql, every byte served by natplan. mercurius's own GraphiQL page loads React
 * and GraphiQL from a CDN, so offline (or behind an egress policy) it is a blank page; here the
 * pinned `graphiql`, `react` and `react-dom` packages' UMD builds are read from node_modules at
 * start and served beside a small HTML page and its external init script.
 *
 * Who may load it follows NATPLAN_DOCS_AUTH: app.ts's onRoute hook marks every /graphiql route
 * public or read-scoped, these included.
 */
import type { FastifyInstance, FastifyReply } from 'fastify'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { uiDir } from './plugin.js'

/**
 * GraphiQL's editors (CodeMirror) and its popovers set style attributes and insert <style>
 * elements at run time, so its page needs `style-src 'unsafe-inline'`; nothing else is relaxed.
 * Scripts stay `'self'` only (the init script is a file, not inline), and fonts and icons are
 * data: URLs inside graphiql.min.css.
 */
export const GRAPHIQL_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

const require = createRequire(import.meta.url)

/** A file of an installed package, found through its package.json (graphiql's exports map hides its UMD build). */
function packageFile(pkg: string, file: string): Buffer {
  return readFileSync(join(dirname(require.resolve(`${pkg}/package.json`)), file))
}

const JS = 'text/javascript; charset=utf-8'
const CSS = 'text/css; charset=utf-8'

export function graphiqlAssets(): Map<string, { type: string; body: Buffer }> {
  const page = uiDir('graphiql')
  return new Map([
    ['react.production.min.js', { type: JS, body: packageFile('react', 'umd/react.production.min.js') }],
    ['react-dom.production.min.js', { type: JS, body: packageFile('react-dom', 'umd/react-dom.production.min.js') }],
    ['graphiql.min.js', { type: JS, body: packageFile('graphiql', 'graphiql.min.js') }],
    ['graphiql.min.css', { type: CSS, body: packageFile('graphiql', 'graphiql.min.css') }],
    ['init.js', { type: JS, body: readFileSync(join(page, 'init.js')) }],
    ['page.css', { type: CSS, body: readFileSync(join(page, 'page.css')) }],
  ])
}

export default async function graphiqlPage(app: FastifyInstance): Promise<void> {
  const page = readFileSync(join(uiDir('graphiql'), 'index.html'))
  const assets = graphiqlAssets()
  const opts = { schema: { hide: true } }
  const headers = (reply: FastifyReply, type: string) =>
    reply.type(type).header('content-security-policy', GRAPHIQL_CSP).header('x-content-type-options', 'nosniff')
  app.get('/graphiql', opts, async (_request, reply) => headers(reply, 'text/html; charset=utf-8').header('cache-control', 'no-cache').send(page))
  // One route per known file: the name is a map key, never a path on disk.
  for (const [name, file] of assets) {
    // The package files change only with the lockfile; the page's own files with natplan.
    const cache = name === 'init.js' || name === 'page.css' ? 'no-cache' : 'public, max-age=86400'
    app.get(`/graphiql/assets/${name}`, opts, async (_request, reply) => headers(reply, file.type).header('cache-control', cache).send(file.body))
  }
}
