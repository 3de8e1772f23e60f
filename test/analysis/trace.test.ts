/**
 * Packet traces, checked against upstream's packet-flow tables: TestTracePacket's flows over
 * its own rule set (proxier_test.go), the "packet-flow assertions" of the conformance notes
 * (TestNodePorts), and flows written here for the other conformance cases.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { trace, traceSave, type TracePacket } from '../../src/planner/analysis/index.js'
import { BadRequestError } from '../../src/errors.js'
import { conformanceText, familyPlanFromRestore } from './fixtures.js'

const NODE_IPS = ['192.168.0.2', '192.168.1.2', '192.168.99.11', '2001:db8::1', '2001:db8:1::2']
const TRACE_RULES = readFileSync(join(import.meta.dirname, 'fixtures', 'trace-packet.rules'), 'utf8')

interface Flow {
  name: string
  source: string
  destination: string
  port: number
  output: string
  masq?: boolean
}

const pkt = (f: Flow): TracePacket => ({ source: f.source, destination: f.destination, port: f.port, protocol: 'tcp' })

/** A trace ended where the flow says, masqueraded or not (no `masq`: not). */
function expectFlow(r: { output: string; masqueraded: boolean }, f: Flow): void {
  expect(r.output).toBe(f.output)
  expect(r.masqueraded).toBe(f.masq ?? false)
}

// TestTracePacket (pkg/proxy/iptables/proxier_test.go)
const TRACE_PACKET_FLOWS: Flow[] = [
  { name: 'no match', source: '10.0.0.2', destination: '10.0.0.3', port: 80, output: '' },
  { name: 'single endpoint', source: '10.0.0.2', destination: '172.30.0.41', port: 80, output: '10.180.0.1:80' },
  { name: 'multiple endpoints', source: '10.0.0.2', destination: '172.30.0.44', port: 80, output: '10.180.0.4:80, 10.180.0.5:80' },
  { name: 'LOCAL, KUBE-MARK-MASQ', source: '192.168.0.2', destination: '192.168.99.22', port: 80, output: '10.180.0.2:80', masq: true },
  { name: 'DROP', source: '203.0.113.2', destination: '192.168.99.22', port: 80, output: 'DROP' },
  { name: 'ACCEPT (NodePortHealthCheck)', source: '192.168.0.2', destination: '192.168.0.2', port: 30000, output: 'ACCEPT' },
  { name: 'REJECT', source: '10.0.0.2', destination: '172.30.0.46', port: 80, output: 'REJECT' },
]

describe('TestTracePacket flows', () => {
  const plan = familyPlanFromRestore(TRACE_RULES)
  it.each(TRACE_PACKET_FLOWS)('plan: $name', (f) => {
    const r = trace(plan, pkt(f), NODE_IPS)
    expectFlow(r, f)
  })
  it.each(TRACE_PACKET_FLOWS)('node dump from PREROUTING: $name', (f) => {
    const r = traceSave(TRACE_RULES, 'IPv4', pkt(f), NODE_IPS)
    expectFlow(r, f)
  })
  it('verdicts and matched rules', () => {
    expect(trace(plan, pkt(TRACE_PACKET_FLOWS[0]!), NODE_IPS)).toMatchObject({ verdict: 'NONE', endpoints: [], rulesMatched: [] })
    expect(trace(plan, pkt(TRACE_PACKET_FLOWS[4]!), NODE_IPS).verdict).toBe('DROP')
    expect(trace(plan, pkt(TRACE_PACKET_FLOWS[5]!), NODE_IPS).verdict).toBe('ACCEPT')
    expect(trace(plan, pkt(TRACE_PACKET_FLOWS[6]!), NODE_IPS).verdict).toBe('REJECT')
    const r = trace(plan, pkt(TRACE_PACKET_FLOWS[2]!), NODE_IPS)
    expect(r.verdict).toBe('DNAT')
    expect(r.endpoints).toEqual([
      { endpoint: '10.180.0.4:80', probability: 0.5 },
      { endpoint: '10.180.0.5:80', probability: 0.5 },
    ])
    expect(r.rulesMatched.map((m) => `${m.table}/${m.chain}`)).toEqual([
      'nat/KUBE-SERVICES',
      'nat/KUBE-SVC-4SW47YFZTEDKD3PK',
      'nat/KUBE-SEP-UKSFD7AGPMPPLUHC',
      'nat/KUBE-SVC-4SW47YFZTEDKD3PK',
      'nat/KUBE-SEP-C6EBXVWJJZMIWKLZ',
    ])
  })
  it('LB source ranges: allowed source reaches the endpoint masqueraded, others fall through to the firewall DROP', () => {
    expect(trace(plan, { source: '203.0.113.2', destination: '5.6.7.8', port: 80, protocol: 'tcp' }, NODE_IPS)).toMatchObject({
      output: '10.180.0.3:80',
      masqueraded: true,
      verdict: 'DNAT',
    })
    expect(trace(plan, { source: '203.0.113.130', destination: '5.6.7.8', port: 80, protocol: 'tcp' }, NODE_IPS)).toMatchObject({
      output: 'DROP',
      verdict: 'DROP',
    })
  })
  it('the wrong protocol matches nothing', () => {
    expect(trace(plan, { source: '10.0.0.2', destination: '172.30.0.41', port: 80, protocol: 'udp' }, NODE_IPS).verdict).toBe('NONE')
  })
})

describe('conformance flows', () => {
  // TestNodePorts__ipv4_localhost-nodeports_enabled/notes.md, "packet-flow assertions"
  const both = '10.180.0.1:80, 10.180.2.1:80'
  const NODEPORTS: Flow[] = [
    { name: 'pod to cluster IP', source: '10.0.0.2', destination: '172.30.0.41', port: 80, output: both, masq: false },
    { name: 'external to nodePort', source: '203.0.113.2', destination: '192.168.0.2', port: 3001, output: both, masq: true },
    { name: 'node to nodePort', source: '192.168.0.2', destination: '192.168.0.2', port: 3001, output: both, masq: true },
    { name: 'localhost to nodePort gets masqueraded', source: '127.0.0.1', destination: '127.0.0.1', port: 3001, output: both, masq: true },
    { name: 'external to nodePort on secondary IP', source: '203.0.113.2', destination: '192.168.1.2', port: 3001, output: both, masq: true },
  ]
  const nodePorts = familyPlanFromRestore(conformanceText('TestNodePorts__ipv4_localhost-nodeports_enabled'))
  it.each(NODEPORTS)('TestNodePorts: $name', (f) => {
    const r = trace(nodePorts, pkt(f), NODE_IPS)
    expectFlow(r, f)
    expect(r.endpoints.map((e) => e.probability)).toEqual([0.5, 0.5])
  })

  // Written for TestBadIPs: LB with source range 203.0.113.0/25, external IP 192.168.99.22, NodePort 3001.
  const BADIPS: Flow[] = [
    { name: 'pod to cluster IP', source: '10.0.0.2', destination: '172.30.0.41', port: 80, output: '10.180.0.1:80', masq: false },
    { name: 'external to cluster IP is masqueraded', source: '203.0.113.2', destination: '172.30.0.41', port: 80, output: '10.180.0.1:80', masq: true },
    { name: 'allowed client to LB IP', source: '203.0.113.2', destination: '1.2.3.4', port: 80, output: '10.180.0.1:80', masq: true },
    { name: 'blocked client to LB IP', source: '203.0.113.130', destination: '1.2.3.4', port: 80, output: 'DROP', masq: false },
    {
      name: 'external IP is not subject to source ranges',
      source: '203.0.113.130',
      destination: '192.168.99.22',
      port: 80,
      output: '10.180.0.1:80',
      masq: true,
    },
    {
      name: 'blocked client to nodePort is accepted (no ranges on NodePorts)',
      source: '203.0.113.130',
      destination: '192.168.0.2',
      port: 3001,
      output: '10.180.0.1:80',
      masq: true,
    },
    { name: 'wrong port', source: '10.0.0.2', destination: '172.30.0.41', port: 81, output: '', masq: false },
  ]
  const badIPs = familyPlanFromRestore(conformanceText('TestBadIPs'))
  it.each(BADIPS)('TestBadIPs: $name', (f) => {
    const r = trace(badIPs, pkt(f), NODE_IPS)
    expectFlow(r, f)
  })

  // Written for TestSyncProxyRulesRepeated (initial sync): two ClusterIP services, one endpoint each.
  const REPEATED: Flow[] = [
    { name: 'svc1', source: '10.0.0.2', destination: '172.30.0.41', port: 80, output: '10.0.1.1:80', masq: false },
    { name: 'svc2', source: '10.0.0.2', destination: '172.30.0.42', port: 8080, output: '10.0.2.1:8080', masq: false },
    { name: 'svc2 from outside the cluster CIDR', source: '192.168.0.2', destination: '172.30.0.42', port: 8080, output: '10.0.2.1:8080', masq: true },
    {
      name: 'hairpin: the endpoint to its own service is masqueraded',
      source: '10.0.1.1',
      destination: '172.30.0.41',
      port: 80,
      output: '10.0.1.1:80',
      masq: true,
    },
    { name: 'no nodePorts', source: '203.0.113.2', destination: '192.168.0.2', port: 3001, output: '', masq: false },
  ]
  const repeated = familyPlanFromRestore(conformanceText('TestSyncProxyRulesRepeated__initial_full_sync'))
  it.each(REPEATED)('TestSyncProxyRulesRepeated: $name', (f) => {
    const r = trace(repeated, pkt(f), NODE_IPS)
    expectFlow(r, f)
  })
})

describe('probabilities', () => {
  it('gives each of n endpoints its effective share, summing to 1', () => {
    const eps = ['10.1.0.1', '10.1.0.2', '10.1.0.3', '10.1.0.4', '10.1.0.5']
    const rules = [
      '*nat',
      ':KUBE-SERVICES - [0:0]',
      ':KUBE-SVC-A - [0:0]',
      ...eps.map((_, i) => `:KUBE-SEP-${i} - [0:0]`),
      '-A KUBE-SERVICES -m comment --comment "ns/a:p cluster IP" -m tcp -p tcp -d 172.30.0.9 --dport 80 -j KUBE-SVC-A',
      ...eps.map((ip, i) => {
        const left = eps.length - i
        const stat = left > 1 ? ` -m statistic --mode random --probability ${(1 / left).toFixed(10)}` : ''
        return `-A KUBE-SVC-A -m comment --comment "ns/a:p -> ${ip}:80"${stat} -j KUBE-SEP-${i}`
      }),
      ...eps.map((ip, i) => `-A KUBE-SEP-${i} -m comment --comment ns/a:p -m tcp -p tcp -j DNAT --to-destination ${ip}:80`),
      'COMMIT',
    ].join('\n')
    const r = trace(familyPlanFromRestore(rules), { source: '10.0.0.2', destination: '172.30.0.9', port: 80, protocol: 'tcp' }, [])
    expect(r.endpoints.map((e) => e.endpoint)).toEqual(eps.map((ip) => `${ip}:80`))
    for (const e of r.endpoints) expect(e.probability).toBeCloseTo(0.2, 8)
    expect(r.endpoints.reduce((s, e) => s + e.probability, 0)).toBeCloseTo(1, 12)
  })
})

describe('bad requests', () => {
  const plan = familyPlanFromRestore(TRACE_RULES)
  it('rejects a bad packet with pointers', () => {
    try {
      trace(plan, { source: 'nope', destination: '1.2.3.4', port: 70000, protocol: 'icmp' as never }, [])
      expect.unreachable()
    } catch (e) {
      expect(e).toBeInstanceOf(BadRequestError)
      expect((e as BadRequestError).issues.map((i) => i.pointer)).toEqual(['/source', '/port', '/protocol'])
    }
  })
})

describe('traceSave on a bad dump', () => {
  it('answers 400 with the line of a rule it cannot read, not a crash', () => {
    const dump = '*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n-A PREROUTING -j KUBE-SERVICES\n-A KUBE-SERVICES -d 999.1.1.1 -j DROP\nCOMMIT\n'
    try {
      traceSave(dump, 'IPv4', { source: '10.0.0.1', destination: '10.0.0.2', port: 80, protocol: 'tcp' }, [])
      expect.unreachable()
    } catch (e) {
      expect(e).toBeInstanceOf(BadRequestError)
      expect((e as BadRequestError).issues).toEqual([{ pointer: '/lines/4', detail: 'line 5: bad address "999.1.1.1"' }])
    }
  })
})
