/**
 * Every node of a snapshot: each node's plan from planCluster (shared segments, the node's own,
 * variants) is byte-identical to the reference planner's plan of that node alone, and nodes share
 * a variant exactly when their plans are byte-identical.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { nodePlan, planCluster, renderRestore, toEnvelope, variantPlan, type Envelope } from '../../src/planner/index.js'
import { variantSummaries } from '../../src/planner/analysis/index.js'
import { versionCounts } from '../../src/services/content.js'
import { referenceRestore } from '../../src/planner/reference.js'
import { generateSnapshot } from '../../src/planner/testing/generate.js'
import { clusterArb } from './snapshot-arb.js'

function texts(env: Envelope): Map<string, string> {
  const cp = planCluster(env)
  return new Map(
    cp.nodes.map((n) => [
      n.name,
      nodePlan(cp, n.name)!
        .families.map((fp) => `${fp.family}\n${renderRestore(fp)}`)
        .join(''),
    ]),
  )
}

function expectEveryNode(env: Envelope): void {
  const cp = planCluster(env)
  const fast = texts(env)
  // Each variant's summary is what its plan, written out, counts (services/content.ts versionCounts).
  const summaries = variantSummaries(cp)
  cp.variants.forEach((_, v) => {
    const { families, scriptBytes } = versionCounts(variantPlan(cp, v))
    expect({ families: summaries[v]!.families, scriptBytes: summaries[v]!.scriptBytes }).toEqual({ families, scriptBytes })
  })
  expect(new Set(summaries.map((s) => s.digest)).size).toBe(cp.variants.length)
  for (const n of cp.nodes) {
    const ref = referenceRestore(env, n.name)
      .map((r) => `${r.family}\n${r.text}`)
      .join('')
    expect(fast.get(n.name), n.name).toBe(ref)
  }
  for (const a of cp.nodes) for (const b of cp.nodes) expect(a.variant === b.variant, `${a.name} ${b.name}`).toBe(fast.get(a.name) === fast.get(b.name))
}

describe('planCluster', () => {
  it('plans every node as the reference plans each alone, over varied clusters', () => {
    fc.assert(
      fc.property(clusterArb, (doc) => {
        const r = toEnvelope(doc)
        if (!r.ok) throw new Error(JSON.stringify(r.issues))
        expectEveryNode(r.envelope)
      }),
      { numRuns: 300 },
    )
  })

  it('plans a generated cluster of 40 nodes with Local policies, in ClusterCIDR and NodeCIDR mode', () => {
    for (const detectLocalMode of ['ClusterCIDR', 'NodeCIDR'] as const) {
      const env = generateSnapshot({
        services: 200,
        endpointsPerService: 4,
        nodes: 40,
        nodePort: 0.3,
        externalLocal: 0.5,
        internalLocal: 0.1,
        proxy: { detectLocalMode },
      })
      delete env.proxy.nodeName
      delete env.proxy.nodeIPs
      delete env.proxy.zone
      delete env.proxy.localDetector
      const r = toEnvelope(env)
      if (!r.ok) throw new Error(JSON.stringify(r.issues))
      const cp = planCluster(r.envelope)
      expect(cp.nodes).toHaveLength(40)
      expect(cp.defaultNode).toBeNull()
      expectEveryNode(r.envelope)
      // What the nodes share is written once: a node has its own segments only for Local ports.
      const own = cp.variants.flatMap((v) => v.families.flatMap((f) => f.overrides))
      expect(own.length).toBeLessThan(200 * 0.3 * cp.variants.length)
    }
  })

  it('warns when a snapshot without Node objects has endpoints on nodes it does not describe', () => {
    const env = generateSnapshot({ services: 5, endpointsPerService: 3, nodes: 3, includeNodes: false, internalLocal: 1 })
    const r = toEnvelope(env)
    if (!r.ok) throw new Error(JSON.stringify(r.issues))
    const cp = planCluster(r.envelope)
    expect(cp.nodes.map((n) => n.name)).toEqual(['node-0'])
    const w = cp.warnings.find((x) => x.code === 'endpoints-on-undescribed-nodes')
    expect(w?.message).toContain('node-1, node-2')
    expect(w?.pointer).toBe('/proxy/nodeName')
    const withNodes = toEnvelope(generateSnapshot({ services: 5, endpointsPerService: 3, nodes: 3, internalLocal: 1 }))
    if (!withNodes.ok) throw new Error('unreachable')
    expect(planCluster(withNodes.envelope).warnings.map((x) => x.code)).not.toContain('endpoints-on-undescribed-nodes')
  })
})
