/**
 * The statistics the planner counts while writing a service segment (`plan(…, { stats })`) must
 * be exactly what analysis/stats.ts's scan of the segment's lines finds: planStats, the version
 * counts and the growth delta trust them instead of rescanning.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { plan, toEnvelope, type Envelope, type Segment, type SegmentStats } from '../../src/planner/index.js'
import { UnsafeWordError } from '../../src/planner/iptables/words.js'
import { planStats, segmentStats } from '../../src/planner/analysis/stats.js'
import { generateSnapshot } from '../../src/planner/testing/generate.js'
import { envelopeOf, snapshotOptions, unvalidatedEnvelope } from './arbitraries.js'

/** Plans with the memo; every service segment must have facts equal to a scan of its lines. */
function check(env: Envelope): number {
  const memo = new WeakMap<Segment, SegmentStats>()
  const p = plan(env, { stats: memo })
  let checked = 0
  for (const fp of p.families) {
    for (const seg of fp.segments) {
      const facts = memo.get(seg)
      if (!seg.service) continue
      expect(facts, seg.key).toBeDefined()
      expect(facts, seg.key).toEqual(segmentStats(seg))
      checked++
    }
    expect(planStats(fp, p.counts, memo)).toEqual(planStats(fp, p.counts))
  }
  expect(p).toEqual(plan(env))
  return checked
}

const options = snapshotOptions

describe('statistics counted while planning', () => {
  it('equal a scan of the lines, over generated snapshots of every kind', () => {
    fc.assert(
      fc.property(options, (o) => void check(envelopeOf(generateSnapshot(o)))),
      { numRuns: 150 },
    )
  })

  it('equal a scan of the lines on every conformance input (dual-stack, IPv6, topology, large cluster)', () => {
    const dir = join(import.meta.dirname, '../fixtures/conformance')
    let checked = 0
    for (const c of readdirSync(dir)) checked += check(envelopeOf(JSON.parse(readFileSync(join(dir, c, 'snapshot.json'), 'utf8'))))
    expect(checked).toBeGreaterThanOrEqual(20)
  })

  it('refuse names that are not safe words before writing anything (src/planner/iptables/words.ts)', () => {
    for (const bad of ['svc-ü', 'svc"x', 'svc x', 'svc\nx']) {
      const doc = generateSnapshot({ services: 2, endpointsPerService: 2 }) as unknown as {
        resources: { items: Array<{ kind: string; metadata: { name: string; labels?: Record<string, string> } }> }
      }
      for (const it of doc.resources.items) {
        if (it.kind === 'Service') it.metadata.name = `${it.metadata.name}${bad}`
        if (it.kind === 'EndpointSlice') it.metadata.labels!['kubernetes.io/service-name'] += bad
      }
      expect(toEnvelope(doc).ok).toBe(false)
      expect(() => plan(unvalidatedEnvelope(doc))).toThrow(UnsafeWordError)
    }
  })
})
