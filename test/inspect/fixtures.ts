/**
 * Snapshots for the inspect tests, built in code so every address is known to the test:
 *   ins/web    172.30.5.10:80 -> 4 ready endpoints 10.181.{1..4}.2:8080 (a generated multi-endpoint service)
 *   ins/empty  172.30.5.11:80, no endpoints (REJECT)
 *   ins/local  LoadBalancer 172.30.5.12:80, NodePort 30090, externalTrafficPolicy Local, its only
 *              endpoint on another node (external traffic DROPped on this node)
 *   ins/drain  172.30.5.13:80, one endpoint serving but terminating (kube-proxy's fallback)
 * The node is `inspect-node` (10.254.0.1, the traffic rig's node address); nfacct off so the
 * script loads into a bare namespace.
 */
export const NODE = 'inspect-node'
export const WEB_IP = '172.30.5.10'
export const EMPTY_IP = '172.30.5.11'
export const LOCAL_IP = '172.30.5.12'
export const DRAIN_IP = '172.30.5.13'
export const WEB_PODS = ['10.181.1.2', '10.181.2.2', '10.181.3.2', '10.181.4.2']

function service(name: string, ip: string, extra: Record<string, unknown> = {}, port: Record<string, unknown> = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'ins' },
    spec: { type: 'ClusterIP', clusterIP: ip, clusterIPs: [ip], ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080, ...port }], ...extra },
  }
}

function slice(name: string, endpoints: Array<{ ip: string; node: string; ready?: boolean; serving?: boolean; terminating?: boolean }>) {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${name}-1`, namespace: 'ins', labels: { 'kubernetes.io/service-name': name } },
    addressType: 'IPv4',
    ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: { ready: e.ready ?? true, serving: e.serving ?? true, terminating: e.terminating ?? false },
      nodeName: e.node,
    })),
  }
}

export function inspectEnvelope(): Record<string, unknown> {
  return {
    proxy: {
      nodeName: NODE,
      nodeIPs: ['10.254.0.1'],
      clusterCIDR: '10.0.0.0/8',
      localDetector: 'ClusterCIDR',
      masqueradeBit: 14,
      masqueradeAll: false,
      localhostNodePorts: true,
      nfacct: false,
      masqueradeRandomFully: true,
      conntrackTCPBeLiberal: false,
    },
    resources: {
      apiVersion: 'v1',
      kind: 'List',
      items: [
        service('web', WEB_IP),
        slice(
          'web',
          WEB_PODS.map((ip, i) => ({ ip, node: i % 2 ? NODE : 'other-node' })),
        ),
        service('empty', EMPTY_IP),
        service('local', LOCAL_IP, { type: 'LoadBalancer', externalTrafficPolicy: 'Local' }, { nodePort: 30090 }),
        slice('local', [{ ip: '10.181.9.2', node: 'other-node' }]),
        service('drain', DRAIN_IP),
        slice('drain', [{ ip: '10.181.8.2', node: NODE, ready: false, serving: true, terminating: true }]),
      ],
    },
  }
}
