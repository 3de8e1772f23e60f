/**
 * Every environment variable natplan reads is in the README's configuration table with its
 * default, and every limit variable is in its Limits section.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
const config = readFileSync(new URL('../../src/config.ts', import.meta.url), 'utf8')
const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('### Memory'))
const limits = readme.slice(readme.indexOf('### Limits'), readme.indexOf('### Running it as a service'))

describe('README', () => {
  const vars = [...new Set([...config.matchAll(/\b((?:NATPLAN_[A-Z_]*[A-Z]|HOST|PORT|DATABASE_URL|LOG_LEVEL))\b/g)].map((m) => m[1]!))]
  it('documents every variable of src/config.ts in the configuration table', () => {
    expect(vars.length).toBeGreaterThan(15)
    for (const v of vars) expect(table, v).toContain(`| \`${v}\` |`)
  })

  it('lists every limit variable with the default config.ts gives it', () => {
    const c = loadConfig({})
    const defaults: Record<string, string> = {
      NATPLAN_BODY_LIMIT: '64MiB',
      NATPLAN_MAX_DEPTH: String(c.parseLimits.maxDepth),
      NATPLAN_YAML_MAX_ALIASES: String(c.parseLimits.yamlMaxAliases),
      NATPLAN_GRAPHQL_MAX_TOKENS: String(c.graphqlLimits.maxTokens),
      NATPLAN_IMPORT_MAX_UNPACKED: '1GiB',
      NATPLAN_RATE_LIMIT: '600/min',
      NATPLAN_REQUEST_TIMEOUT: String(c.requestTimeoutMs / 1000),
    }
    expect(c.bodyLimit).toBe(64 * 1024 * 1024)
    expect(c.importMaxUnpackedBytes).toBe(1024 ** 3)
    for (const [v, d] of Object.entries(defaults)) {
      const row = limits.split('\n').find((l) => l.includes(`\`${v}\``))
      expect(row, v).toBeDefined()
      expect(row, v).toContain(`\`${d}\``)
      expect(table, v).toContain(`| \`${v}\` | \`${d}\` |`)
    }
    const gql = limits.split('\n').find((l) => l.includes('`NATPLAN_GRAPHQL_MAX_ALIASES`'))!
    expect(gql).toContain(`\`${c.graphqlLimits.maxAliases}\` · \`${c.graphqlLimits.maxDepth}\` · \`${c.graphqlLimits.maxCost}\``)
  })

  it('shows a systemd unit that restarts on failure', () => {
    expect(readme).toMatch(/\[Service\][\s\S]*Restart=on-failure/)
  })
})
