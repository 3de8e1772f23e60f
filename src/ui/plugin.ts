/**
 * Serves the small UI at /ui: three static files (HTML, a vanilla ES module, CSS) read once at
 * start. No build chain, no inline script or style, so a strict Content-Security-Policy holds.
 * The page itself is public (it holds no data); every API call it makes carries the user's token.
 */
import type { FastifyInstance } from 'fastify'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
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
 * The static folder from src/ (tsx, vitest) or from dist/src/ (tsc does not copy non-TS files,
 * so the built server reads them from the package's src/ui/static).
 */
export function staticDir(): string {
  const here = dirname(fileURLToPath(import.meta.url))
  const candidates = [join(here, 'static'), join(here, '..', '..', '..', 'src', 'ui', 'static')]
  const found = candidates.find((d) => existsSync(join(d, 'index.html')))
  if (!found) throw new Error(`natplan UI files not found (looked in ${candidates.join(', ')})`)
  return found
}

export default async function uiPlugin(app: FastifyInstance): Promise<void> {
  const dir = staticDir()
  const files = new Map(Object.entries(FILES).map(([name, type]) => [name, { type, body: readFileSync(join(dir, name)) }]))

  const send = (name: string) => {
    const f = files.get(name)!
    return async (_request: unknown, reply: import('fastify').FastifyReply) =>
      reply.type(f.type).header('content-security-policy', UI_CSP).header('x-content-type-options', 'nosniff').header('cache-control', 'no-cache').send(f.body)
  }
  const opts = { config: { public: true }, schema: { hide: true } }
  app.get('/ui', opts, send('index.html'))
  for (const name of files.keys()) app.get(`/ui/${name}`, opts, send(name))
}
