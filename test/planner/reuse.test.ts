/**
 * Incremental planning: `plan(b, { reuse })`, where `reuse` remembers the plan of `a`, must
 * deep-equal `plan(b)` whatever changed between a and b — endpoint churn, type changes, services
 * added and removed, proxy settings flipped, the large-cluster threshold crossed either way.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { plan, planCluster, type Envelope, type PlanReuse } from '../../src/planner/index.js'
import { generateSnapshot, type GenerateOptions } from '../../src/planner/testing/generate.js'
import { envelopeOf, snapshotOptions } from './arbitraries.js'

/** Plans a, then b reusing a's memory; returns [incremental, from scratch] and how much was reused. */
function both(a: Envelope, b: Envelope) {
  const reuse: PlanReuse = { families: {} }
  plan(a, { reuse })
  const before = new Set(Object.values(reuse.families).flatMap((f) => [...f!.segments.values()]))
  const incremental = plan(b, { reuse })
  const reused = incremental.families.flatMap((f) => f.segments).filter((s) => before.has(s)).length
  return { incremental, scratch: plan(b), reused }
}

const options = snapshotOptions

describe('plan(b, { reuse }) equals plan(b)', () => {
  it('over generated snapshot pairs and random changes', () => {
    fc.assert(
      fc.property(options, options, fc.constantFrom('next-round', 'proxy-flip', 'type-mix', 'unrelated'), (oa, ob, change) => {
        // The same cluster one round on (most segments reusable), the same objects under other
        // proxy settings (every segment's context changes), other Service types, or anything.
        const b =
          change === 'next-round'
            ? { ...oa, round: (oa.round ?? 0) + 1, churn: ob.churn }
            : change === 'proxy-flip'
              ? { ...oa, proxy: ob.proxy }
              : change === 'type-mix'
                ? { ...oa, nodePort: ob.nodePort, loadBalancer: ob.loadBalancer, externalLocal: ob.externalLocal }
                : ob
        const { incremental, scratch } = both(envelopeOf(generateSnapshot(oa)), envelopeOf(generateSnapshot(b)))
        expect(incremental).toEqual(scratch)
      }),
      { numRuns: 160 },
    )
  })

  it('reuses the unchanged segments (1% churn keeps ~99%)', () => {
    const o: GenerateOptions = { services: 300, endpointsPerService: 3, churn: 0.01, nodePort: 0.2 }
    const { incremental, scratch, reused } = both(envelopeOf(generateSnapshot(o)), envelopeOf(generateSnapshot({ ...o, round: 1 })))
    expect(incremental).toEqual(scratch)
    const serviceSegments = scratch.families[0]!.segments.length - 2
    expect(reused).toBeGreaterThan(serviceSegments * 0.95)
    expect(reused).toBeLessThan(serviceSegments)
  })

  it('crossing the large-cluster threshold either way rebuilds every service segment', () => {
    const small = envelopeOf(generateSnapshot({ services: 100, endpointsPerService: 10 }))
    const large = envelopeOf(generateSnapshot({ services: 101, endpointsPerService: 10 }))
    for (const [a, b] of [
      [small, large],
      [large, small],
    ] as const) {
      const { incremental, scratch, reused } = both(a, b)
      expect(incremental).toEqual(scratch)
      expect(reused).toBe(0)
    }
  })

  it('over every pair of conformance inputs (dual-stack, IPv6, legacy Endpoints, bad IPs)', () => {
    const dir = join(import.meta.dirname, '../fixtures/conformance')
    const envs = readdirSync(dir).map((c) => envelopeOf(JSON.parse(readFileSync(join(dir, c, 'snapshot.json'), 'utf8'))))
    for (const a of envs) for (const b of envs) expect(both(a, b).incremental).toEqual(plan(b))
    // Every service segment is reused but those the node has of its own (plan.ts nodeSegments).
    for (const a of envs) {
      const cp = planCluster(a)
      const own = cp.variants[cp.nodes.find((n) => n.name === cp.defaultNode)!.variant]!.families.reduce((n, f) => n + f.overrides.length, 0)
      expect(both(a, a).reused).toBe(plan(a).families.reduce((n, f) => n + f.segments.length - 2, 0) - own)
    }
  })
})
