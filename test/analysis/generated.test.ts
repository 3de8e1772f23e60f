/**
 * The analysis over planner output for generated snapshots (src/planner/testing/generate.ts):
 * rounds of endpoint churn, mixed service types. Pure: the restore model of fixtures.ts stands
 * in for the kernel here (test/kernel-analysis applies the real thing).
 */
import { applyPatch } from 'diff'
import { describe, expect, it } from 'vitest'
import { normaliseRestore, plan, renderRestore } from '../../src/planner/index.js'
import { generateSnapshot } from '../../src/planner/testing/generate.js'
import { deltaSize, diffPlans, drift, minimalRestore, planStats, unifiedDiff, canonicalRule, tablesOfPlan } from '../../src/planner/analysis/index.js'
import type { FamilyPlan } from '../../src/planner/types.js'
import { applyRestore, fakeSave, stateObject } from './fixtures.js'
import { segmentLines } from '../../src/planner/types.js'

const SHAPE = {
  services: 150,
  endpointsPerService: 3,
  nodePort: 0.3,
  loadBalancer: 0.2,
  sourceRanges: 0.5,
  clientIPAffinity: 0.2,
  externalLocal: 0.3,
  churn: 0.1,
}
const rounds = [0, 1, 2, 3].map((round) => plan(generateSnapshot({ ...SHAPE, round })).families[0]!)

describe('generated churn rounds', () => {
  it.each([1, 2, 3])('round %i: the delta from the previous round reaches the full plan', (r) => {
    const [a, b] = [rounds[r - 1]!, rounds[r]!]
    const applied = applyRestore(applyRestore(new Map(), renderRestore(a), false), minimalRestore(a, b), true)
    expect(stateObject(applied)).toEqual(stateObject(applyRestore(new Map(), renderRestore(b), false)))
  })

  it.each([1, 2, 3])('round %i: the diff names exactly the churned services', (r) => {
    const [a, b] = [rounds[r - 1]!, rounds[r]!]
    const d = diffPlans(a, b)
    const changed = b.segments.filter((s, i) => s.service && JSON.stringify(s) !== JSON.stringify(a.segments[i])).map((s) => s.service)
    expect(changed.length).toBeGreaterThan(0)
    expect(d.services.map((s) => s.service)).toEqual(changed)
    expect(d.summary.servicePortsChanged).toBe(changed.length)
    expect(deltaSize(a, b).rules).toBeLessThan(deltaSize(a, b).totalRules)
  })

  it.each([1, 2, 3])('round %i: the unified diff is a patch from a to b', (r) => {
    const [a, b] = [rounds[r - 1]!, rounds[r]!]
    const patch = unifiedDiff(a, b)
    expect(applyPatch(normaliseRestore(renderRestore(a)), patch)).toBe(normaliseRestore(renderRestore(b)))
  })

  it('drift of one round against the node state of another names the churned services', () => {
    const [a, b] = [rounds[0]!, rounds[1]!]
    expect(
      drift(
        b,
        fakeSave(b, (l) => canonicalRule(l)),
      ).inSync,
    ).toBe(true)
    const r = drift(
      b,
      fakeSave(a, (l) => canonicalRule(l)),
    )
    expect(r.inSync).toBe(false)
    const d = diffPlans(a, b)
    expect(r.services.map((s) => s.service).sort()).toEqual(d.services.map((s) => s.service).sort())
  })

  it('the traversal figures match a plain reference computation (affinity, eTP Local, LBs included)', () => {
    for (const fp of rounds) expect(planStats(fp, { services: 0, servicePorts: 0, endpoints: 0, ignoredObjects: 0 }).traversal).toEqual(referenceTraversal(fp))
  })

  it('stats come from the planner meta', () => {
    const p = plan(generateSnapshot(SHAPE))
    const s = planStats(p.families[0]!, p.counts)
    expect(s.servicePorts).toBe(150)
    expect(s.servicePortsByType.ClusterIP + s.servicePortsByType.NodePort + s.servicePortsByType.LoadBalancer).toBe(150)
    expect(s.endpoints?.total).toBe(p.counts.endpoints)
    expect(s.kubeServicesRules).toBe(
      p.families[0]!.segments.flatMap((x) => segmentLines(x, 'natRules')).filter((l) => l.startsWith('-A KUBE-SERVICES ')).length,
    )
    expect(s.traversal.worst).toBeGreaterThanOrEqual(s.traversal.average)
  })
})

/** Straightforward restatement of the traversal metric over the plan's chain tables. */
function referenceTraversal(fp: FamilyPlan) {
  const nat = tablesOfPlan(fp).nat.chains
  const target = (r: string) => / -j (\S+)/.exec(r)?.[1]
  const ks = nat.get('KUBE-SERVICES')!.rules
  let sum = 0
  let n = 0
  let worst = 0
  let worstService: string | null = null
  for (const seg of fp.segments) {
    if (!seg.service) continue
    const natRules = segmentLines(seg, 'natRules')
    const own = new Set(natRules.map((r) => r.split(' ')[1]))
    const pos = ks.findIndex((r) => own.has('KUBE-SERVICES') && natRules.includes(r) && /^KUBE-SV[CL]-/.test(target(r) ?? ''))
    if (pos < 0) continue
    const chain = nat.get(target(ks[pos]!)!)!.rules
    const costs = chain.flatMap((r, i) => {
      const t = target(r)
      if (!t?.startsWith('KUBE-SEP-') || r.includes('--rcheck')) return []
      return [pos + 1 + i + 1 + nat.get(t)!.rules.findIndex((x) => x.includes(' -j DNAT')) + 1]
    })
    if (!costs.length) continue
    n++
    sum += costs.reduce((a, b) => a + b, 0) / costs.length
    const w = Math.max(...costs)
    if (w > worst) {
      worst = w
      worstService = seg.service
    }
  }
  return { average: n ? Math.round((sum / n) * 100) / 100 : 0, worst, worstService, servicePorts: n }
}
