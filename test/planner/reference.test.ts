/**
 * The fast planner (src/planner/plan.ts, rules/) writes exactly what the reference planner
 * (src/planner/reference.ts, the plain rendition of kube-proxy's syncProxyRules) writes, byte for
 * byte: over every conformance case, the benchmark's generated snapshots, and varied generated
 * snapshots of every service shape.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { plan, renderRestore, toEnvelope, type Envelope } from '../../src/planner/index.js'
import { referenceRestore } from '../../src/planner/reference.js'
import { generateSnapshot } from '../../src/planner/testing/generate.js'
import { envelopeOf, snapshotOptions } from './arbitraries.js'
import { snapshotArb } from './snapshot-arb.js'

function expectSame(env: Envelope): void {
  const fast = plan(env).families.map((fp) => ({ family: fp.family, text: renderRestore(fp) }))
  const ref = referenceRestore(env)
  expect(fast.map((f) => f.family)).toEqual(ref.map((r) => r.family))
  for (let i = 0; i < ref.length; i++) expect(fast[i]!.text).toBe(ref[i]!.text)
}

describe('the fast planner against the reference planner', () => {
  const ROOT = join(import.meta.dirname, '../fixtures/conformance')
  it('agree on every conformance case', () => {
    const cases = readdirSync(ROOT)
    expect(cases.length).toBeGreaterThan(50)
    for (const name of cases) {
      const r = toEnvelope(JSON.parse(readFileSync(join(ROOT, name, 'snapshot.json'), 'utf8')))
      if (!r.ok) throw new Error(`${name}: ${JSON.stringify(r.issues)}`)
      expectSame(r.envelope)
    }
  })

  it('agree on varied generated snapshots', () => {
    fc.assert(
      fc.property(snapshotArb, (doc) => {
        const r = toEnvelope(doc)
        if (!r.ok) throw new Error(JSON.stringify(r.issues))
        expectSame(r.envelope)
      }),
      { numRuns: 400 },
    )
  })

  it("agree on the benchmark generator's snapshots", () => {
    fc.assert(
      fc.property(snapshotOptions, (opts) => expectSame(envelopeOf(generateSnapshot(opts)))),
      { numRuns: 60 },
    )
  })

  it('agree in large-cluster mode', () => {
    expectSame(envelopeOf(generateSnapshot({ services: 120, endpointsPerService: 9, clientIPAffinity: 0.3, internalLocal: 0.2, nodePort: 0.3 })))
  })
})
