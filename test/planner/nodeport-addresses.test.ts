/**
 * nodePortAddresses as kube-proxy reads it (pkg/proxy/util/nodeport_addresses.go
 * NewNodePortAddresses): only the CIDRs of the family planned count — none left means every
 * address — and only those decide whether localhost NodePorts stay on (a CIDR whose network
 * address is loopback or that contains 127.0.0.0). The cases are upstream's own
 * (nodeport_addresses_test.go TestContainsIPv4Loopback), seen through the rules they change:
 * the KUBE-FIREWALL chain and its martian rule exist exactly when
 * ContainsIPv4Loopback is true, and never in an IPv6 plan.
 */
import { describe, expect, it } from 'vitest'
import { plan, renderRestore, toEnvelope } from '../../src/planner/index.js'

const CASES: Array<{ name: string; cidrs: string[]; want: boolean }> = [
  { name: 'empty', cidrs: [], want: true },
  { name: 'all zeros ipv4', cidrs: ['224.0.0.0/24', '192.168.0.0/16', 'fd00:1:d::/64', '0.0.0.0/0'], want: true },
  { name: 'all zeros ipv6', cidrs: ['224.0.0.0/24', '192.168.0.0/16', 'fd00:1:d::/64', '::/0'], want: false },
  { name: 'ipv4 loopback', cidrs: ['224.0.0.0/24', '192.168.0.0/16', 'fd00:1:d::/64', '127.0.0.0/8'], want: true },
  { name: 'ipv6 loopback', cidrs: ['224.0.0.0/24', '192.168.0.0/16', 'fd00:1:d::/64', '::1/128'], want: false },
  { name: 'ipv4 loopback smaller range', cidrs: ['224.0.0.0/24', '192.168.0.0/16', 'fd00:1:d::/64', '127.0.2.0/28'], want: true },
  { name: 'ipv4 loopback within larger range', cidrs: ['224.0.0.0/24', '192.168.0.0/16', 'fd00:1:d::/64', '64.0.0.0/2'], want: true },
  { name: 'non loop loopback', cidrs: ['128.0.2.0/28', '224.0.0.0/24', '192.168.0.0/16', 'fd00:1:d::/64'], want: false },
  // The issue's cases: a dual-stack node's IPv6 CIDR leaves IPv4 with every address.
  { name: 'only the other family', cidrs: ['2001:db8::/64'], want: true },
  { name: 'a loopback host address', cidrs: ['127.0.0.5/32', '192.168.0.0/16'], want: true },
]

function script(family: 'IPv4' | 'IPv6', nodePortAddresses: string[]): string {
  const v6 = family === 'IPv6'
  const r = toEnvelope({
    proxy: { nodeName: 'node-a', nodeIPs: [v6 ? '2001:db8::2' : '192.168.0.2'], clusterCIDR: v6 ? 'fd00:10::/64' : '10.0.0.0/8', nodePortAddresses },
    resources: {
      kind: 'List',
      items: [
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'np', namespace: 'ns' },
          spec: {
            type: 'NodePort',
            clusterIP: v6 ? 'fd00:30::10' : '172.30.0.10',
            ipFamilies: [family],
            ports: [{ name: 'p', protocol: 'TCP', port: 80, nodePort: 30080 }],
          },
        },
      ],
    },
  })
  if (!r.ok) throw new Error(JSON.stringify(r.issues))
  return renderRestore(plan(r.envelope).families[0]!)
}

describe('nodePortAddresses: the family planned, then loopback (NewNodePortAddresses)', () => {
  it.each(CASES)('$name: localhost NodePorts on an IPv4 node = $want', ({ cidrs, want }) => {
    const text = script('IPv4', cidrs)
    expect(text.includes(':KUBE-FIREWALL - [0:0]')).toBe(want)
    // With every address matched and localhost NodePorts off, loopback is excluded from the jump.
    const matchAll = !cidrs.some((c) => !c.includes(':')) || cidrs.includes('0.0.0.0/0')
    expect(text.includes('! -d 127.0.0.0/8 -j KUBE-NODEPORTS')).toBe(matchAll && !want)
  })

  it.each(CASES)('$name: never on an IPv6 node', ({ cidrs }) => {
    const text = script('IPv6', cidrs)
    expect(text).not.toContain('KUBE-FIREWALL')
    expect(text).not.toContain('127.0.0.0/8')
  })
})
