/**
 * A fast-check arbitrary of small but varied snapshots, for the properties that hold two
 * planners (or two paths of one) to the same output: every Service shape kube-proxy treats
 * differently (types, traffic policies, affinity, external IPs, load-balancer ingress with and
 * without VIP mode, source ranges, health-check ports, unnamed and several ports, protocols),
 * single- and dual-stack, endpoints that are ready, serving, terminating, local or not, with zone
 * and node hints, duplicated across slices, in legacy Endpoints, and every proxy setting that
 * changes the text. All of it valid as the API server validates.
 */
import fc from 'fast-check'

type Obj = Record<string, unknown>

const NODES = ['node-a', 'node-b', 'node-c']
const ZONES = ['zone-a', 'zone-b']

/** Addresses from small pools, so that duplicates and shared addresses happen. */
const podV4 = fc.integer({ min: 1, max: 12 }).map((n) => `10.1.${n % 3}.${n}`)
const podV6 = fc.integer({ min: 1, max: 12 }).map((n) => `fd00:10::${n.toString(16)}`)

const endpointArb = fc.record({
  v4: podV4,
  v6: podV6,
  ready: fc.constantFrom<boolean | undefined>(true, true, true, false, undefined),
  serving: fc.constantFrom<boolean | undefined>(true, false, undefined),
  terminating: fc.constantFrom<boolean | undefined>(false, true, undefined),
  node: fc.option(fc.constantFrom(...NODES), { nil: undefined }),
  zoneHints: fc.option(fc.subarray(ZONES, { minLength: 1 }), { nil: undefined }),
  nodeHints: fc.option(fc.subarray(NODES, { minLength: 1 }), { nil: undefined }),
  leadingZeros: fc.boolean(),
})

const portArb = fc.record({
  name: fc.constantFrom('', 'http', 'dns', 'p9'),
  protocol: fc.constantFrom('TCP', 'TCP', 'UDP', 'SCTP'),
  port: fc.constantFrom(80, 53, 443, 8080),
  nodePort: fc.constantFrom(0, 30001, 30002),
})

const serviceArb = fc.record({
  type: fc.constantFrom('ClusterIP', 'ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'),
  stack: fc.constantFrom('v4', 'v4', 'v6', 'dual'),
  ports: fc.array(portArb, { minLength: 1, maxLength: 2 }),
  affinity: fc.constantFrom(0, 0, 10800, 60),
  etpLocal: fc.boolean(),
  itpLocal: fc.boolean(),
  externalIPs: fc.constantFrom([], [], ['192.168.99.22'], ['192.168.99.22', 'fd00:99::22']),
  ingress: fc.constantFrom(
    [],
    [{ ip: '1.2.3.4' }],
    [
      { ip: '1.2.3.4', ipMode: 'Proxy' },
      { ip: '5.6.7.8', ipMode: 'VIP' },
    ],
    [{ hostname: 'lb.example.com' }],
    [{ ip: '2001:db8::4' }],
  ),
  sourceRanges: fc.constantFrom([], [], ['203.0.113.0/25'], [' 192.168.0.0/16', '2001:db8::/32']),
  healthCheckNodePort: fc.constantFrom(0, 30000),
  endpoints: fc.array(endpointArb, { maxLength: 6 }),
  slices: fc.constantFrom(1, 1, 2),
  legacy: fc.constantFrom(false, false, false, true),
  headless: fc.constantFrom(false, false, false, false, true),
})

const proxyArb = fc.record(
  {
    masqueradeAll: fc.boolean(),
    localDetector: fc.constantFrom('ClusterCIDR', 'None'),
    localhostNodePorts: fc.boolean(),
    nfacct: fc.oneof(fc.boolean(), fc.record({ ct_state_invalid_dropped_pkts: fc.boolean(), localhost_nps_accepted_pkts: fc.boolean() }, { requiredKeys: [] })),
    masqueradeRandomFully: fc.boolean(),
    conntrackTCPBeLiberal: fc.boolean(),
    masqueradeBit: fc.constantFrom(14, 15),
    masqueradeMark: fc.constantFrom('0x4000'),
    nodePortAddresses: fc.constantFrom([], ['primary'], ['127.0.0.0/8', '192.168.0.0/16'], ['2001:db8::/64'], ['0.0.0.0/0'], ['192.168.0.0/24']),
    zone: fc.constantFrom(...ZONES),
  },
  { requiredKeys: [] },
)

function unique<T>(xs: T[], key: (x: T) => string): T[] {
  const seen = new Set<string>()
  return xs.filter((x) => (seen.has(key(x)) ? false : (seen.add(key(x)), true)))
}

function withZeros(ip: string, on: boolean): string {
  return on && !ip.includes(':') ? ip.replace(/\.(\d)$/, '.00$1') : ip
}

type Svc = typeof serviceArb extends fc.Arbitrary<infer T> ? T : never

function objects(svc: Svc, i: number): Obj[] {
  const name = `svc${i}`
  const ns = i % 2 === 0 ? 'ns1' : 'ns2'
  const ports = unique(svc.ports, (p) => p.name).map((p, k, all) => ({ ...p, name: all.length > 1 && p.name === '' ? `p${k}` : p.name }))
  const families = svc.stack === 'v4' ? ['IPv4'] : svc.stack === 'v6' ? ['IPv6'] : ['IPv4', 'IPv6']
  const clusterIPs = svc.headless ? ['None'] : families.map((f) => (f === 'IPv4' ? `172.30.${i}.${10 + i}` : `fd00:30::${(10 + i).toString(16)}`))
  const spec: Obj = {
    type: svc.type,
    clusterIP: clusterIPs[0],
    clusterIPs,
    ipFamilies: families,
    ports: ports.map((p) => {
      const out: Obj = { protocol: p.protocol, port: p.port, targetPort: p.port }
      if (p.name) out.name = p.name
      if (svc.type !== 'ClusterIP' && p.nodePort) out.nodePort = p.nodePort + k(p.name)
      return out
    }),
    sessionAffinity: svc.affinity ? 'ClientIP' : 'None',
    internalTrafficPolicy: svc.itpLocal ? 'Local' : 'Cluster',
  }
  if (svc.type === 'ExternalName') spec.externalName = 'example.com'
  if (svc.affinity) spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: svc.affinity } }
  if (svc.type !== 'ClusterIP' || svc.externalIPs.length) spec.externalTrafficPolicy = svc.etpLocal ? 'Local' : 'Cluster'
  if (svc.externalIPs.length) spec.externalIPs = svc.externalIPs
  if (svc.type === 'LoadBalancer') {
    if (svc.sourceRanges.length) spec.loadBalancerSourceRanges = svc.sourceRanges
    if (svc.etpLocal && svc.healthCheckNodePort) spec.healthCheckNodePort = svc.healthCheckNodePort + i
  }
  const service: Obj = { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec }
  if (svc.type === 'LoadBalancer') service.status = { loadBalancer: { ingress: svc.ingress } }
  const out: Obj[] = [service]
  const slicePorts = ports.map((p) => ({ name: p.name, protocol: p.protocol, port: p.port + 1000 }))
  for (const family of families) {
    const eps = svc.endpoints.map((e) => {
      const ep: Obj = { addresses: [family === 'IPv4' ? withZeros(e.v4, e.leadingZeros) : e.v6] }
      const conditions: Obj = {}
      if (e.ready !== undefined) conditions.ready = e.ready
      if (e.serving !== undefined) conditions.serving = e.serving
      if (e.terminating !== undefined) conditions.terminating = e.terminating
      ep.conditions = conditions
      if (e.node) ep.nodeName = e.node
      if (e.zoneHints || e.nodeHints) {
        const hints: Obj = {}
        if (e.zoneHints) hints.forZones = e.zoneHints.map((z) => ({ name: z }))
        if (e.nodeHints) hints.forNodes = e.nodeHints.map((n) => ({ name: n }))
        ep.hints = hints
      }
      return ep
    })
    if (svc.legacy) continue
    for (let s = 0; s < svc.slices; s++) {
      out.push({
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: `${name}-${family.toLowerCase()}-${s}`, namespace: ns, labels: { 'kubernetes.io/service-name': name } },
        addressType: family,
        ports: slicePorts,
        // A second slice repeats some endpoints (the later copy wins unless it is terminating).
        endpoints: s === 0 ? eps : eps.filter((_, j) => j % 2 === 1).reverse(),
      })
    }
  }
  if (svc.legacy) {
    const ready = svc.endpoints.filter((e) => e.ready !== false)
    const notReady = svc.endpoints.filter((e) => e.ready === false)
    const address = (e: Svc['endpoints'][number]): Obj => (e.node ? { ip: e.v4, nodeName: e.node } : { ip: e.v4 })
    out.push({
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name, namespace: ns },
      subsets: [
        {
          addresses: unique(ready, (e) => e.v4).map(address),
          notReadyAddresses: unique(notReady, (e) => e.v4).map(address),
          ports: slicePorts.map((p) => (p.name ? p : { protocol: p.protocol, port: p.port })),
        },
      ],
    })
  }
  return out
}

/** Distinct node ports per port name, so that two ports of a service never share one. */
function k(name: string): number {
  return name === '' ? 0 : name.length
}

export const snapshotArb = fc
  .record({
    services: fc.array(serviceArb, { maxLength: 8 }),
    proxy: proxyArb,
    node: fc.constantFrom(...NODES),
    stack: fc.constantFrom('v4', 'v4', 'v6', 'dual'),
  })
  .map(({ services, proxy, node, stack }) => {
    const clusterCIDR = stack === 'v4' ? '10.0.0.0/8' : stack === 'v6' ? 'fd00:10::/64' : '10.0.0.0/8,fd00:10::/64'
    const nodeIPs = stack === 'v6' ? ['2001:db8::2'] : ['192.168.0.2', '2001:db8::2']
    return {
      proxy: { nodeName: node, nodeIPs, clusterCIDR, ...proxy },
      resources: { apiVersion: 'v1', kind: 'List', items: services.flatMap((s, i) => objects(s, i)) },
    }
  })

/** The Node objects of NODES: addresses per stack, a zone each (two share one), pod CIDRs. */
function nodeObjects(stack: string, withAddresses: boolean[]): Obj[] {
  return NODES.map((name, i) => {
    const v4 = `192.168.0.${2 + i}`
    const v6 = `2001:db8::${2 + i}`
    const addrs = stack === 'v4' ? [v4] : stack === 'v6' ? [v6] : [v4, v6]
    const podCIDRs = stack === 'v4' ? [`10.1.${i}.0/24`] : stack === 'v6' ? [`fd00:10:0:${i}::/64`] : [`10.1.${i}.0/24`, `fd00:10:0:${i}::/64`]
    return {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name, labels: { 'topology.kubernetes.io/zone': ZONES[i % 2]! } },
      spec: { podCIDR: podCIDRs[0], podCIDRs },
      status: { addresses: withAddresses[i] ? [...addrs.map((address) => ({ type: 'InternalIP', address })), { type: 'Hostname', address: name }] : [] },
    }
  })
}

/**
 * Snapshots of a whole cluster (the Node objects of NODES), its settings from the envelope or
 * from a kube-proxy ConfigMap, with any local-traffic detector, and per-node settings.
 */
export const clusterArb = fc
  .record({
    services: fc.array(serviceArb, { maxLength: 8 }),
    proxy: proxyArb,
    stack: fc.constantFrom('v4', 'v4', 'v6', 'dual'),
    detectLocalMode: fc.constantFrom('ClusterCIDR', 'NodeCIDR', 'None', 'BridgeInterface', 'InterfaceNamePrefix'),
    viaConfigMap: fc.boolean(),
    // A release (its gate defaults), and the one gate older releases let a ConfigMap turn off.
    release: fc.constantFrom(undefined, '1.28', '1.29', '1.31', '1.33', '1.34', '1.35', '1.37'),
    noZoneHints: fc.boolean(),
    addresses: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
    perNode: fc.option(fc.record({ node: fc.constantFrom(...NODES), masqueradeAll: fc.boolean() }), { nil: undefined }),
    // The node's current chains: stale service chains, chains kube-proxy does not own, and one
    // name the plans of the arbitrary's first service may well declare.
    existing: fc.option(
      fc.record({
        node: fc.constantFrom(...NODES),
        chains: fc.subarray([
          'KUBE-SVC-AAAAAAAAAAAAAAAA',
          'KUBE-SEP-BBBBBBBBBBBBBBBB',
          'KUBE-EXT-CCCCCCCCCCCCCCCC',
          'KUBE-FW-DDDDDDDDDDDDDDDD',
          'KUBE-SVL-EEEEEEEEEEEEEEEE',
          'KUBE-MARK-DROP',
          'KUBE-SERVICES',
          'CNI-HOSTPORT-DNAT',
          'KUBE-XLB-FFFFFFFFFFFFFFFF',
        ]),
      }),
      { nil: undefined },
    ),
  })
  .map(({ services, proxy, stack, detectLocalMode, viaConfigMap, release, noZoneHints, addresses, perNode, existing }) => {
    const clusterCIDR = stack === 'v4' ? '10.0.0.0/8' : stack === 'v6' ? 'fd00:10::/64' : '10.0.0.0/8,fd00:10::/64'
    const { zone: _zone, localDetector: _ld, ...cluster } = proxy
    const items: Obj[] = [...nodeObjects(stack, addresses), ...services.flatMap((s, i) => objects(s, i))]
    const detectLocal = { bridgeInterface: 'cbr0', interfaceNamePrefix: 'veth' }
    const settings: Obj = { ...cluster, clusterCIDR, detectLocalMode, detectLocal }
    let envProxy: Obj = settings
    if (viaConfigMap) {
      const conf = [
        'apiVersion: kubeproxy.config.k8s.io/v1alpha1',
        'kind: KubeProxyConfiguration',
        `clusterCIDR: ${clusterCIDR}`,
        `detectLocalMode: ${detectLocalMode}`,
        'detectLocal:',
        '  bridgeInterface: cbr0',
        '  interfaceNamePrefix: veth',
        `nodePortAddresses: ${JSON.stringify((cluster.nodePortAddresses as string[] | undefined) ?? null)}`,
        'iptables:',
        `  masqueradeAll: ${String(cluster.masqueradeAll ?? false)}`,
        `  masqueradeBit: ${String(cluster.masqueradeBit ?? 14)}`,
        `  localhostNodePorts: ${String(cluster.localhostNodePorts ?? true)}`,
        'mode: iptables',
        ...(noZoneHints && release !== undefined && Number(release.split('.')[1]) < 33
          ? ['featureGates:', '  TopologyAwareHints: false', '  SomeKubeletGate: true']
          : []),
      ].join('\n')
      items.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kube-proxy', namespace: 'kube-system' }, data: { 'config.conf': conf } })
      envProxy = { nfacct: cluster.nfacct, masqueradeRandomFully: cluster.masqueradeRandomFully, conntrackTCPBeLiberal: cluster.conntrackTCPBeLiberal }
    }
    if (release !== undefined) envProxy = { ...envProxy, kubeProxyVersion: release }
    if (perNode) envProxy = { ...envProxy, nodes: { [perNode.node]: { masqueradeAll: perNode.masqueradeAll } } }
    if (existing) {
      const nodes = (envProxy.nodes ?? {}) as Record<string, Obj>
      envProxy = { ...envProxy, nodes: { ...nodes, [existing.node]: { ...nodes[existing.node], existingChains: existing.chains } } }
    }
    return { proxy: envProxy, resources: { apiVersion: 'v1', kind: 'List', items } }
  })

export { NODES }
