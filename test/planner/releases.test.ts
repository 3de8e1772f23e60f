/**
 * kubeProxyVersion and feature gates: each release's gate defaults (pkg/features versioned
 * specs, src/planner/kube/releases.ts), gates set explicitly in the envelope or the ConfigMap,
 * and what each gate changes in the rules, in both writers.
 */
import { describe, expect, it } from 'vitest'
import { plan, planCluster, renderRestore, resolveNodes, toEnvelope } from '../../src/planner/index.js'
import { referenceRestore } from '../../src/planner/reference.js'
import { CURRENT_RELEASE, RELEASES, resolveGates, stageOf } from '../../src/planner/kube/releases.js'

const lb = {
  kind: 'Service',
  metadata: { name: 'lb', namespace: 'ns' },
  spec: { type: 'LoadBalancer', clusterIP: '10.96.0.20', ports: [{ name: 'p80', port: 80, protocol: 'TCP', nodePort: 30080 }] },
  status: { loadBalancer: { ingress: [{ ip: '1.2.3.4', ipMode: 'Proxy' }] } },
}
const lbSlice = {
  kind: 'EndpointSlice',
  metadata: { name: 'lb-1', namespace: 'ns', labels: { 'kubernetes.io/service-name': 'lb' } },
  addressType: 'IPv4',
  endpoints: [{ addresses: ['10.1.0.5'] }],
  ports: [{ name: 'p80', port: 8080, protocol: 'TCP' }],
}
const svc = {
  kind: 'Service',
  metadata: { name: 'web', namespace: 'ns' },
  spec: { clusterIP: '10.96.0.10', ports: [{ name: 'p80', port: 80, protocol: 'TCP' }] },
}
const hinted = {
  kind: 'EndpointSlice',
  metadata: { name: 'web-1', namespace: 'ns', labels: { 'kubernetes.io/service-name': 'web' } },
  addressType: 'IPv4',
  endpoints: [
    { addresses: ['10.1.0.5'], nodeName: 'node-a', zone: 'z1', hints: { forZones: [{ name: 'z1' }], forNodes: [{ name: 'node-a' }] } },
    { addresses: ['10.1.0.6'], nodeName: 'node-b', zone: 'z1', hints: { forZones: [{ name: 'z1' }], forNodes: [{ name: 'node-b' }] } },
    { addresses: ['10.1.0.7'], nodeName: 'node-c', zone: 'z2', hints: { forZones: [{ name: 'z2' }], forNodes: [{ name: 'node-c' }] } },
  ],
  ports: [{ name: 'p80', port: 8080, protocol: 'TCP' }],
}
const configMap = (conf: string) => ({ kind: 'ConfigMap', metadata: { name: 'kube-proxy', namespace: 'kube-system' }, data: { 'config.conf': conf } })

function restore(doc: unknown): string {
  const r = toEnvelope(doc)
  if (!r.ok) throw new Error(JSON.stringify(r.issues))
  const t = renderRestore(plan(r.envelope).families[0]!)
  expect(t).toBe(referenceRestore(r.envelope)[0]!.text)
  return t
}
const issues = (doc: unknown) => {
  const r = toEnvelope(doc)
  return r.ok ? [] : r.issues
}
/** The DNAT targets the web service's SVC chain reaches. */
const endpointsOf = (t: string) => [...t.matchAll(/-A KUBE-SVC-\S+ -m comment --comment "ns\/web:p80 -> ([\d.:]+)"/g)].map((m) => m[1])

describe('kubeProxyVersion', () => {
  it('defaults to the current release and is then listed as defaulted', () => {
    const r = toEnvelope({ proxy: { nodeName: 'n' }, resources: [svc] })
    if (!r.ok) throw new Error('unreachable')
    expect(resolveNodes(r.envelope).kubeProxyVersion).toBe(CURRENT_RELEASE)
    expect(planCluster(r.envelope).defaulted).toContain('kubeProxyVersion')
    const given = toEnvelope({ proxy: { nodeName: 'n', kubeProxyVersion: 'v1.31.4-eks.1' }, resources: [svc] })
    if (!given.ok) throw new Error('unreachable')
    expect(given.envelope.proxy.kubeProxyVersion).toBe('1.31')
    expect(planCluster(given.envelope).defaulted).not.toContain('kubeProxyVersion')
  })

  it('an unknown release is a 400 naming the field and the accepted values', () => {
    for (const v of ['1.27', '1.38', 'latest']) {
      expect(issues({ proxy: { kubeProxyVersion: v }, resources: [svc] })).toEqual([
        { pointer: '/proxy/kubeProxyVersion', detail: expect.stringContaining(RELEASES.join(', ')) },
      ])
    }
  })

  it("selects the release's gate defaults (versioned specs)", () => {
    expect(resolveGates('1.29', {}).gates).toEqual({ LoadBalancerIPMode: false, PreferSameTrafficDistribution: false, TopologyAwareHints: true })
    expect(resolveGates('1.30', {}).gates.LoadBalancerIPMode).toBe(true)
    expect(resolveGates('1.33', {}).gates.PreferSameTrafficDistribution).toBe(false)
    expect(resolveGates('1.34', {}).gates.PreferSameTrafficDistribution).toBe(true)
    expect(stageOf('LoadBalancerIPMode', '1.28')).toBeNull()
    expect(stageOf('PreferSameTrafficDistribution', '1.35')).toMatchObject({ stage: 'GA', locked: true })
    expect(CURRENT_RELEASE).toBe('1.37')
    expect(resolveGates('1.37', {}).gates).toEqual({ LoadBalancerIPMode: true, PreferSameTrafficDistribution: true, TopologyAwareHints: true })
  })
})

describe('LoadBalancerIPMode', () => {
  const doc = (proxy: Record<string, unknown>) => ({ proxy: { nodeName: 'n', ...proxy }, resources: [lb, lbSlice] })
  it('off (1.28, 1.29 by default) every ingress IP is a VIP; on (1.30+) ipMode Proxy gets no rules', () => {
    for (const v of ['1.28', '1.29']) expect(restore(doc({ kubeProxyVersion: v }))).toContain('-d 1.2.3.4 --dport 80')
    for (const v of ['1.30', '1.32', '1.35']) expect(restore(doc({ kubeProxyVersion: v }))).not.toContain('1.2.3.4')
    expect(restore(doc({ kubeProxyVersion: '1.29', featureGates: { LoadBalancerIPMode: true } }))).not.toContain('1.2.3.4')
    expect(restore(doc({ kubeProxyVersion: '1.31', featureGates: { LoadBalancerIPMode: false } }))).toContain('-d 1.2.3.4 --dport 80')
  })
  it('a gate the release lacks, or a locked one set against its default, is a 400', () => {
    expect(issues(doc({ kubeProxyVersion: '1.28', featureGates: { LoadBalancerIPMode: true } }))).toEqual([
      { pointer: '/proxy/featureGates/LoadBalancerIPMode', detail: expect.stringContaining('1.28 has no feature gate') },
    ])
    expect(issues(doc({ kubeProxyVersion: '1.32', featureGates: { LoadBalancerIPMode: false } }))).toEqual([
      { pointer: '/proxy/featureGates/LoadBalancerIPMode', detail: expect.stringContaining('locked to true') },
    ])
    // Gone from the feature list after GA: even its default is refused, as kube-proxy refuses an unknown gate.
    expect(issues(doc({ kubeProxyVersion: '1.36', featureGates: { LoadBalancerIPMode: true } }))).toEqual([
      { pointer: '/proxy/featureGates/LoadBalancerIPMode', detail: expect.stringContaining('no feature gate LoadBalancerIPMode any more') },
    ])
    expect(restore(doc({ kubeProxyVersion: '1.37' }))).not.toContain('1.2.3.4')
  })
})

describe('PreferSameTrafficDistribution and TopologyAwareHints', () => {
  const doc = (proxy: Record<string, unknown>) => ({ proxy: { nodeName: 'node-a', zone: 'z1', ...proxy }, resources: [svc, hinted] })
  it('node hints only with PreferSameTrafficDistribution on; zone hints otherwise', () => {
    expect(endpointsOf(restore(doc({ kubeProxyVersion: '1.34' })))).toEqual(['10.1.0.5:8080'])
    expect(endpointsOf(restore(doc({ kubeProxyVersion: '1.33' })))).toEqual(['10.1.0.5:8080', '10.1.0.6:8080'])
    expect(endpointsOf(restore(doc({ kubeProxyVersion: '1.33', featureGates: { PreferSameTrafficDistribution: true } })))).toEqual(['10.1.0.5:8080'])
  })
  it('TopologyAwareHints off (settable before 1.33) ignores zone hints', () => {
    expect(endpointsOf(restore(doc({ kubeProxyVersion: '1.30', featureGates: { TopologyAwareHints: false } })))).toEqual([
      '10.1.0.5:8080',
      '10.1.0.6:8080',
      '10.1.0.7:8080',
    ])
    expect(issues(doc({ kubeProxyVersion: '1.33', featureGates: { TopologyAwareHints: false } }))[0]?.detail).toContain('locked to true')
  })
})

describe('featureGates', () => {
  it('an unknown gate in the envelope is a 400 naming the accepted gates', () => {
    const is = issues({ proxy: { featureGates: { LoadBalancerIPMod: true } }, resources: [svc] })
    expect(is).toHaveLength(1)
    expect(is[0]!.pointer).toMatch(/^\/proxy\/featureGates/)
    expect(is[0]!.detail).toContain('LoadBalancerIPMode, PreferSameTrafficDistribution, TopologyAwareHints')
  })
  it("a ConfigMap's gates apply, and one natplan does not know is a warning", () => {
    const conf = 'kind: KubeProxyConfiguration\nfeatureGates:\n  LoadBalancerIPMode: false\n  SomeKubeletGate: true\n'
    const r = toEnvelope({ proxy: { nodeName: 'n', kubeProxyVersion: '1.31' }, resources: [lb, lbSlice, configMap(conf)] })
    if (!r.ok) throw new Error(JSON.stringify(r.issues))
    const cp = planCluster(r.envelope)
    expect(cp.warnings).toContainEqual(
      expect.objectContaining({ code: 'unknown-feature-gate', pointer: '/resources/items/2/data/config.conf/featureGates/SomeKubeletGate' }),
    )
    expect(restore({ proxy: { nodeName: 'n', kubeProxyVersion: '1.31' }, resources: [lb, lbSlice, configMap(conf)] })).toContain('-d 1.2.3.4')
    // The envelope's gate wins over the ConfigMap's.
    expect(
      restore({ proxy: { nodeName: 'n', kubeProxyVersion: '1.31', featureGates: { LoadBalancerIPMode: true } }, resources: [lb, lbSlice, configMap(conf)] }),
    ).not.toContain('1.2.3.4')
    // A known gate the release refuses is an error there too.
    const locked = issues({ proxy: { kubeProxyVersion: '1.32' }, resources: [lb, configMap(conf)] })
    expect(locked[0]?.pointer).toBe('/resources/1/data/config.conf/featureGates/LoadBalancerIPMode')
  })
  it('a query gives them as --feature-gates does', () => {
    const r = toEnvelope(
      { proxy: { nodeName: 'n' }, resources: [svc] },
      { kubeProxyVersion: '1.31', featureGates: 'LoadBalancerIPMode=false,TopologyAwareHints=true' },
    )
    expect(r.ok && r.envelope.proxy.featureGates).toEqual({ LoadBalancerIPMode: false, TopologyAwareHints: true })
  })
})

describe('rule changes between releases (upstream CHANGELOG)', () => {
  const doc = (proxy: Record<string, unknown>) => ({ proxy: { nodeName: 'n', ...proxy }, resources: [lb, lbSlice] })
  it('no nfacct match before 1.31, whatever counters the node has', () => {
    for (const v of ['1.28', '1.30']) expect(restore(doc({ kubeProxyVersion: v, nfacct: true }))).not.toContain('nfacct')
    const t = restore(doc({ kubeProxyVersion: '1.31', nfacct: true }))
    expect(t).toContain('--nfacct-name ct_state_invalid_dropped_pkts')
    expect(t).toContain('--nfacct-name localhost_nps_accepted_pkts')
  })
  it('the INVALID drop stays before 1.29 even with nf_conntrack_tcp_be_liberal set', () => {
    expect(restore(doc({ kubeProxyVersion: '1.28', conntrackTCPBeLiberal: true }))).toContain('--ctstate INVALID')
    expect(restore(doc({ kubeProxyVersion: '1.29', conntrackTCPBeLiberal: true }))).not.toContain('--ctstate INVALID')
  })
})
