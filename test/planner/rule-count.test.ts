/**
 * Rule-count guard in the manner of upstream's number_generated_rules_test.go: nat and filter
 * rule counts for S services x E endpoints, from formulas. A change that makes the output grow
 * (or shrink) fails here and must update the formula deliberately.
 */
import { describe, expect, it } from 'vitest'
import { plan, planTables, type Plan } from '../../src/planner/index.js'
import { generateSnapshot } from '../../src/planner/testing/generate.js'

function counts(p: Plan) {
  const tables = planTables(p.families[0]!)
  const sum = (t: 'nat' | 'filter') => tables.find((x) => x.table === t)!.chains.reduce((n, c) => n + c.rules.length, 0)
  const chains = (t: 'nat' | 'filter') => tables.find((x) => x.table === t)!.chains.length
  return { natRules: sum('nat'), filterRules: sum('filter'), natChains: chains('nat'), filterChains: chains('filter') }
}

// Fixed parts with the generator's defaults (IPv4, localhostNodePorts, nfacct, no tcp_be_liberal):
// filter: KUBE-FIREWALL rule + 3 KUBE-FORWARD rules; nat: 3 KUBE-POSTROUTING + KUBE-MARK-MASQ,
// plus the final KUBE-SERVICES -> KUBE-NODEPORTS jump.
const FILTER_FIXED = 4
const NAT_FIXED = 5
const NAT_FIXED_CHAINS = 4
const FILTER_CHAINS = 6

const SIZES: [number, number][] = [
  [1, 1],
  [5, 3],
  [100, 20], // 2000 endpoints: large-cluster mode drops comments, not rules
]

describe('number of generated rules', () => {
  for (const [S, E] of SIZES) {
    it(`ClusterIP: ${S} services x ${E} endpoints`, () => {
      const c = counts(plan(generateSnapshot({ services: S, endpointsPerService: E })))
      // per service: cluster-IP jump, off-cluster masquerade, E dispatch rules, 2 rules per SEP
      expect(c.natRules).toBe(NAT_FIXED + S * (2 + 3 * E))
      expect(c.natChains).toBe(NAT_FIXED_CHAINS + S * (1 + E))
      expect(c.filterRules).toBe(FILTER_FIXED)
      expect(c.filterChains).toBe(FILTER_CHAINS)
    })

    it(`LoadBalancer (eTP Cluster): ${S} services x ${E} endpoints`, () => {
      const c = counts(plan(generateSnapshot({ services: S, endpointsPerService: E, loadBalancer: 1 })))
      // per service: cluster-IP + LB-IP jumps, localhost + plain NodePort rules, masquerade,
      // EXT (masquerade + jump to SVC), E dispatch rules, 2 rules per SEP
      expect(c.natRules).toBe(NAT_FIXED + S * (7 + 3 * E))
      expect(c.natChains).toBe(NAT_FIXED_CHAINS + S * (2 + E))
      expect(c.filterRules).toBe(FILTER_FIXED)
    })

    it(`LoadBalancer with source ranges and eTP Local, no local endpoint: ${S} services x ${E} endpoints`, () => {
      // The generator spreads endpoints over node-(i+j)%3; with 3 nodes and E >= 3 every service
      // has a local endpoint, so use a node name that owns none.
      const env = generateSnapshot({
        services: S,
        endpointsPerService: E,
        loadBalancer: 1,
        sourceRanges: 1,
        externalLocal: 1,
        proxy: { nodeName: 'elsewhere' },
      })
      const c = counts(plan(env))
      // nat per service: cluster-IP + LB-IP jumps, 2 NodePort rules, masquerade, EXT (3
      // short-circuits, no final jump), FW (2 ranges + drop marker), E dispatch, 2 per SEP.
      expect(c.natRules).toBe(NAT_FIXED + S * (11 + 3 * E))
      expect(c.natChains).toBe(NAT_FIXED_CHAINS + S * (3 + E))
      // filter per service: KUBE-PROXY-FIREWALL drop, 'no local endpoints' drops for LB IP and
      // node port, health check ACCEPT.
      expect(c.filterRules).toBe(FILTER_FIXED + S * 4)
    })
  }
})
