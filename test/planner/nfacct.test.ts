/**
 * nfacct per counter: kube-proxy ensures each of its nfacct counters on its own at a full sync
 * (pkg/proxy/iptables/proxier.go syncProxyRules, "ensure the nfacct counters") and writes a
 * counter's `-m nfacct` match only where that counter exists: ct_state_invalid_dropped_pkts on
 * the KUBE-FORWARD INVALID drop, localhost_nps_accepted_pkts on the localhost NodePort rules.
 */
import { describe, expect, it } from 'vitest'
import { plan, renderRestore, resolveNodes, toEnvelope } from '../../src/planner/index.js'
import { referenceRestore } from '../../src/planner/reference.js'

const svc = {
  kind: 'Service',
  metadata: { name: 'web', namespace: 'ns' },
  spec: { type: 'NodePort', clusterIP: '10.96.0.10', ports: [{ name: 'p80', port: 80, protocol: 'TCP', nodePort: 30080 }] },
}
const slice = {
  kind: 'EndpointSlice',
  metadata: { name: 'web-1', namespace: 'ns', labels: { 'kubernetes.io/service-name': 'web' } },
  addressType: 'IPv4',
  endpoints: [{ addresses: ['10.1.0.5'] }],
  ports: [{ name: 'p80', port: 8080, protocol: 'TCP' }],
}

function text(proxy: Record<string, unknown>, query?: Record<string, unknown>): string {
  const r = toEnvelope({ proxy: { nodeName: 'n', clusterCIDR: '10.0.0.0/8', ...proxy }, resources: [svc, slice] }, query)
  if (!r.ok) throw new Error(JSON.stringify(r.issues))
  const t = renderRestore(plan(r.envelope).families[0]!)
  expect(t).toBe(referenceRestore(r.envelope)[0]!.text)
  return t
}
const invalid = (t: string) => t.split('\n').find((l) => l.includes('--ctstate INVALID'))
const localhost = (t: string) => t.split('\n').filter((l) => l.includes('localhost_nps_accepted_pkts'))

describe('nfacct per counter', () => {
  it('a node with only the INVALID counter', () => {
    const t = text({ nfacct: { ct_state_invalid_dropped_pkts: true, localhost_nps_accepted_pkts: false } })
    expect(invalid(t)).toBe('-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts -j DROP')
    expect(localhost(t)).toEqual([])
  })

  it('a node with only the localhost NodePort counter', () => {
    const t = text({ nfacct: { ct_state_invalid_dropped_pkts: false } })
    expect(invalid(t)).toBe('-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP')
    expect(localhost(t)).toHaveLength(1)
  })

  it('the boolean form still means both, and a counter left out is present', () => {
    expect(text({ nfacct: true })).toBe(text({ nfacct: {} }))
    expect(text({ nfacct: false })).toBe(text({ nfacct: { ct_state_invalid_dropped_pkts: false, localhost_nps_accepted_pkts: false } }))
  })

  it('a query names the counters the node has', () => {
    expect(text({}, { nfacct: 'localhost_nps_accepted_pkts' })).toBe(text({ nfacct: { ct_state_invalid_dropped_pkts: false } }))
    expect(text({}, { nfacct: '' })).toBe(text({ nfacct: false }))
    expect(text({}, { nfacct: 'true' })).toBe(text({ nfacct: true }))
    const r = toEnvelope({ resources: [svc] }, { nfacct: 'bogus' })
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.issues[0]!.pointer).toBe('/proxy/nfacct')
  })

  it('resolves per node, and an unknown counter is refused', () => {
    const r = toEnvelope({ proxy: { nodeName: 'n', nfacct: { localhost_nps_accepted_pkts: false } }, resources: [svc] })
    if (!r.ok) throw new Error('unreachable')
    expect(resolveNodes(r.envelope).nodes[0]!.nfacct).toEqual({ ct_state_invalid_dropped_pkts: true, localhost_nps_accepted_pkts: false })
    const bad = toEnvelope({ proxy: { nfacct: { invalid: true } }, resources: [svc] })
    expect(bad.ok).toBe(false)
  })
})
