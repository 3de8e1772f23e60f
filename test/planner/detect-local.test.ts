/**
 * kube-proxy's four local-traffic detectors (pkg/proxy/util/localdetector.go): ClusterCIDR and
 * NodeCIDR match the source address (`-s CIDR` / `! -s CIDR`), BridgeInterface the input bridge
 * (`-i BR` / `! -i BR`), InterfaceNamePrefix input interfaces by prefix (`-i PREFIX+` /
 * `! -i PREFIX+`); each set from the ConfigMap's detectLocalMode and detectLocal or from the
 * envelope's proxy, and a detector without its parameter is refused naming the field.
 */
import { describe, expect, it } from 'vitest'
import { plan, renderRestore, toEnvelope } from '../../src/planner/index.js'
import { referenceRestore } from '../../src/planner/reference.js'

const svc = {
  kind: 'Service',
  metadata: { name: 'web', namespace: 'ns' },
  spec: { type: 'NodePort', clusterIP: '10.96.0.10', externalTrafficPolicy: 'Local', ports: [{ name: 'p80', port: 80, protocol: 'TCP', nodePort: 30080 }] },
}
const slice = {
  kind: 'EndpointSlice',
  metadata: { name: 'web-1', namespace: 'ns', labels: { 'kubernetes.io/service-name': 'web' } },
  addressType: 'IPv4',
  endpoints: [{ addresses: ['10.1.0.5'], nodeName: 'node-a' }],
  ports: [{ name: 'p80', port: 8080, protocol: 'TCP' }],
}
const configMap = (conf: string) => ({ kind: 'ConfigMap', metadata: { name: 'kube-proxy', namespace: 'kube-system' }, data: { 'config.conf': conf } })

function natLines(doc: unknown): string[] {
  const r = toEnvelope(doc)
  if (!r.ok) throw new Error(JSON.stringify(r.issues))
  const text = renderRestore(plan(r.envelope).families[0]!)
  expect(text).toBe(referenceRestore(r.envelope)[0]!.text)
  return text.split('\n').filter((l) => l.includes('KUBE-MARK-MASQ') || l.includes('pod traffic'))
}

describe('local-traffic detectors', () => {
  it('BridgeInterface writes -i BR and ! -i BR, from the envelope', () => {
    const lines = natLines({
      proxy: { nodeName: 'node-a', clusterCIDR: '10.0.0.0/8', detectLocalMode: 'BridgeInterface', detectLocal: { bridgeInterface: 'cbr0' } },
      resources: [svc, slice],
    })
    expect(lines.some((l) => l.startsWith('-A KUBE-SVC-') && l.endsWith('! -i cbr0 -j KUBE-MARK-MASQ'))).toBe(true)
    expect(lines.some((l) => l.includes('"pod traffic for ns/web:p80 external destinations" -i cbr0 -j KUBE-SVC-'))).toBe(true)
    expect(lines.join('\n')).not.toContain('-s 10.0.0.0/8')
  })

  it('InterfaceNamePrefix writes -i PREFIX+ and ! -i PREFIX+, from the ConfigMap', () => {
    const conf = 'kind: KubeProxyConfiguration\ndetectLocalMode: InterfaceNamePrefix\ndetectLocal:\n  bridgeInterface: ""\n  interfaceNamePrefix: veth\n'
    const lines = natLines({ proxy: { nodeName: 'node-a' }, resources: [svc, slice, configMap(conf)] })
    expect(lines.some((l) => l.endsWith('! -i veth+ -j KUBE-MARK-MASQ'))).toBe(true)
    expect(lines.some((l) => l.includes('external destinations" -i veth+ -j KUBE-SVC-'))).toBe(true)
  })

  it('the envelope gives the parameter a ConfigMap mode needs, and a query names it flat', () => {
    const conf = 'kind: KubeProxyConfiguration\ndetectLocalMode: BridgeInterface\n'
    const doc = { proxy: { nodeName: 'node-a', detectLocal: { bridgeInterface: 'br0' } }, resources: [svc, slice, configMap(conf)] }
    expect(natLines(doc).some((l) => l.endsWith('! -i br0 -j KUBE-MARK-MASQ'))).toBe(true)
    const r = toEnvelope({ proxy: { nodeName: 'node-a' }, resources: [svc, slice] }, { detectLocalMode: 'BridgeInterface', bridgeInterface: 'cni0' })
    expect(r.ok && r.envelope.proxy.detectLocal).toEqual({ bridgeInterface: 'cni0' })
  })

  it('IPv6 plans use the same interface detector', () => {
    const v6svc = { ...svc, spec: { ...svc.spec, clusterIP: 'fd00::10', ipFamilies: ['IPv6'] } }
    const v6slice = { ...slice, addressType: 'IPv6', endpoints: [{ addresses: ['fd00:1::5'], nodeName: 'node-a' }] }
    const lines = natLines({
      proxy: { nodeName: 'node-a', ipFamilies: ['IPv6'], detectLocalMode: 'InterfaceNamePrefix', detectLocal: { interfaceNamePrefix: 'cali' } },
      resources: [v6svc, v6slice],
    })
    expect(lines.some((l) => l.endsWith('! -i cali+ -j KUBE-MARK-MASQ'))).toBe(true)
  })

  it('a detector without its parameter is a 400 naming the field', () => {
    const a = toEnvelope({ proxy: { detectLocalMode: 'BridgeInterface' }, resources: [svc] })
    expect(a.ok).toBe(false)
    if (!a.ok)
      expect(a.issues).toEqual([
        expect.objectContaining({ pointer: '/proxy/detectLocal/bridgeInterface', detail: expect.stringContaining('detectLocal.bridgeInterface') }),
      ])
    const b = toEnvelope({ resources: [svc, configMap('kind: KubeProxyConfiguration\ndetectLocalMode: InterfaceNamePrefix\n')] })
    expect(b.ok).toBe(false)
    if (!b.ok) expect(b.issues[0]!.pointer).toBe('/resources/1/data/config.conf/detectLocal/interfaceNamePrefix')
    const c = toEnvelope({ proxy: { detectLocalMode: 'InterfaceNamePrefix', detectLocal: { interfaceNamePrefix: 'a b' } }, resources: [svc] })
    expect(c.ok).toBe(false)
    if (!c.ok) expect(c.issues[0]!.pointer).toBe('/proxy/detectLocal/interfaceNamePrefix')
    const d = toEnvelope({ proxy: { detectLocalMode: 'Bridge' }, resources: [svc] })
    expect(d.ok).toBe(false)
    if (!d.ok) expect(d.issues[0]!.detail).toContain('BridgeInterface, InterfaceNamePrefix')
  })

  // Upstream's getLocalDetectors cases (cmd/kube-proxy/app/server_linux_test.go, "LocalModeBridgeInterface"
  // and the InterfaceNamePrefix ones): one detector for both families; an empty name is an error.
  it("upstream's getLocalDetectors cases: bridge eth for both families, an empty name refused", () => {
    const dual = {
      proxy: { nodeName: 'node-a', clusterCIDR: '10.0.0.0/8,fd00:10::/64', detectLocalMode: 'BridgeInterface', detectLocal: { bridgeInterface: 'eth' } },
      resources: [svc, slice],
    }
    const r = toEnvelope(dual)
    if (!r.ok) throw new Error(JSON.stringify(r.issues))
    const fams = plan(r.envelope).families
    expect(fams.map((f) => f.family)).toEqual(['IPv4', 'IPv6'])
    const v4 = renderRestore(fams[0]!)
    expect(v4).toContain('! -i eth -j KUBE-MARK-MASQ')
    expect(referenceRestore(r.envelope).map((x) => x.text)).toEqual(fams.map((f) => renderRestore(f)))
    expect(toEnvelope({ proxy: { detectLocalMode: 'BridgeInterface', detectLocal: { bridgeInterface: '' } }, resources: [svc] }).ok).toBe(false)
    const prefix = toEnvelope({
      proxy: { nodeName: 'node-a', detectLocalMode: 'InterfaceNamePrefix', detectLocal: { interfaceNamePrefix: 'eth' } },
      resources: [svc, slice],
    })
    if (!prefix.ok) throw new Error('unreachable')
    expect(renderRestore(plan(prefix.envelope).families[0]!)).toContain('! -i eth+ -j KUBE-MARK-MASQ')
    // Upstream accepts "1234567890123456789" (19 characters) for a detector, but iptables refuses an
    // interface name longer than 15 (IFNAMSIZ), so the restore would fail on the node: natplan says so up front.
    const strange = toEnvelope({ proxy: { detectLocalMode: 'BridgeInterface', detectLocal: { bridgeInterface: '1234567890123456789' } }, resources: [svc] })
    expect(strange.ok).toBe(false)
  })
})
