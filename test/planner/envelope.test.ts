/** Input validation: kubectl-shaped objects in, clear pointers out. */
import { describe, expect, it } from 'vitest'
import { plan, resolveNodes, toEnvelope } from '../../src/planner/index.js'
import { unvalidatedEnvelope } from './arbitraries.js'

const kubectlService = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: {
    name: 'web',
    namespace: 'shop',
    uid: 'f3b2',
    resourceVersion: '123',
    creationTimestamp: '2024-01-01T00:00:00Z',
    annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
    managedFields: [{ manager: 'kubectl-client-side-apply', operation: 'Update', apiVersion: 'v1', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': {} } }],
  },
  spec: {
    clusterIP: '10.96.0.10',
    clusterIPs: ['10.96.0.10'],
    ipFamilies: ['IPv4'],
    ipFamilyPolicy: 'SingleStack',
    ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 'http' }],
    selector: { app: 'web' },
    sessionAffinity: 'None',
    type: 'ClusterIP',
    internalTrafficPolicy: 'Cluster',
    someFutureField: { x: 1 },
  },
  status: { loadBalancer: {} },
}
const kubectlSlice = {
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name: 'web-abcde', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' }, managedFields: [{ manager: 'kube-controller-manager' }] },
  addressType: 'IPv4',
  endpoints: [
    {
      addresses: ['10.244.1.5'],
      conditions: { ready: true, serving: true, terminating: false },
      nodeName: 'node-a',
      targetRef: { kind: 'Pod', name: 'web-1' },
    },
  ],
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
}
const node = {
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name: 'node-a', labels: { 'topology.kubernetes.io/zone': 'z1' } },
  status: {
    addresses: [
      { type: 'InternalIP', address: '192.168.0.7' },
      { type: 'Hostname', address: 'node-a' },
    ],
  },
}
const list = {
  apiVersion: 'v1',
  kind: 'List',
  metadata: { resourceVersion: '' },
  items: [kubectlService, kubectlSlice, node, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }],
}

describe('toEnvelope', () => {
  it('accepts a bare kubectl List, ignores managedFields and unknown fields, fills defaults from the Node', () => {
    const r = toEnvelope(list, { clusterCIDR: '10.244.0.0/16' })
    expect(r.ok).toBe(true)
    if (!r.ok) return
    expect(r.envelope.proxy).toEqual({ clusterCIDR: ['10.244.0.0/16'] })
    const resolved = resolveNodes(r.envelope)
    expect(resolved.defaultNode).toBe('node-a')
    expect(resolved.nodes).toEqual([
      expect.objectContaining({
        nodeName: 'node-a',
        nodeIPs: ['192.168.0.7'],
        zone: 'z1',
        masqueradeBit: 14,
        localhostNodePorts: true,
        nfacct: { ct_state_invalid_dropped_pkts: true, localhost_nps_accepted_pkts: true },
        masqueradeRandomFully: true,
      }),
    ])
    const svc = r.envelope.resources.items[0] as unknown as { metadata: Record<string, unknown>; spec: Record<string, unknown> }
    expect(svc.metadata.managedFields).toBeUndefined()
    expect(svc.spec.someFutureField).toEqual({ x: 1 })
    const p = plan(r.envelope)
    expect(p.counts).toEqual({ services: 1, servicePorts: 1, endpoints: 1, ignoredObjects: 1 })
    expect(p.warnings.map((w) => w.code)).toEqual(['unknown-kind'])
  })

  it('accepts an envelope, a single object and an array of documents (multi-doc YAML)', () => {
    expect(toEnvelope({ proxy: { nodeName: 'n' }, resources: list }).ok).toBe(true)
    expect(toEnvelope(kubectlService).ok).toBe(true)
    expect(toEnvelope([kubectlService, null, { kind: 'List', items: [kubectlSlice] }]).ok).toBe(true)
  })

  it('points into the original document: envelope', () => {
    const bad = structuredClone(kubectlService)
    bad.spec.ports[0]!.port = 70000
    const r = toEnvelope({ proxy: {}, resources: { kind: 'List', items: [kubectlSlice, bad] } })
    expect(r).toEqual({ ok: false, issues: [{ pointer: '/resources/items/1/spec/ports/0/port', detail: expect.stringContaining('between 1 and 65535') }] })
  })

  it('points into the original document: bare List, array, nested List', () => {
    const bad = structuredClone(kubectlSlice) as Record<string, unknown>
    ;(bad.ports as { protocol: string }[])[0]!.protocol = 'ICMP'
    const r1 = toEnvelope({ kind: 'List', items: [bad] })
    expect(!r1.ok && r1.issues[0]).toEqual({ pointer: '/items/0/ports/0/protocol', detail: expect.stringContaining('TCP, UDP or SCTP') })
    const r2 = toEnvelope([kubectlService, { kind: 'List', items: [bad] }])
    expect(!r2.ok && r2.issues[0]!.pointer).toBe('/1/items/0/ports/0/protocol')
  })

  it('rejects a missing metadata.name, a bad proxy field, and a non-object', () => {
    const noName = { ...kubectlService, metadata: { namespace: 'x' } }
    const r = toEnvelope({ proxy: { masqueradeBit: 40, bogus: 1 }, resources: { items: [noName] } })
    expect(r.ok).toBe(false)
    if (r.ok) return
    const pointers = r.issues.map((i) => i.pointer)
    expect(pointers).toContain('/resources/items/0/metadata/name')
    expect(pointers).toContain('/proxy/masqueradeBit')
    expect(pointers).toContain('/proxy')
    expect(toEnvelope('hello')).toEqual({ ok: false, issues: [{ pointer: '', detail: expect.any(String) }] })
  })

  it('coerces query-string overrides', () => {
    const r = toEnvelope(list, { masqueradeAll: 'true', masqueradeBit: '15', nodePortAddresses: 'primary' })
    expect(r.ok && r.envelope.proxy).toMatchObject({ masqueradeAll: true, masqueradeBit: 15, nodePortAddresses: ['primary'] })
  })

  it('refuses an IP the API server would refuse; the planner alone skips it with a warning, as kube-proxy does', () => {
    const svc = structuredClone(kubectlService) as typeof kubectlService & { spec: { externalIPs?: string[] } }
    svc.spec.externalIPs = ['not-an-ip', '192.168.9.9']
    const doc = { proxy: { nodeName: 'node-a' }, resources: { items: [svc, kubectlSlice] } }
    const r = toEnvelope(doc)
    expect(r).toEqual({ ok: false, issues: [{ pointer: '/resources/items/0/spec/externalIPs/0', detail: expect.stringContaining('valid IP address') }] })
    const p = plan(unvalidatedEnvelope(doc))
    expect(p.warnings).toContainEqual({ code: 'invalid-ip', message: expect.any(String), pointer: '/resources/items/0/spec/externalIPs/0' })
  })
})
