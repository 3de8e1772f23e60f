/**
 * Conformance: every case folder under test/fixtures/conformance is planned, rendered, put in
 * upstream's normal form (assertIPTablesRulesEqual: parse, sort, re-serialise) and compared byte
 * for byte with expected.txt. Where a case has flows.json, its packet flows are traced too; where
 * it has chains.json (upstream's assertIPTablesChainEqual: `[{table, chain, rules, family?}]`, each
 * rule line exactly as upstream asserts it), the rendered chain's rules are compared in order.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { nodeConfig, normaliseRestore, plan, planTables, renderRestore, toEnvelope } from '../../src/planner/index.js'
import { checkFlows, type FlowCase } from './trace-helper.js'

/** One literal chain check: the chain's rules, as `-A CHAIN …` lines, in order (no rules: absent or empty). */
interface ChainCase {
  table: 'filter' | 'nat'
  chain: string
  rules: string[]
  /** Which family plan (default: the first, i.e. the only one of a single-stack case). */
  family?: 'IPv4' | 'IPv6'
}

const ROOT = join(import.meta.dirname, '../fixtures/conformance')
const cases = readdirSync(ROOT, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort()

describe('conformance cases', () => {
  it('finds the upstream cases', () => {
    expect(cases).toContain('TestBadIPs')
    expect(cases.length).toBeGreaterThanOrEqual(3)
  })

  for (const name of cases) {
    describe(name, () => {
      const dir = join(ROOT, name)
      const snapshot: unknown = JSON.parse(readFileSync(join(dir, 'snapshot.json'), 'utf8'))
      const expected = readFileSync(join(dir, 'expected.txt'), 'utf8')

      const planOf = () => {
        const r = toEnvelope(snapshot)
        if (!r.ok) throw new Error(`snapshot rejected: ${JSON.stringify(r.issues)}`)
        return plan(r.envelope)
      }

      it('renders expected.txt after normalisation', () => {
        const p = planOf()
        // Single-stack cases compare one family; dual-stack cases concatenate IPv4 then IPv6
        // (each family's script normalised on its own, separated by a `# IPv6` line).
        const text = p.families.map((fp) => normaliseRestore(renderRestore(fp))).join('# IPv6\n')
        expect(text).toBe(expected)
      })

      it('expected.txt is a fixed point of the normalisation', () => {
        const parts = expected.split('# IPv6\n')
        for (const part of parts) expect(normaliseRestore(part)).toBe(part)
      })

      if (existsSync(join(dir, 'flows.json'))) {
        it('packet flows (flows.json)', () => {
          const flows = JSON.parse(readFileSync(join(dir, 'flows.json'), 'utf8')) as FlowCase[]
          const p = planOf()
          const r = toEnvelope(snapshot)
          if (!r.ok) throw new Error('unreachable')
          // LOCAL addresses: the node's IPs plus loopback, as upstream's fake node interfaces.
          const failures = checkFlows(p, flows, [...nodeConfig(r.envelope)!.nodeIPs, '127.0.0.1', '::1'])
          expect(failures).toEqual([])
        })
      }

      if (existsSync(join(dir, 'chains.json'))) {
        it('literal chains (chains.json)', () => {
          const checks = JSON.parse(readFileSync(join(dir, 'chains.json'), 'utf8')) as ChainCase[]
          const p = planOf()
          for (const c of checks) {
            const fp = c.family ? p.families.find((f) => f.family === c.family) : p.families[0]
            if (!fp) throw new Error(`no ${c.family} plan`)
            const view = planTables(fp).find((t) => t.table === c.table)!
            const rules = (view.chains.find((ch) => ch.name === c.chain)?.rules ?? []).map((r) => `-A ${c.chain} ${r}`)
            expect(rules, `${c.table} ${c.chain}`).toEqual(c.rules)
          }
        })
      }
    })
  }
})
