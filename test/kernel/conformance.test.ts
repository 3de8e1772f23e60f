/**
 * Every conformance case, planned by the planner from its snapshot.json and rendered in both
 * flavours, is committed into a real kernel on both iptables backends and read back:
 *   - kube-proxy flavour (needs the nfacct objects kube-proxy's rules count into, exactly like a
 *     node where kube-proxy found them), then also compared with the kernel state that upstream's
 *     own expected text produces;
 *   - standalone flavour in flush mode, and on a bare namespace (no nfacct objects, no prior state).
 * The read-back must have the same chains, the same rule count per chain, and every rule in the
 * save form predicted by ./saveform.ts.
 */
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import type { Flavour } from '../../src/planner/index.js'
import { kernelDescribe } from './gate.js'
import { BACKENDS, nfacctAdd, restore, save, withNetns, type Backend, type IpFamily } from './netns.js'
import { planFile, type Rendered } from './plans.js'
import { compareReadBack, expectedByFamily, parseTables, type Tables } from './saveform.js'

const CONFORMANCE = join(import.meta.dirname, '..', 'fixtures', 'conformance')
const cases = readdirSync(CONFORMANCE).filter((d) => !d.startsWith('.'))
const { describe } = await kernelDescribe('test/kernel/conformance.test.ts', { nfacct: true })

function planned(name: string, flavour: Flavour): Rendered[] {
  return planFile(join(CONFORMANCE, name, 'snapshot.json'), flavour)
}

/** Apply in a fresh namespace and return the read-back (comments stripped). */
async function applyAndSave(backend: Backend, text: string, family: IpFamily, withNfacct: boolean): Promise<string> {
  return withNetns(`cf-${backend}`, async (ns) => {
    if (withNfacct) await nfacctAdd(ns)
    await restore(ns, backend, text, { family })
    return save(ns, backend, { family })
  })
}

function referencesNfacct(text: string): boolean {
  return /-m nfacct\b/.test(text)
}

/**
 * Kernel state in upstream's comparison form: KUBE-SERVICES / KUBE-NODEPORTS rule order is Go
 * map order in kube-proxy, so upstream's assertIPTablesRulesEqual sorts those chains; so do we.
 */
function normalised(t: Tables): string {
  const out: string[] = []
  for (const [table, chains] of [...t].sort(([a], [b]) => (a < b ? -1 : 1))) {
    out.push(`*${table}`)
    for (const [name, c] of [...chains].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const rules = name === 'KUBE-SERVICES' || name === 'KUBE-NODEPORTS' ? [...c.rules].sort() : c.rules
      out.push(`:${name} ${c.policy}`, ...rules)
    }
  }
  return out.join('\n')
}

describe('conformance plans in a real kernel', () => {
  for (const backend of BACKENDS) {
    it.each(cases)(`%s, kube-proxy flavour (${backend})`, async (name) => {
      const rendered = planned(name, 'kube-proxy')
      const upstream = expectedByFamily(readFileSync(join(CONFORMANCE, name, 'expected.txt'), 'utf8'))
      expect(rendered.map((r) => r.family)).toEqual(upstream.map((u) => u.family))
      for (const [i, { family, text }] of rendered.entries()) {
        const saved = await applyAndSave(backend, text, family, true)
        const report = compareReadBack(text, saved, family)
        expect(report.problems).toEqual([])
        expect(report.unpredicted).toEqual([])
        expect(report.rules).toBeGreaterThan(0)
        // The same kernel state as the case's expected text (which is itself valid restore input).
        const upstreamSaved = await applyAndSave(backend, upstream[i]!.text, family, true)
        expect(normalised(parseTables(saved))).toBe(normalised(parseTables(upstreamSaved)))
      }
    })

    it.each(cases)(`%s, standalone flavour in flush mode (${backend})`, async (name) => {
      for (const { family, text } of planned(name, 'standalone')) {
        const saved = await applyAndSave(backend, text, family, referencesNfacct(text))
        const report = compareReadBack(text, saved, family)
        expect(report.problems).toEqual([])
        expect(report.unpredicted).toEqual([])
        // The built-in chains carry kube-proxy's jumps, so the rules are reachable.
        expect(saved).toMatch(/^-A PREROUTING .* -j KUBE-SERVICES$/m)
        expect(saved).toMatch(/^-A POSTROUTING .* -j KUBE-POSTROUTING$/m)
      }
    })

    it.each(cases)(`%s, standalone flavour on a bare namespace (${backend})`, async (name) => {
      const rendered = planned(name, 'standalone')
      // iptables-restore cannot create nfacct objects, so the standalone flavour must not count
      // into them (kube-proxy leaves the match out on a node without the counters).
      for (const r of rendered) expect(referencesNfacct(r.text)).toBe(false)
      for (const { family, text } of rendered) {
        const saved = await applyAndSave(backend, text, family, false)
        expect(compareReadBack(text, saved, family).problems).toEqual([])
      }
    })
  }
})
