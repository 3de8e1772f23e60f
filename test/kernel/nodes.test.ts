/**
 * Every node of one snapshot, on the real kernel. fixtures/three-nodes.json has three Nodes and
 * pods 10.180.{1,2,3}.2 on node-a, node-b and node-c:
 *   local-np   NodePort 30081, externalTrafficPolicy Local, endpoints on node-a and node-b
 *   local-cip  172.30.2.11:80, internalTrafficPolicy Local, one endpoint on node-a
 *   cluster-np NodePort 30082, externalTrafficPolicy Cluster, an endpoint on every node
 * Each node's standalone script (from one planCluster) is loaded into a rig's node namespace in
 * turn, with every pod reachable from it as over a pod network. The client (10.254.0.2) is
 * outside the cluster CIDR, so to a NodePort it is external traffic: kube-proxy delivers it to
 * the node's own endpoints only, and DROPs it on a node that has none (the client times out).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { planCluster, nodePlan, renderRestore } from '../../src/planner/index.js'
import { kernelDescribe } from './gate.js'
import { BACKENDS, RIG, TrafficRig } from './netns.js'
import { envelopeOf } from './plans.js'

const { describe } = await kernelDescribe('test/kernel/nodes.test.ts')

const cp = planCluster(envelopeOf(JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'three-nodes.json'), 'utf8'))))
const script = (node: string): string => renderRestore(nodePlan(cp, node)!.families[0]!, { flavour: 'standalone' })

/** What a client sees on each node: the endpoints that answer, or TIMEOUT where the node DROPs. */
const EXPECTED: Record<string, { localNodePort: string[]; localClusterIP: string[] }> = {
  'node-a': { localNodePort: ['10.180.1.2:8080'], localClusterIP: ['10.180.1.2:8081'] },
  'node-b': { localNodePort: ['10.180.2.2:8080'], localClusterIP: ['TIMEOUT'] },
  'node-c': { localNodePort: ['TIMEOUT'], localClusterIP: ['TIMEOUT'] },
}

for (const backend of BACKENDS) {
  describe(`every node of a snapshot on the real kernel (${backend})`, () => {
    const rig = new TrafficRig({
      backend,
      label: `nd${backend[0]}`,
      endpoints: [
        { ip: '10.180.1.2', port: 8080 },
        { ip: '10.180.1.2', port: 8081 },
        { ip: '10.180.2.2', port: 8080 },
        { ip: '10.180.3.2', port: 8080 },
      ],
    })
    beforeAll(() => rig.start())
    afterAll(() => rig.close())

    it('plans three distinct nodes', () => {
      expect(cp.nodes.map((n) => n.name)).toEqual(['node-a', 'node-b', 'node-c'])
      expect(cp.variants).toHaveLength(3)
    })

    for (const node of Object.keys(EXPECTED)) {
      it(`${node}: Local traffic reaches only the node's own endpoints, and is dropped where it has none`, async () => {
        await rig.apply(script(node))
        const np = await rig.connect({ host: RIG.nodeIP, port: 30081, count: 6, timeoutMs: 400 })
        expect(Object.keys(np.counts).sort(), JSON.stringify(np.counts)).toEqual(EXPECTED[node]!.localNodePort)
        // No masquerade for externalTrafficPolicy Local: the pod sees the client.
        for (const a of np.answers) if (a.answer !== 'TIMEOUT') expect(a.peer).toBe(RIG.clientIP)
        const cip = await rig.connect({ host: '172.30.2.11', port: 80, count: 6, timeoutMs: 400 })
        expect(Object.keys(cip.counts).sort(), JSON.stringify(cip.counts)).toEqual(EXPECTED[node]!.localClusterIP)
        // externalTrafficPolicy Cluster: every node reaches every endpoint.
        const all = await rig.connect({ host: RIG.nodeIP, port: 30082, count: 40, timeoutMs: 1000 })
        expect(Object.keys(all.counts).sort(), JSON.stringify(all.counts)).toEqual(['10.180.1.2:8080', '10.180.2.2:8080', '10.180.3.2:8080'])
      })
    }
  })
}
