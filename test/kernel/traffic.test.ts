/**
 * Real packets through a planned ruleset. The snapshot (fixtures/traffic.json) has three
 * services in namespace `kt` backed by the same three pods (10.180.{1,2,3}.2):
 *   web    172.30.1.10:80 -> :8080, NodePort 30080, no affinity
 *   sticky 172.30.1.11:80 -> :8081, sessionAffinity ClientIP
 *   empty  172.30.1.12:80, no endpoints
 * It is planned and rendered in the standalone flavour (which carries the jumps from the
 * built-in chains, including the filter ones that make the REJECT reachable) and loaded into the
 * node namespace of a traffic rig, once per backend. The snapshot says `nfacct: false` (a node
 * without nfacct counters) so the script loads on a bare namespace: iptables-restore cannot
 * create nfacct objects, and the rules that count into them fail to load without them.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { kernelDescribe } from './gate.js'
import { BACKENDS, RIG, TrafficRig, uniformShare } from './netns.js'
import { planFile } from './plans.js'

const { describe } = await kernelDescribe('test/kernel/traffic.test.ts')

const PODS = ['10.180.1.2', '10.180.2.2', '10.180.3.2']
const WEB = PODS.map((p) => `${p}:8080`)
const STICKY = PODS.map((p) => `${p}:8081`)
// Several client identities for affinity: 12 sources make "all pinned to the same pod" a
// 3·(1/3)^12 ≈ 6e-6 event, so the spread assertion below does not flake.
const AFFINITY_SOURCES = Array.from({ length: 12 }, (_, i) => `10.99.0.${10 + i}`)
const OFF_CLUSTER = '192.168.77.2'

function standaloneScript(): string {
  const families = planFile(join(import.meta.dirname, 'fixtures', 'traffic.json'), 'standalone')
  expect(families.map((f) => f.family)).toEqual([4])
  return families[0]!.text
}

for (const backend of BACKENDS) {
  describe(`traffic through a planned ruleset (${backend})`, () => {
    const rig = new TrafficRig({
      backend,
      label: `t${backend[0]}`,
      endpoints: PODS.flatMap((ip) => [
        { ip, port: 8080 },
        { ip, port: 8081 },
      ]),
      clientSources: [...AFFINITY_SOURCES, OFF_CLUSTER],
    })

    beforeAll(async () => {
      await rig.start()
      // A bare node: no nfacct objects, flush mode, exactly what the standalone flavour promises.
      await rig.apply(standaloneScript())
    })
    afterAll(() => rig.close())

    it('spreads a 3-endpoint ClusterIP service uniformly (±4.5σ, N=300)', async () => {
      const n = 300
      const r = await rig.connect({ host: '172.30.1.10', port: 80, count: n })
      const share = uniformShare(r.counts, WEB, n)
      expect(share.ok, share.report).toBe(true)
      // From inside the cluster CIDR: not masqueraded, the pod sees the real client.
      expect(new Set(r.answers.map((a) => a.peer))).toEqual(new Set([RIG.clientIP]))
    })

    it('pins each client source IP to one endpoint with ClientIP affinity', async () => {
      const r = await rig.connect({ host: '172.30.1.11', port: 80, count: 8, sources: AFFINITY_SOURCES })
      const pinned = new Set<string>()
      for (const src of AFFINITY_SOURCES) {
        const answers = Object.keys(r.bySource[src] ?? {})
        expect(answers, `${src}: ${JSON.stringify(r.bySource[src])}`).toHaveLength(1)
        expect(STICKY).toContain(answers[0])
        expect(r.bySource[src]![answers[0]!]).toBe(8)
        pinned.add(answers[0]!)
      }
      // Affinity, not a broken split that always picks one endpoint.
      expect(pinned.size).toBeGreaterThan(1)
    })

    it('refuses connections to a service without endpoints (filter REJECT)', async () => {
      const r = await rig.connect({ host: '172.30.1.12', port: 80, count: 3 })
      expect(r.counts).toEqual({ 'ERR:ECONNREFUSED': 3 })
    })

    it('masquerades traffic from outside the cluster CIDR', async () => {
      const r = await rig.connect({ host: '172.30.1.10', port: 80, count: 20, sources: [OFF_CLUSTER] })
      for (const a of r.answers) {
        expect(WEB).toContain(a.answer)
        expect(a.peer).toBe(RIG.podGateway)
      }
    })

    it('forwards a NodePort on the node address, masqueraded (externalTrafficPolicy Cluster)', async () => {
      const r = await rig.connect({ host: RIG.nodeIP, port: 30080, count: 30 })
      for (const a of r.answers) {
        expect(WEB).toContain(a.answer)
        expect(a.peer).toBe(RIG.podGateway)
      }
      expect(Object.keys(r.counts).length).toBeGreaterThan(1)
    })

    it('reaches the service from the node itself (nat OUTPUT path)', async () => {
      const r = await rig.connect({ host: '172.30.1.10', port: 80, count: 30, fromNode: true })
      expect(Object.keys(r.counts).every((a) => WEB.includes(a))).toBe(true)
      expect(Object.keys(r.counts).length).toBeGreaterThan(1)
    })
  })
}
