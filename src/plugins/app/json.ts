/**
 * application/json bodies for the whole app (REST and GraphQL alike): fastify's own parser
 * (secure-json-parse, prototype poisoning refused) behind a depth pre-scan (./bounded.ts), so a
 * body nested past NATPLAN_MAX_DEPTH is a 400 naming the limit before anything recursive sees
 * it, and a NUL anywhere in the body is a 400 pointing at it. Empty or malformed bodies are 400
 * problems with errors[] (fastify's own say neither where nor what).
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { BadRequestError } from '../../errors.js'
import { DEFAULT_PARSE_LIMITS, depthError, nulError, nulPointer, scanJson, type ParseLimits } from './bounded.js'

function malformed(text: string): BadRequestError {
  let reason: string
  try {
    JSON.parse(text)
    // JSON.parse took it, so secure-json-parse refused a __proto__ or constructor.prototype key.
    reason = 'a __proto__ or constructor.prototype key is not allowed'
  } catch (err) {
    reason = (err as Error).message
  }
  return new BadRequestError(`malformed JSON body: ${reason}`, [{ pointer: '', detail: reason }])
}

export default fp(
  async function jsonPlugin(app: FastifyInstance, opts: { limits?: ParseLimits }) {
    const limits = opts.limits ?? DEFAULT_PARSE_LIMITS
    const parse = app.getDefaultJsonParser('error', 'error')
    app.removeContentTypeParser('application/json')
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      const text = body as string
      if (text.length === 0) return done(new BadRequestError('the body is empty; send a JSON document', [{ pointer: '', detail: 'empty body' }]), undefined)
      const scan = scanJson(text, limits.maxDepth)
      if (scan.tooDeepAt >= 0) return done(depthError('JSON', limits, `at offset ${scan.tooDeepAt}`), undefined)
      parse(request, text, (err, value) => {
        if (err) return done(malformed(text), undefined)
        const nul = scan.nul ? nulPointer(value) : null
        if (nul !== null) return done(nulError(nul), undefined)
        done(null, value)
      })
    })
  },
  { name: 'json' },
)
