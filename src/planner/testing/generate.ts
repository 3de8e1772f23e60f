/**
 * Deterministic synthetic snapshots, shaped as `kubectl get services,endpointslices,nodes -A -o json`
 * prints them, for tests and benchmarks. Pure: no I/O, no clock, no Math.random.
 *
 * Churn: `round: k` with `churn: f` gives, for k = 1, 2, ..., a sequence of snapshots where each
 * round moves the endpoints of a deterministic ~f fraction of the services (new pod IPs), and
 * nothing else. `round: 0` (default) is the base snapshot.
 */
import type { Envelope, ProxyConfigInput } from '../kube/envelope.js'

export interface GenerateOptions {
  services: number
  /** default 3 */
  endpointsPerService?: number
  /** default 1; different seeds give different type mixes and churn subsets */
  seed?: number
  /** fraction of services whose endpoints change in each round (default 0) */
  churn?: number
  /** default 0 (base snapshot) */
  round?: number
  /** fraction of services of type NodePort (default 0) */
  nodePort?: number
  /** fraction of services of type LoadBalancer (default 0); they also get a node port */
  loadBalancer?: number
  /** fraction of LoadBalancer services with loadBalancerSourceRanges (default 0) */
  sourceRanges?: number
  /** fraction of services with ClientIP session affinity (default 0) */
  clientIPAffinity?: number
  /** fraction of NodePort/LoadBalancer services with externalTrafficPolicy: Local (default 0) */
  externalLocal?: number
  /** fraction of services with internalTrafficPolicy: Local (default 0) */
  internalLocal?: number
  /** fraction of services with one external IP (default 0) */
  externalIPs?: number
  /** fraction of endpoints that are not ready (default 0) */
  notReady?: number
  /** ports per service (default 1); extra ports are named p1, p2... */
  portsPerService?: number
  /** namespaces the services spread over (default 10) */
  namespaces?: number
  /** nodes the endpoints spread over (default 3); the planned node is `node-0` */
  nodes?: number
  /** include the Node objects (default true) */
  includeNodes?: boolean
  /** proxy settings merged over the generated ones */
  proxy?: ProxyConfigInput
}

/** A 32-bit integer hash (splitmix-like); `rand(...)` is uniform in [0, 1). */
function mix(...xs: number[]): number {
  let h = 0x9e3779b9
  for (const x of xs) {
    h ^= x | 0
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
    h ^= h >>> 16
  }
  return h >>> 0
}
const rand = (...xs: number[]): number => mix(...xs) / 0x100000000

function ipv4(base: number, offset: number): string {
  const n = (base + offset) >>> 0
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`
}
const CLUSTER_IP_BASE = (172 << 24) | (16 << 16) // 172.16.0.0/12
const POD_IP_BASE = (10 << 24) | (128 << 16) // 10.128.0.0/9
const POD_SPACE = 1 << 23
const LB_IP_BASE = (203 << 24) | (0 << 16) | (113 << 8) // documentation-ish range, wraps
const EXT_IP_BASE = (198 << 24) | (18 << 16) // 198.18.0.0/15

/** How many times service i has been churned in rounds 1..round. */
function generation(seed: number, i: number, churn: number, round: number): number {
  let g = 0
  if (churn <= 0) return 0
  for (let r = 1; r <= round; r++) if (rand(seed, i, r, 7) < churn) g++
  return g
}

type Kind = 'ClusterIP' | 'NodePort' | 'LoadBalancer'

interface Shape {
  type: Kind
  affinity: boolean
  eLocal: boolean
  iLocal: boolean
  extIP: boolean
  ranges: boolean
}

function shapeOf(o: Required<Omit<GenerateOptions, 'proxy'>>, i: number): Shape {
  const t = rand(o.seed, i, 1)
  const type: Kind = t < o.loadBalancer ? 'LoadBalancer' : t < o.loadBalancer + o.nodePort ? 'NodePort' : 'ClusterIP'
  return {
    type,
    affinity: rand(o.seed, i, 2) < o.clientIPAffinity,
    eLocal: type !== 'ClusterIP' && rand(o.seed, i, 3) < o.externalLocal,
    iLocal: rand(o.seed, i, 4) < o.internalLocal,
    extIP: rand(o.seed, i, 5) < o.externalIPs,
    ranges: type === 'LoadBalancer' && rand(o.seed, i, 6) < o.sourceRanges,
  }
}

function serviceObject(o: Required<Omit<GenerateOptions, 'proxy'>>, i: number, s: Shape): Record<string, unknown> {
  const ns = `ns-${i % o.namespaces}`
  const name = `svc-${i}`
  const ports = Array.from({ length: o.portsPerService }, (_, p) => {
    const port: Record<string, unknown> = { name: p === 0 ? 'http' : `p${p}`, port: 80 + p, protocol: 'TCP', targetPort: 8080 + p }
    if (s.type !== 'ClusterIP') port.nodePort = 30000 + ((i * o.portsPerService + p) % 2768)
    return port
  })
  const clusterIP = ipv4(CLUSTER_IP_BASE, i + 1)
  const spec: Record<string, unknown> = {
    clusterIP,
    clusterIPs: [clusterIP],
    internalTrafficPolicy: s.iLocal ? 'Local' : 'Cluster',
    ipFamilies: ['IPv4'],
    ipFamilyPolicy: 'SingleStack',
    ports,
    selector: { app: name },
    sessionAffinity: s.affinity ? 'ClientIP' : 'None',
    type: s.type,
  }
  if (s.affinity) spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: 10800 } }
  if (s.type !== 'ClusterIP') spec.externalTrafficPolicy = s.eLocal ? 'Local' : 'Cluster'
  if (s.type === 'LoadBalancer') {
    spec.allocateLoadBalancerNodePorts = true
    if (s.eLocal) spec.healthCheckNodePort = 32000 + (i % 767)
    if (s.ranges) spec.loadBalancerSourceRanges = ['192.0.2.0/24', `198.51.100.${i % 256}/32`]
  }
  if (s.extIP) spec.externalIPs = [ipv4(EXT_IP_BASE, i + 1)]
  const status = s.type === 'LoadBalancer' ? { loadBalancer: { ingress: [{ ip: ipv4(LB_IP_BASE, i + 1), ipMode: 'VIP' }] } } : { loadBalancer: {} }
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name,
      namespace: ns,
      uid: `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`,
      resourceVersion: String(1000 + i),
      labels: { app: name },
    },
    spec,
    status,
  }
}

function sliceObjects(o: Required<Omit<GenerateOptions, 'proxy'>>, i: number, gen: number): Record<string, unknown>[] {
  const ns = `ns-${i % o.namespaces}`
  const name = `svc-${i}`
  const E = o.endpointsPerService
  const endpoints = Array.from({ length: E }, (_, j) => {
    const podIndex = (i * E + j + gen * 104729 * (E + 1)) % POD_SPACE
    const ready = rand(o.seed, i, j, gen, 9) >= o.notReady
    return {
      addresses: [ipv4(POD_IP_BASE, podIndex)],
      conditions: { ready, serving: ready, terminating: false },
      nodeName: `node-${(i + j) % o.nodes}`,
      targetRef: { kind: 'Pod', name: `${name}-${gen}-${j}`, namespace: ns },
    }
  })
  const ports = Array.from({ length: o.portsPerService }, (_, p) => ({ name: p === 0 ? 'http' : `p${p}`, port: 8080 + p, protocol: 'TCP' }))
  // The EndpointSlice controller caps a slice at 100 endpoints.
  const out: Record<string, unknown>[] = []
  for (let k = 0; k * 100 < Math.max(E, 1); k++) {
    out.push({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: `${name}-${mix(o.seed, i, k).toString(36).slice(0, 5)}`,
        namespace: ns,
        generateName: `${name}-`,
        labels: { 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io', 'kubernetes.io/service-name': name },
        ownerReferences: [
          {
            apiVersion: 'v1',
            kind: 'Service',
            name,
            controller: true,
            blockOwnerDeletion: true,
            uid: `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`,
          },
        ],
      },
      addressType: 'IPv4',
      endpoints: endpoints.slice(k * 100, k * 100 + 100),
      ports,
    })
  }
  return out
}

function nodeObject(n: number): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: `node-${n}`, labels: { 'kubernetes.io/hostname': `node-${n}`, 'topology.kubernetes.io/zone': `zone-${n % 3}` } },
    // A /24 of the cluster CIDR (10.128.0.0/9) per node, as the node IPAM controller hands out.
    spec: { podCIDR: `10.${128 + (n >> 8)}.${n & 255}.0/24`, podCIDRs: [`10.${128 + (n >> 8)}.${n & 255}.0/24`] },
    status: {
      addresses: [
        { type: 'InternalIP', address: ipv4((192 << 24) | (168 << 16), n + 2) },
        { type: 'Hostname', address: `node-${n}` },
      ],
    },
  }
}

export function generateSnapshot(opts: GenerateOptions): Envelope {
  const o: Required<Omit<GenerateOptions, 'proxy'>> = {
    endpointsPerService: 3,
    seed: 1,
    churn: 0,
    round: 0,
    nodePort: 0,
    loadBalancer: 0,
    sourceRanges: 0,
    clientIPAffinity: 0,
    externalLocal: 0,
    internalLocal: 0,
    externalIPs: 0,
    notReady: 0,
    portsPerService: 1,
    namespaces: 10,
    nodes: 3,
    includeNodes: true,
    ...opts,
  }
  const items: Record<string, unknown>[] = []
  if (o.includeNodes) for (let n = 0; n < o.nodes; n++) items.push(nodeObject(n))
  for (let i = 0; i < o.services; i++) items.push(serviceObject(o, i, shapeOf(o, i)))
  for (let i = 0; i < o.services; i++) items.push(...sliceObjects(o, i, generation(o.seed, i, o.churn, o.round)))
  const proxy: ProxyConfigInput = {
    nodeName: 'node-0',
    nodeIPs: ['192.168.0.2'],
    clusterCIDR: '10.128.0.0/9',
    localDetector: 'ClusterCIDR',
    masqueradeBit: 14,
    masqueradeAll: false,
    nodePortAddresses: [],
    localhostNodePorts: true,
    nfacct: true,
    masqueradeRandomFully: true,
    conntrackTCPBeLiberal: false,
    zone: 'zone-0',
    ...opts.proxy,
  }
  return { proxy, resources: { apiVersion: 'v1', kind: 'List', items: items as Envelope['resources']['items'] } }
}
