/**
 * PROOF on the real kernel, both backends, for the fidelity rules: the node's current chains (a
 * second full sync with `existingChains` read from the node's own iptables-save, applied with
 * `--noflush` as kube-proxy applies it, leaves exactly the new plan: the stale service chains are
 * gone, the node's own chains untouched), the interface detectors (`-i BR`, `-i PREFIX+` load and
 * read back as planned), and "which kube-proxy wrote this" on a real dump (a node whose detector
 * differs is one settings finding).
 */
import { expect, it } from 'vitest'
import { plan, renderRestore, toEnvelope, type FamilyPlan } from '../../src/planner/index.js'
import { drift } from '../../src/planner/analysis/index.js'
import { existingChainsFromSave } from '../../src/planner/analysis/save.js'
import { kernelDescribe } from '../kernel/gate.js'
import { BACKENDS, nfacctAdd, nsExecOk, restore, save, withNetns } from '../kernel/netns.js'

const { describe } = await kernelDescribe('test/kernel-analysis/fidelity.test.ts', { nfacct: true })

const service = (name: string, ip: string, type = 'ClusterIP') => ({
  kind: 'Service',
  metadata: { name, namespace: 'ns1' },
  spec: {
    type,
    clusterIP: ip,
    ...(type === 'NodePort' ? { externalTrafficPolicy: 'Local' } : {}),
    ports: [{ name: 'p80', port: 80, protocol: 'TCP', ...(type === 'NodePort' ? { nodePort: 30080 } : {}) }],
  },
})
const slice = (svc: string, ips: string[]) => ({
  kind: 'EndpointSlice',
  metadata: { name: `${svc}-1`, namespace: 'ns1', labels: { 'kubernetes.io/service-name': svc } },
  addressType: 'IPv4',
  endpoints: ips.map((ip, i) => ({ addresses: [ip], ...(i === 0 ? { nodeName: 'test-node' } : {}) })),
  ports: [{ name: 'p80', port: 80, protocol: 'TCP' }],
})
const base = { nodeName: 'test-node', nodeIPs: ['192.168.0.2'], clusterCIDR: '10.0.0.0/8' }
const v1 = [
  service('svc1', '172.30.0.41', 'NodePort'),
  slice('svc1', ['10.0.1.1', '10.0.1.2']),
  service('svc2', '172.30.0.42'),
  slice('svc2', ['10.0.2.1', '10.0.2.2']),
]
const v2 = [service('svc1', '172.30.0.41', 'NodePort'), slice('svc1', ['10.0.1.1', '10.0.1.3'])]

function familyPlan(resources: unknown[], proxy: Record<string, unknown> = {}): FamilyPlan {
  const r = toEnvelope({ proxy: { ...base, ...proxy }, resources })
  if (!r.ok) throw new Error(JSON.stringify(r.issues))
  return plan(r.envelope).families[0]!
}

describe('fidelity on the real kernel', () => {
  for (const backend of BACKENDS) {
    it(`a full sync deletes the stale service chains the node's iptables-save shows (${backend})`, async () => {
      await withNetns(`fid-stale-${backend}`, async (ns) => {
        await nfacctAdd(ns)
        await restore(ns, backend, renderRestore(familyPlan(v1)))
        // A chain kube-proxy does not own, which the cleanup must leave alone.
        await nsExecOk(ns, `iptables-${backend}`, ['-w', '5', '-t', 'nat', '-N', 'CNI-HOSTPORT-DNAT'])
        const before = await save(ns, backend, { table: 'nat' })
        const next = familyPlan(v2, { existingChains: existingChainsFromSave(before) })
        const text = renderRestore(next)
        expect(text).toMatch(/^-X KUBE-SVC-/m)
        await restore(ns, backend, text, { noflush: true })
        const after = await save(ns, backend)
        const report = drift(next, after)
        expect(report.summary).toMatchObject({ staleChains: 0, missingChains: 0, changedChains: 0, settingsMismatches: 0 })
        expect(report.inSync).toBe(true)
        expect(after).toContain(':CNI-HOSTPORT-DNAT - [0:0]')
        const svc2 = before.split('\n').filter((l) => l.startsWith(':KUBE-') && !after.includes(l.split(' ')[0]!))
        expect(svc2.length).toBe(4) // svc2's SVC and two SEPs, svc1's replaced SEP
      })
    })

    for (const [mode, detectLocal, word] of [
      ['BridgeInterface', { bridgeInterface: 'cbr0' }, '! -i cbr0'],
      ['InterfaceNamePrefix', { interfaceNamePrefix: 'veth' }, '! -i veth+'],
    ] as const) {
      it(`the ${mode} detector loads, reads back as planned, and shows as one setting against a ClusterCIDR plan (${backend})`, async () => {
        await withNetns(`fid-${mode}-${backend}`, async (ns) => {
          await nfacctAdd(ns)
          const fp = familyPlan(v1, { detectLocalMode: mode, detectLocal })
          await restore(ns, backend, renderRestore(fp))
          const dump = await save(ns, backend)
          expect(dump).toContain(word)
          expect(drift(fp, dump).inSync).toBe(true)
          const told = drift(familyPlan(v1), dump)
          expect(told.settings.mismatches.map((m) => m.setting)).toEqual(['localDetector'])
          expect(told.summary).toMatchObject({ changedChains: 0, staleChains: 0, missingChains: 0 })
        })
      })
    }
  }
})
