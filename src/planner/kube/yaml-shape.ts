/**
 * The shape of YAML before it is composed: the `yaml` package parses text to CST tokens
 * iteratively (an explicit stack in its parse/parser.ts) but composes and converts them
 * recursively, so deep nesting overflowed the stack there. Walking the tokens with a stack of our
 * own measures nesting depth and counts alias nodes first; request bodies
 * (src/plugins/app/bounded.ts) and the kube-proxy ConfigMap's config.conf (./settings.ts) are
 * composed only when both are within their limits.
 */
import { Composer, Parser, type CST, type Document } from 'yaml'

type Walk = { token: CST.Token | undefined; depth: number }

/** Depth and alias count of CST tokens, walked with an explicit stack (no recursion). */
export function yamlShape(tokens: readonly CST.Token[], limits: { maxDepth: number }): { tooDeepAt: number; aliases: number } {
  const stack: Walk[] = tokens.map((token) => ({ token, depth: 0 }))
  let aliases = 0
  while (stack.length > 0) {
    const { token, depth } = stack.pop()!
    if (!token) continue
    switch (token.type) {
      case 'document':
        stack.push({ token: token.value, depth })
        break
      case 'alias':
        aliases++
        break
      case 'block-map':
      case 'block-seq':
      case 'flow-collection': {
        const d = depth + 1
        if (d > limits.maxDepth) return { tooDeepAt: token.offset, aliases }
        for (const item of token.items) {
          if ('key' in item && item.key) stack.push({ token: item.key, depth: d })
          if (item.value) stack.push({ token: item.value, depth: d })
        }
        break
      }
      default:
        break
    }
  }
  return { tooDeepAt: -1, aliases }
}

/** The documents of `text` when it nests at most maxDepth and has at most maxAliases aliases; else why not. */
export function composeWithin(text: string, limits: { maxDepth: number; maxAliases: number }): { docs: Document.Parsed[] } | { refused: string } {
  const tokens = Array.from(new Parser().parse(text))
  const shape = yamlShape(tokens, limits)
  if (shape.tooDeepAt >= 0) return { refused: `nests deeper than ${limits.maxDepth} levels (at offset ${shape.tooDeepAt})` }
  if (shape.aliases > limits.maxAliases) return { refused: `has ${shape.aliases} aliases, more than ${limits.maxAliases}` }
  return { docs: Array.from(new Composer({ prettyErrors: false }).compose(tokens)) as Document.Parsed[] }
}
