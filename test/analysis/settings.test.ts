/**
 * "Which kube-proxy wrote this?": the settings a node's iptables-save shows, against those
 * natplan's plan shows (analysis/settings.ts), and drift reporting each mismatch once instead of
 * every chain the setting shapes (analysis/drift.ts). The "node" is natplan's own plan of the
 * same snapshot under other settings: its restore text parses as iptables-save does.
 */
import { describe, expect, it } from 'vitest'
import { plan, renderRestore, toEnvelope, type FamilyPlan } from '../../src/planner/index.js'
import { drift } from '../../src/planner/analysis/drift.js'
import { inferSettings, proxyModeIngressIPs } from '../../src/planner/analysis/settings.js'

const objects: Record<string, unknown>[] = []
for (let i = 0; i < 10; i++) {
  const name = `svc${i}`
  const type = i % 3 === 0 ? 'NodePort' : 'ClusterIP'
  objects.push({
    kind: 'Service',
    metadata: { name, namespace: 'ns' },
    spec: {
      type,
      clusterIP: `172.30.0.${10 + i}`,
      ...(i % 3 === 0 ? { externalTrafficPolicy: i === 3 ? 'Local' : 'Cluster' } : {}),
      ports: [{ name: 'p80', port: 80, protocol: 'TCP', ...(type === 'NodePort' ? { nodePort: 30000 + i } : {}) }],
    },
  })
  objects.push({
    kind: 'EndpointSlice',
    metadata: { name: `${name}-1`, namespace: 'ns', labels: { 'kubernetes.io/service-name': name } },
    addressType: 'IPv4',
    endpoints: [
      { addresses: [`10.0.${i}.1`], nodeName: 'test-node' },
      { addresses: [`10.0.${i}.2`], nodeName: 'other' },
    ],
    ports: [{ name: 'p80', port: 80, protocol: 'TCP' }],
  })
}
const lb = {
  kind: 'Service',
  metadata: { name: 'lb', namespace: 'ns' },
  spec: {
    type: 'LoadBalancer',
    clusterIP: '172.30.1.1',
    externalTrafficPolicy: 'Cluster',
    ports: [{ name: 'p80', port: 80, protocol: 'TCP', nodePort: 31000 }],
  },
  status: {
    loadBalancer: {
      ingress: [
        { ip: '1.2.3.4', ipMode: 'Proxy' },
        { ip: '5.6.7.8', ipMode: 'VIP' },
      ],
    },
  },
}
const lbSlice = {
  kind: 'EndpointSlice',
  metadata: { name: 'lb-1', namespace: 'ns', labels: { 'kubernetes.io/service-name': 'lb' } },
  addressType: 'IPv4',
  endpoints: [{ addresses: ['10.1.0.1'] }],
  ports: [{ name: 'p80', port: 80, protocol: 'TCP' }],
}
const base = {
  nodeName: 'test-node',
  nodeIPs: ['192.168.0.2'],
  clusterCIDR: '10.0.0.0/8',
  masqueradeBit: 14,
  masqueradeRandomFully: true,
  nfacct: true,
  conntrackTCPBeLiberal: false,
  localhostNodePorts: true,
}

function familyPlan(proxy: Record<string, unknown>, extra: unknown[] = []): FamilyPlan {
  const r = toEnvelope({ proxy: { ...base, ...proxy }, resources: [...objects, ...extra] })
  if (!r.ok) throw new Error(JSON.stringify(r.issues))
  return plan(r.envelope).families[0]!
}
const dumpOf = (proxy: Record<string, unknown>, extra: unknown[] = []) => renderRestore(familyPlan(proxy, extra))

describe('inferring the settings from the rules', () => {
  it('reads every setting off a plan', () => {
    const fp = familyPlan({})
    const rules = fp.segments.flatMap(() => [])
    expect(rules).toEqual([])
    const report = drift(fp, renderRestore(fp))
    expect(report.settings.mismatches).toEqual([])
    expect(report.inSync).toBe(true)
    expect(report.settings.node).toMatchObject({
      masqueradeMark: '0x4000',
      masqueradeBit: 14,
      masqueradeRandomFully: true,
      conntrackTCPBeLiberal: false,
      nfacct: { ct_state_invalid_dropped_pkts: true, localhost_nps_accepted_pkts: true },
      localhostNodePorts: true,
      localDetector: { kind: 'cidr', value: '10.0.0.0/8' },
    })
    expect(report.settings.node.evidence.masqueradeMark?.line).toBeGreaterThan(0)
    // nfacct matches are written from 1.31 on: the release shows that far.
    expect(report.settings.node.releases).toEqual(['1.31', '1.32', '1.33', '1.34', '1.35', '1.36', '1.37'])
  })

  it('an empty rule set shows nothing', () => {
    expect(inferSettings([], 'IPv4')).toEqual({ family: 'IPv4', nfacct: {}, evidence: {} })
  })
})

describe('drift: one finding per setting', () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['masquerade bit', { masqueradeBit: 15 }, 'masqueradeMark'],
    ['--random-fully', { masqueradeRandomFully: false }, 'masqueradeRandomFully'],
    ['tcp be-liberal', { conntrackTCPBeLiberal: true }, 'conntrackTCPBeLiberal'],
    ['the INVALID counter', { nfacct: { ct_state_invalid_dropped_pkts: false } }, 'nfacct.ct_state_invalid_dropped_pkts'],
    ['the localhost NodePort counter', { nfacct: { localhost_nps_accepted_pkts: false } }, 'nfacct.localhost_nps_accepted_pkts'],
    ['localhost NodePorts', { localhostNodePorts: false }, 'localhostNodePorts'],
    ['another cluster CIDR', { clusterCIDR: '10.128.0.0/14' }, 'localDetector'],
    ['an interface detector', { detectLocalMode: 'InterfaceNamePrefix', detectLocal: { interfaceNamePrefix: 'veth' } }, 'localDetector'],
    ['a bridge detector', { detectLocalMode: 'BridgeInterface', detectLocal: { bridgeInterface: 'cbr0' } }, 'localDetector'],
    ['no detector', { detectLocalMode: 'None' }, 'localDetector'],
    ['masqueradeAll', { masqueradeAll: true }, 'localDetector'],
  ]
  for (const [what, node, setting] of cases) {
    it(`${what}: one mismatch, no chain changed`, () => {
      const report = drift(familyPlan({}), dumpOf(node))
      expect(report.settings.mismatches.map((m) => m.setting)).toEqual([setting])
      expect(report.summary).toMatchObject({ settingsMismatches: 1, changedChains: 0, staleChains: 0, missingChains: 0 })
      expect(report.inSync).toBe(false)
      expect(report.settings.mismatches[0]!.fix).toBeTruthy()
    })
  }

  it('several settings at once, and a real difference is still reported', () => {
    const nodeText = dumpOf({
      masqueradeBit: 15,
      detectLocalMode: 'InterfaceNamePrefix',
      detectLocal: { interfaceNamePrefix: 'veth' },
      masqueradeRandomFully: false,
    })
    // The node lacks svc5's cluster-IP rule: real drift besides the settings.
    const edited = nodeText
      .split('\n')
      .filter((l) => !l.includes('"ns/svc5:p80 cluster IP" -m tcp -p tcp -d 172.30.0.15 --dport 80 -j'))
      .join('\n')
    const report = drift(familyPlan({}), edited)
    expect(report.settings.mismatches.map((m) => m.setting).sort()).toEqual(['localDetector', 'masqueradeMark', 'masqueradeRandomFully'])
    expect(report.settings.mismatches.find((m) => m.setting === 'localDetector')).toMatchObject({
      told: '! -s 10.0.0.0/8 (ClusterCIDR or NodeCIDR)',
      node: '! -i veth+ (InterfaceNamePrefix)',
    })
    expect(report.tables.nat.changedChains.map((c) => c.chain)).toEqual(['KUBE-SERVICES'])
    expect(report.summary.missingRules).toBe(1)
  })

  it('LoadBalancerIPMode shows on a Proxy-mode ingress IP, with the releases that fit', () => {
    const ips = proxyModeIngressIPs([lb])
    expect(ips).toEqual(['1.2.3.4'])
    const report = drift(familyPlan({}, [lb, lbSlice]), dumpOf({ kubeProxyVersion: '1.29' }, [lb, lbSlice]), { proxyIngressIPs: ips })
    // 1.29 writes no nfacct match either: the counters show as absent, each one finding.
    expect(report.settings.mismatches.map((m) => m.setting).sort()).toEqual([
      'LoadBalancerIPMode',
      'nfacct.ct_state_invalid_dropped_pkts',
      'nfacct.localhost_nps_accepted_pkts',
    ])
    expect(report.settings.mismatches.find((m) => m.setting === 'LoadBalancerIPMode')).toMatchObject({
      told: 'true',
      node: 'false (releases with that default: 1.28, 1.29)',
    })
    expect(report.settings.node.releases).toEqual(['1.28', '1.29'])
    expect(report.summary.changedChains).toBe(0)
    const same = drift(familyPlan({ kubeProxyVersion: '1.29' }, [lb, lbSlice]), dumpOf({ kubeProxyVersion: '1.29' }, [lb, lbSlice]), { proxyIngressIPs: ips })
    expect(same.inSync).toBe(true)
  })
})
