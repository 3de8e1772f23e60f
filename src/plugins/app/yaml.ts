/**
 * YAML request bodies (application/yaml, text/yaml, application/x-yaml), as `kubectl get -o yaml`
 * writes them or as people hand-write multi-document files. One document parses to its value,
 * several (`---` separated) to an array of values; the ingest use-case accepts both. Depth and
 * aliases are bounded before any value is built (src/services/bounded.ts, parse-body.ts).
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { DEFAULT_PARSE_LIMITS, type ParseLimits } from '../../services/bounded.js'
import { parseYaml, YAML_CONTENT_TYPES } from '../../services/parse-body.js'

export { parseYaml, YAML_CONTENT_TYPES }

export default fp(
  async function yamlPlugin(app: FastifyInstance, opts: { limits?: ParseLimits }) {
    const limits = opts.limits ?? DEFAULT_PARSE_LIMITS
    app.addContentTypeParser(YAML_CONTENT_TYPES, { parseAs: 'string' }, (_request, body, done) => {
      try {
        done(null, parseYaml(body as string, limits))
      } catch (err) {
        done(err as Error, undefined)
      }
    })
  },
  { name: 'yaml' },
)
