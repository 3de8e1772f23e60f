/**
 * application/json bodies for the whole app (REST and GraphQL alike), parsed by
 * src/services/parse-body.ts parseJson: secure-json-parse (prototype poisoning refused) behind a
 * depth pre-scan (src/services/bounded.ts), so a body nested past NATPLAN_MAX_DEPTH is a 400
 * naming the limit before anything recursive sees it, and a NUL anywhere in the body is a 400
 * pointing at it. Empty or malformed bodies are 400 problems with errors[] (fastify's own say
 * neither where nor what).
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { DEFAULT_PARSE_LIMITS, type ParseLimits } from '../../services/bounded.js'
import { parseJson } from '../../services/parse-body.js'

export default fp(
  async function jsonPlugin(app: FastifyInstance, opts: { limits?: ParseLimits }) {
    const limits = opts.limits ?? DEFAULT_PARSE_LIMITS
    app.removeContentTypeParser('application/json')
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
      try {
        done(null, parseJson(body as string, limits))
      } catch (err) {
        done(err as Error, undefined)
      }
    })
  },
  { name: 'json' },
)
