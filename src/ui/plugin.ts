/**
 * Serves the small UI at /ui: the files under src/ui/static (HTML, vanilla ES modules, CSS, an
 * icon), read once at start. No build chain, no inline script or style, so a strict
 * Content-Security-Policy holds. The page itself is public (it holds no data); every API call it
 * makes carries the user's token.
 *
 * The folder is listed at start and each file becomes a key of a map: a request names a key or
 * gets a 404, so no URL (`..`, `%2e%2e`, an absolute path, a symlink added later) ever reaches
 * the filesystem.
 */
import type { FastifyInstance, FastifyReply } from 'fastify'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, extname, join, posix } from 'node:path'
import { fileURLToPath } from 'node:url'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
}

export const UI_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

/**
 * A folder of src/ui from src/ (tsx, vitest) or from dist/src/ (tsc does not copy non-TS files,
 * so the built server reads them from the package's src/ui).
 */
export function uiDir(name: string): string {
  const here = dirname(fileURLToPath(import.meta.url))
  const candidates = [join(here, name), join(here, '..', '..', '..', 'src', 'ui', name)]
  const found = candidates.find((d) => existsSync(d))
  if (!found) throw new Error(`natplan UI files not found (looked in ${candidates.join(', ')})`)
  return found
}

export function staticDir(): string {
  return uiDir('static')
}

/** Every servable file under dir, by its URL path relative to it ('js/pages/version.js'). */
export function listStatic(dir: string): Map<string, { type: string; body: Buffer }> {
  const files = new Map<string, { type: string; body: Buffer }>()
  const walk = (rel: string) => {
    for (const entry of readdirSync(join(dir, rel), { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue
      const path = rel ? posix.join(rel, entry.name) : entry.name
      if (entry.isDirectory()) walk(path)
      else if (entry.isFile() && TYPES[extname(entry.name)]) files.set(path, { type: TYPES[extname(entry.name)]!, body: readFileSync(join(dir, path)) })
    }
  }
  walk('')
  return files
}

export default async function uiPlugin(app: FastifyInstance): Promise<void> {
  const files = listStatic(staticDir())
  const send = (reply: FastifyReply, name: string) => {
    const f = files.get(name)
    if (!f) return reply.callNotFound()
    return reply
      .type(f.type)
      .header('content-security-policy', UI_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('cache-control', 'no-cache')
      .send(f.body)
  }
  const opts = { config: { public: true }, schema: { hide: true } }
  app.get('/ui', opts, async (_request, reply) => send(reply, 'index.html'))
  app.get<{ Params: { '*': string } }>('/ui/*', opts, async (request, reply) => send(reply, request.params['*']))
}
