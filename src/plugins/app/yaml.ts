/**
 * YAML request bodies (application/yaml, text/yaml, application/x-yaml), as `kubectl get -o yaml`
 * writes them or as people hand-write multi-document files. One document parses to its value,
 * several (`---` separated) to an array of values; the ingest use-case accepts both.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { parseAllDocuments } from 'yaml'
import { BadRequestError } from '../../errors.js'

export const YAML_CONTENT_TYPES = ['application/yaml', 'text/yaml', 'application/x-yaml']

/** Parse YAML text to plain data; syntax errors become a 400 naming line and column. */
export function parseYaml(text: string): unknown {
  // maxAliasCount bounds "billion laughs" expansion; kubectl output never uses aliases.
  const docs = parseAllDocuments(text, { prettyErrors: false })
  const list = Array.isArray(docs) ? docs : [docs]
  const values: unknown[] = []
  for (const [index, doc] of list.entries()) {
    const error = doc.errors[0]
    if (error) {
      const pos = error.linePos?.[0]
      const where = pos ? ` at line ${pos.line}, column ${pos.col}` : ''
      throw new BadRequestError(`malformed YAML in document ${index}${where}: ${error.message.split('\n')[0]}`, [
        { pointer: list.length > 1 ? `/${index}` : '', detail: error.code },
      ])
    }
    let value: unknown
    try {
      value = doc.toJS({ maxAliasCount: 100 })
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
  if (values.length === 0) throw new BadRequestError('empty YAML body')
  return values.length === 1 ? values[0] : values
}

export default fp(
  async function yamlPlugin(app: FastifyInstance) {
    app.addContentTypeParser(YAML_CONTENT_TYPES, { parseAs: 'string' }, (_request, body, done) => {
      try {
        done(null, parseYaml(body as string))
      } catch (err) {
        done(err as Error, undefined)
      }
    })
  },
  { name: 'yaml' },
)
