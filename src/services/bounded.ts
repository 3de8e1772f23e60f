/**
 * Bounded parsing: a request body's nesting depth (JSON and YAML) and YAML aliases are checked
 * BEFORE the values are built, so a hostile body is a 400 naming the limit instead of a stack
 * overflow somewhere after the parser (JSON.stringify, zod, the YAML composer — whose recursion
 * on 2,000 nested `[` overflowed the stack and, asked again, took the process down).
 *
 * JSON: one pass over the text counting brackets outside strings (V8's JSON.parse itself is
 * iterative; what came after it was not). YAML: the `yaml` package's CST parser is iterative
 * (an explicit stack in parse/parser.ts), its composer and toJS are recursive; so the document
 * is parsed to CST tokens once, the tokens are walked with an explicit stack to measure depth
 * and count alias nodes, and only then composed (Composer.compose over the same tokens, as the
 * package's own parseAllDocuments does in public-api.ts).
 */
import { Composer, LineCounter, Parser, type Document } from 'yaml'
import { yamlShape } from '../planner/kube/yaml-shape.js'
import { BadRequestError, LimitError } from '../errors.js'

export interface ParseLimits {
  /** NATPLAN_MAX_DEPTH: deepest nesting of arrays/objects (JSON) or collections (YAML). */
  maxDepth: number
  /** NATPLAN_YAML_MAX_ALIASES: alias nodes (`*name`) a YAML body may hold. */
  yamlMaxAliases: number
}

export const DEFAULT_PARSE_LIMITS: ParseLimits = { maxDepth: 64, yamlMaxAliases: 100 }

export function depthError(kind: 'JSON' | 'YAML', limits: ParseLimits, where: string): LimitError {
  return new LimitError(400, `${kind} body nests deeper than ${limits.maxDepth} levels (${where}); the limit is NATPLAN_MAX_DEPTH`, {
    name: 'maxDepth',
    value: limits.maxDepth,
    env: 'NATPLAN_MAX_DEPTH',
  })
}

/**
 * The offset of the first `[` or `{` that opens level max+1 of a JSON text, or -1. Strings are
 * skipped (a backslash escapes the next character), so brackets inside them do not count.
 */
export function scanJson(text: string, max: number): { tooDeepAt: number; nul: boolean } {
  // `\u0000` is JSON's only way to write NUL (raw control characters are not JSON). A hit may be
  // an escaped backslash followed by "u0000"; nulPointer() on the parsed value decides.
  const nul = text.includes('\\u0000')
  let depth = 0
  const n = text.length
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x22) {
      // to the closing quote: the next one not escaped (preceded by an even run of backslashes)
      let j = text.indexOf('"', i + 1)
      while (j > 0) {
        let k = j - 1
        while (text.charCodeAt(k) === 0x5c) k--
        if ((j - 1 - k) % 2 === 0) break
        j = text.indexOf('"', j + 1)
      }
      if (j < 0) return { tooDeepAt: -1, nul }
      i = j
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return { tooDeepAt: i, nul }
    } else if (c === 0x5d || c === 0x7d) depth--
  }
  return { tooDeepAt: -1, nul }
}

/**
 * The pointer of the first string (value or key) holding U+0000, or null. PostgreSQL's text and
 * jsonb cannot store NUL (SQLSTATE 22021 / 22P05), and no Kubernetes field may hold one, so such a
 * body is refused as a whole instead of failing as a 500 where a string reaches the database.
 * Iterative; depth is already bounded.
 */
export function nulPointer(value: unknown): string | null {
  const stack: Array<{ v: unknown; p: string }> = [{ v: value, p: '' }]
  const esc = (k: string) => k.replace(/~/g, '~0').replace(/\//g, '~1')
  while (stack.length > 0) {
    const { v, p } = stack.pop()!
    if (typeof v === 'string') {
      if (v.includes('\0')) return p
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], p: `${p}/${i}` })
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k.includes('\0')) return `${p}/${esc(k)}`
        stack.push({ v: x, p: `${p}/${esc(k)}` })
      }
    }
  }
  return null
}

export function nulError(pointer: string): Error {
  return new BadRequestError('the body holds a NUL character (U+0000), which no field may contain', [{ pointer, detail: 'contains U+0000' }])
}

/** YAML documents of `text`, after the depth and alias limits were checked on its CST. */
export function composeBounded(text: string, limits: ParseLimits): { docs: Document.Parsed[]; lineCounter: LineCounter } {
  const lineCounter = new LineCounter()
  const tokens = Array.from(new Parser(lineCounter.addNewLine).parse(text))
  const shape = yamlShape(tokens, limits)
  if (shape.tooDeepAt >= 0) {
    const pos = lineCounter.linePos(shape.tooDeepAt)
    throw depthError('YAML', limits, `at line ${pos.line}, column ${pos.col}`)
  }
  if (shape.aliases > limits.yamlMaxAliases) {
    throw new LimitError(400, `YAML body has ${shape.aliases} aliases, more than ${limits.yamlMaxAliases}; the limit is NATPLAN_YAML_MAX_ALIASES`, {
      name: 'yamlMaxAliases',
      value: limits.yamlMaxAliases,
      env: 'NATPLAN_YAML_MAX_ALIASES',
    })
  }
  const docs = Array.from(new Composer({ prettyErrors: false }).compose(tokens)) as Document.Parsed[]
  return { docs, lineCounter }
}
