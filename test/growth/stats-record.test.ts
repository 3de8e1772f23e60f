/**
 * The statistics row of a version: the delta counts agree with the analysis engine's deltaSize
 * on generated version pairs, and the fold over families / namespaces adds up.
 */
import { describe, expect, it } from 'vitest'
import { deltaSize } from '../../src/planner/analysis/minimal.js'
import { plan, toEnvelope } from '../../src/planner/index.js'
import { generateSnapshot, type GenerateOptions } from '../../src/planner/testing/generate.js'
import type { Plan } from '../../src/planner/types.js'
import { computeVersionStats, deltaCounts, namespaceCounts } from '../../src/services/stats-record.js'
import { segmentLines } from '../../src/planner/types.js'

function planOf(opts: GenerateOptions): Plan {
  const r = toEnvelope(generateSnapshot(opts))
  if (!r.ok) throw new Error(JSON.stringify(r.issues))
  return plan(r.envelope)
}

const base: GenerateOptions = {
  services: 60,
  endpointsPerService: 3,
  nodePort: 0.3,
  loadBalancer: 0.2,
  externalLocal: 0.5,
  clientIPAffinity: 0.2,
  notReady: 0.1,
  namespaces: 4,
  seed: 5,
}
const PAIRS: Array<[string, GenerateOptions, GenerateOptions]> = [
  ['identical', base, base],
  ['10% endpoint churn', { ...base, churn: 0.1 }, { ...base, churn: 0.1, round: 1 }],
  ['services added', base, { ...base, services: 80 }],
  ['services removed', { ...base, services: 80 }, base],
  ['type mix changed', base, { ...base, nodePort: 0.6, loadBalancer: 0.3 }],
  ['affinity and policies toggled', base, { ...base, clientIPAffinity: 0.7, externalLocal: 0, internalLocal: 0.3 }],
  ['from nothing', { ...base, services: 0 }, base],
]

describe('deltaCounts', () => {
  for (const [name, a, b] of PAIRS) {
    it(`equals deltaSize's rules and bytes: ${name}`, () => {
      const pa = planOf(a).families[0]!
      const pb = planOf(b).families[0]!
      const want = deltaSize(pa, pb)
      expect(deltaCounts(pa, pb)).toEqual({ rules: want.rules, bytes: want.bytes })
    })
  }
})

describe('computeVersionStats', () => {
  it('folds planStats and the per-namespace counts into one row', () => {
    const p = planOf(base)
    const s = computeVersionStats(p, null)
    expect(s.deltaRules).toBeNull()
    expect(s.services).toBe(60)
    const fam = p.families[0]!
    const count = (f: (seg: (typeof fam.segments)[number]) => number) => fam.segments.reduce((a, seg) => a + f(seg), 0)
    expect(s.natRules).toBe(count((x) => segmentLines(x, 'natRules').length))
    expect(s.filterChains).toBe(count((x) => segmentLines(x, 'filterChains').length))
    const ns = namespaceCounts(p)
    expect(Object.values(ns).reduce((a, n) => a + n.services, 0)).toBe(60)
    expect(Object.values(ns).reduce((a, n) => a + n.rules, 0)).toBe(
      count((x) => (x.service ? segmentLines(x, 'natRules').length + segmentLines(x, 'filterRules').length : 0)),
    )
    expect(s.endpointsReady + 0).toBeLessThanOrEqual(s.endpoints)
    expect(s.worstRulesToDnat).toBeGreaterThanOrEqual(s.avgRulesToDnat)
    expect(s.kubeServicesRules).toBe(
      fam.segments.reduce((a, seg) => a + segmentLines(seg, 'natRules').filter((r) => r.startsWith('-A KUBE-SERVICES ')).length, 0),
    )
  })
})

describe('deltaCounts with store keys', () => {
  it('gives the same numbers as without them, including a meta-only change', () => {
    const a = planOf({ ...base, churn: 0.1 }).families[0]!
    const b = planOf({ ...base, churn: 0.1, round: 1 }).families[0]!
    const keys = (fp: typeof a) =>
      fp.segments.map((s) => `${s.key}:${JSON.stringify([s.filterChains, s.filterRules, s.natChains, s.natRules])}:${JSON.stringify(s.meta)}`)
    const ka = keys(a)
    const kb = keys(b)
    expect(deltaCounts(a, b, ka, kb)).toEqual(deltaCounts(a, b))
    // every key different (as when only Segment.meta changed): lines are compared, same answer
    expect(
      deltaCounts(
        a,
        b,
        ka.map((k) => `x${k}`),
        kb,
      ),
    ).toEqual(deltaCounts(a, b))
  })
})
