/**
 * PROOF on the real kernel, both backends: drift() reads the kernel's own iptables-save of every
 * conformance plan as zero drift (the rule normaliser predicts the printed form exactly), and
 * reports exactly what was tampered with on the live node: a deleted rule, an added stale
 * KUBE-SVC chain, a changed probability. The same dump also traces like the plan (one parser
 * serves drift and trace).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { plan, renderRestore, toEnvelope, type FamilyPlan } from '../../src/planner/index.js'
import { drift, trace, traceSave } from '../../src/planner/analysis/index.js'
import { kernelDescribe } from '../kernel/gate.js'
import { BACKENDS, nfacctAdd, nsExecOk, restore, save, withNetns, type Backend } from '../kernel/netns.js'
import { segmentLines } from '../../src/planner/types.js'

const { describe } = await kernelDescribe('test/kernel-analysis/drift.test.ts', { nfacct: true })

const CONFORMANCE = join(import.meta.dirname, '..', 'fixtures', 'conformance')
const cases = readdirSync(CONFORMANCE).filter((d) => !d.startsWith('.'))

function familyPlans(name: string): FamilyPlan[] {
  const r = toEnvelope(JSON.parse(readFileSync(join(CONFORMANCE, name, 'snapshot.json'), 'utf8')))
  if (!r.ok) throw new Error(`${name}: ${JSON.stringify(r.issues)}`)
  return plan(r.envelope).families
}

/** Applies the plan (kube-proxy flavour) to a fresh node, lets `tamper` change it, returns iptables-save. */
async function nodeDump(backend: Backend, fp: FamilyPlan, tamper?: (ipt: (...args: string[]) => Promise<unknown>) => Promise<void>): Promise<string> {
  const family = fp.family === 'IPv6' ? 6 : 4
  return withNetns(`drift-${backend}`, async (ns) => {
    await nfacctAdd(ns)
    await restore(ns, backend, renderRestore(fp), { family })
    if (tamper) await tamper((...args) => nsExecOk(ns, `${family === 6 ? 'ip6tables' : 'iptables'}-${backend}`, ['-w', '5', ...args]))
    return save(ns, backend, { family })
  })
}

const NODEPORTS = 'TestNodePorts__ipv4_localhost-nodeports_enabled'
const SVC = 'KUBE-SVC-XPGD46QRK7WJZT7O'
const SEP = 'KUBE-SEP-SXIVWICOYRO3J4NJ'

describe('drift against the real kernel', () => {
  for (const backend of BACKENDS) {
    it.each(cases)(`%s: the kernel's own dump has zero drift (${backend})`, async (name) => {
      for (const fp of familyPlans(name)) {
        const r = drift(fp, await nodeDump(backend, fp))
        expect(r.services).toEqual([])
        expect(r.summary).toEqual({
          staleChains: 0,
          missingChains: 0,
          changedChains: 0,
          staleRules: 0,
          missingRules: 0,
          unreadableLines: 0,
          settingsMismatches: 0,
        })
        expect(r.inSync).toBe(true)
      }
    })

    it(`reports exactly a deleted rule, a stale KUBE-SVC chain and a changed probability (${backend})`, async () => {
      const fp = familyPlans(NODEPORTS)[0]!
      const planned = fp.segments.flatMap((s) => segmentLines(s, 'natRules'))
      const dispatch = planned.find((r) => r.startsWith(`-A ${SVC} `) && r.includes('--probability'))!
      const dump = await nodeDump(backend, fp, async (ipt) => {
        // 1. delete the hairpin masquerade rule of one endpoint chain
        await ipt('-t', 'nat', '-D', SEP, '1')
        // 2. a stale service chain left behind by a removed Service
        await ipt('-t', 'nat', '-N', 'KUBE-SVC-STALESTALESTALE1')
        await ipt('-t', 'nat', '-A', 'KUBE-SVC-STALESTALESTALE1', '-m', 'comment', '--comment', 'ns9/gone:p80 -> 10.9.9.9:80', '-j', 'RETURN')
        // 3. the 50/50 split changed to 25/75 (rule 2 of the SVC chain; rule 1 is the masquerade rule)
        const args = dispatch.replace(`-A ${SVC} `, '').replace('0.5000000000', '0.2500000000')
        await ipt('-t', 'nat', '-R', SVC, '2', ...argsOf(args))
      })
      const r = drift(fp, dump)
      expect(r.summary).toEqual({
        staleChains: 1,
        missingChains: 0,
        changedChains: 2,
        staleRules: 1,
        missingRules: 2,
        unreadableLines: 0,
        settingsMismatches: 0,
      })
      expect(r.tables.nat.staleChains).toEqual([{ chain: 'KUBE-SVC-STALESTALESTALE1', service: 'ns9/gone:p80', rules: 1 }])
      const changed = Object.fromEntries(r.tables.nat.changedChains.map((c) => [c.chain, c]))
      expect(changed[SEP]!.staleRules).toEqual([])
      expect(changed[SEP]!.missingRules).toEqual([{ rule: planned.find((l) => l.startsWith(`-A ${SEP} `))!, service: 'ns1/svc1:p80' }])
      expect(changed[SVC]!.missingRules).toEqual([{ rule: dispatch, service: 'ns1/svc1:p80' }])
      expect(changed[SVC]!.staleRules).toHaveLength(1)
      expect(changed[SVC]!.staleRules[0]!.rule).toContain('--probability 0.25000000000')
      expect(r.tables.filter).toEqual({ staleChains: [], missingChains: [], changedChains: [] })
      expect(r.services.map((s) => s.service)).toEqual(['ns1/svc1:p80', 'ns9/gone:p80'])
    })

    it(`traces the kernel's dump like the plan (${backend})`, async () => {
      const fp = familyPlans(NODEPORTS)[0]!
      const dump = await nodeDump(backend, fp)
      const nodeIPs = ['192.168.0.2', '192.168.1.2']
      for (const pkt of [
        { source: '10.0.0.2', destination: '172.30.0.41', port: 80, protocol: 'tcp' as const },
        { source: '203.0.113.2', destination: '192.168.0.2', port: 3001, protocol: 'tcp' as const },
      ]) {
        const fromPlan = trace(fp, pkt, nodeIPs)
        const fromNode = traceSave(dump, 'IPv4', pkt, nodeIPs)
        expect(fromNode.output).toBe('10.180.0.1:80, 10.180.2.1:80')
        expect(fromNode.output).toBe(fromPlan.output)
        expect(fromNode.masqueraded).toBe(fromPlan.masqueraded)
        // the kernel stores 0.5 exactly: same shares
        expect(fromNode.endpoints).toEqual(fromPlan.endpoints)
      }
    })
  }
})

/** Splits a rule's argument text for execve (kube-proxy quotes comments with spaces). */
function argsOf(text: string): string[] {
  const out: string[] = []
  for (const m of text.matchAll(/"([^"]*)"|(\S+)/g)) out.push(m[1] ?? m[2]!)
  return out
}
