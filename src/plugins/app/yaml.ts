/**
 * YAML request bodies (application/yaml, text/yaml, application/x-yaml), as `kubectl get -o yaml`
 * writes them or as people hand-write multi-document files. One document parses to its value,
 * several (`---` separated) to an array of values; the ingest use-case accepts both. Depth and
 * aliases are bounded before any value is built (./bounded.ts).
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { BadRequestError } from '../../errors.js'
import { composeBounded, DEFAULT_PARSE_LIMITS, nulError, nulPointer, type ParseLimits } from './bounded.js'

export const YAML_CONTENT_TYPES = ['application/yaml', 'text/yaml', 'application/x-yaml']

/** Parse YAML text to plain data; syntax errors become a 400 naming line and column. */
export function parseYaml(text: string, limits: ParseLimits = DEFAULT_PARSE_LIMITS): unknown {
  const { docs: list, lineCounter } = composeBounded(text, limits)
  const values: unknown[] = []
  for (const [index, doc] of list.entries()) {
    const error = doc.errors[0]
    if (error) {
      const pos = lineCounter.linePos(error.pos[0])
      throw new BadRequestError(`malformed YAML in document ${index} at line ${pos.line}, column ${pos.col}: ${error.message.split('\n')[0]}`, [
        { pointer: list.length > 1 ? `/${index}` : '', detail: error.code },
      ])
    }
    let value: unknown
    try {
      // maxAliasCount bounds "billion laughs" expansion (aliases of aliases); kubectl output
      // never uses aliases.
      value = doc.toJS({ maxAliasCount: limits.yamlMaxAliases })
    } catch (err) {
      // Parsing succeeded but building values failed: an unresolved alias, or too many alias
      // expansions. Both are the document's fault.
      throw new BadRequestError(`malformed YAML in document ${index}: ${(err as Error).message.trim()}`, [
        { pointer: list.length > 1 ? `/${index}` : '', detail: 'unresolvable document' },
      ])
    }
    // Empty documents (a trailing `---`) carry nothing.
    if (value !== null && value !== undefined) values.push(value)
  }
  if (values.length === 0) throw new BadRequestError('empty YAML body', [{ pointer: '', detail: 'no YAML document with content' }])
  const result = values.length === 1 ? values[0] : values
  const nul = nulPointer(result)
  if (nul !== null) throw nulError(nul)
  return result
}

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
