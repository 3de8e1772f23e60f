/**
 * Request bodies as text → values, with the limits of ./bounded.ts. Pure functions, so the same
 * parse runs in the HTTP content-type parsers (src/plugins/app/json.ts, yaml.ts) and in the ingest
 * worker (./ingest-worker.ts), which receives a snapshot's raw bytes so that parsing a 28 MB body
 * does not block the event loop.
 */
import sjson from 'secure-json-parse'
import { BadRequestError } from '../errors.js'
import { composeBounded, DEFAULT_PARSE_LIMITS, depthError, nulError, nulPointer, scanJson, type ParseLimits } from './bounded.js'

export const YAML_CONTENT_TYPES = ['application/yaml', 'text/yaml', 'application/x-yaml']

export type BodyType = 'json' | 'yaml'

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

/** JSON.parse refusing prototype poisoning as fastify's own parser does (secure-json-parse, both actions 'error'); throws. */
export function secureJsonParse(text: string): unknown {
  return sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' })
}

/**
 * A JSON body: empty, too deep, malformed or holding a NUL is a 400 with errors[]. Prototype
 * poisoning is refused (secureJsonParse).
 */
export function parseJson(text: string, limits: ParseLimits = DEFAULT_PARSE_LIMITS): unknown {
  if (text.length === 0) throw new BadRequestError('the body is empty; send a JSON document', [{ pointer: '', detail: 'empty body' }])
  const scan = scanJson(text, limits.maxDepth)
  if (scan.tooDeepAt >= 0) throw depthError('JSON', limits, `at offset ${scan.tooDeepAt}`)
  let value: unknown
  try {
    value = secureJsonParse(text)
  } catch {
    throw malformed(text)
  }
  const nul = scan.nul ? nulPointer(value) : null
  if (nul !== null) throw nulError(nul)
  return value
}

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

export function parseBody(text: string, type: BodyType, limits?: ParseLimits): unknown {
  return type === 'json' ? parseJson(text, limits) : parseYaml(text, limits)
}
