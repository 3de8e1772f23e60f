/**
 * Every node of a cluster from one snapshot, over HTTP: a kubectl List of three Nodes, the
 * kubeadm kube-proxy ConfigMap and Services with Local traffic policies becomes one version whose
 * every node has its own plan, served under /nodes/{node}/ byte for byte as the reference planner
 * writes that node's.
 */
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toEnvelope } from '../../src/planner/index.js'
import { referenceRestore } from '../../src/planner/reference.js'
import { startTestApp, uniqueName, type TestApp } from './helpers.js'

const doc = JSON.parse(readFileSync(new URL('../fixtures/cluster/three-nodes.json', import.meta.url), 'utf8')) as { items: Array<Record<string, unknown>> }
let t: TestApp
const cluster = uniqueName('nodes')
const base = `/v1/clusters/${cluster}/versions/1`
const get = (url: string) => t.app.inject({ method: 'GET', url })

beforeAll(async () => {
  t = await startTestApp()
})
afterAll(async () => {
  await t?.close()
})

describe('a version plans every node', () => {
  it('ingests the snapshot and lists what it had to guess', async () => {
    const res = await t.app.inject({ method: 'POST', url: `/v1/clusters/${cluster}/snapshots`, payload: doc })
    expect(res.statusCode).toBe(201)
    // clusterCIDR comes from the ConfigMap; what no snapshot can hold is listed as defaulted.
    expect(res.json().version.counts.nodes).toEqual({
      count: 3,
      variants: 3,
      defaultNode: null,
      defaulted: ['nfacct', 'masqueradeRandomFully', 'conntrackTCPBeLiberal', 'kubeProxyVersion'],
    })
    expect(res.json().version.warnings).toEqual([])
  })

  it('lists the nodes with their variant, plan sha256 and counts', async () => {
    const res = await get(`${base}/nodes`)
    expect(res.statusCode).toBe(200)
    const list = res.json()
    expect(list).toMatchObject({ cluster, version: 1, defaultNode: null, variants: 3 })
    expect(list.items.map((n: { name: string }) => n.name)).toEqual(['worker-a', 'worker-b', 'worker-c'])
    for (const n of list.items) {
      expect(n.planSha256).toMatch(/^[0-9a-f]{64}$/)
      expect(n.counts.families.IPv4.nat.rules).toBeGreaterThan(10)
      expect(n.links.restoreScript).toBe(`${base}/nodes/${n.name}/restore-script`)
    }
    expect(new Set(list.items.map((n: { planSha256: string }) => n.planSha256)).size).toBe(3)
  })

  it("serves each node's restore script as the reference plans that node", async () => {
    const r = toEnvelope(doc)
    if (!r.ok) throw new Error(JSON.stringify(r.issues))
    for (const node of ['worker-a', 'worker-b', 'worker-c']) {
      const res = await get(`${base}/nodes/${node}/restore-script`)
      expect(res.statusCode).toBe(200)
      expect(res.headers['content-disposition']).toContain(`-v1-${node}.rules`)
      expect(res.body).toBe(referenceRestore(r.envelope, node)[0]!.text)
      const plan = await get(`${base}/nodes/${node}/plan`)
      expect(plan.statusCode).toBe(200)
    }
    // worker-c has no local endpoint of the Local services: DROP there, DNAT on worker-a.
    const c = (await get(`${base}/nodes/worker-c/restore-script`)).body
    expect(c).toContain('"shop/web:http has no local endpoints"')
    expect(c).toContain('"shop/cache:http has no local endpoints"')
    const a = (await get(`${base}/nodes/worker-a/restore-script`)).body
    expect(a).not.toContain('has no local endpoints')
    expect(a).toContain('-A KUBE-SVL-')
  })

  it('answers 400 naming the choice on the one-node routes, 404 for an unknown node', async () => {
    for (const path of ['restore-script', 'plan']) {
      const res = await get(`${base}/${path}`)
      expect(res.statusCode).toBe(400)
      expect(res.headers['content-type']).toContain('application/problem+json')
      expect(res.json().detail).toContain(`${base}/nodes`)
      expect(res.json().errors[0].pointer).toBe('/node')
    }
    const missing = await get(`${base}/nodes/worker-z/restore-script`)
    expect(missing.statusCode).toBe(404)
    expect(missing.headers['content-type']).toContain('application/problem+json')
    expect(missing.json().detail).toContain('worker-z')
    expect((await get(`${base}/nodes/Not_A_Node/plan`)).statusCode).toBe(400)
  })

  it('serves the one-node routes when the settings name the node', async () => {
    const named = uniqueName('nodes-named')
    const res = await t.app.inject({ method: 'POST', url: `/v1/clusters/${named}/snapshots?nodeName=worker-b`, payload: doc })
    expect(res.statusCode).toBe(201)
    expect(res.json().version.counts.nodes.defaultNode).toBe('worker-b')
    const one = await get(`/v1/clusters/${named}/versions/1/restore-script`)
    expect(one.statusCode).toBe(200)
    expect(one.body).toBe((await get(`/v1/clusters/${named}/versions/1/nodes/worker-b/restore-script`)).body)
  })

  it('refuses a kube-proxy ConfigMap whose config.conf does not parse, pointing at it', async () => {
    const bad = structuredClone(doc)
    ;(bad.items[0]!.data as Record<string, string>)['config.conf'] = 'clusterCIDR: [unclosed'
    const res = await t.app.inject({ method: 'POST', url: `/v1/clusters/${uniqueName('nodes-bad')}/snapshots`, payload: bad })
    expect(res.statusCode).toBe(400)
    expect(res.json().errors[0].pointer).toBe('/items/0/data/config.conf')
  })

  it('traces, checks drift and reports cleanup per node', async () => {
    // NodePort 30080 of the eTP Local service: delivered locally on worker-a, dropped on worker-c.
    const packet = { source: '203.0.113.9', destination: '192.168.50.11', port: 30080, protocol: 'tcp' }
    const a = await t.app.inject({ method: 'POST', url: `${base}/nodes/worker-a/trace`, payload: packet })
    expect(a.statusCode).toBe(200)
    expect(a.json().nodeAddresses).toEqual(['192.168.50.11'])
    expect(a.json().endpoints.map((e: { endpoint: string }) => e.endpoint)).toEqual(['10.244.0.5:8080'])
    const c = await t.app.inject({ method: 'POST', url: `${base}/nodes/worker-c/trace`, payload: { ...packet, destination: '192.168.50.13' } })
    expect(c.statusCode).toBe(200)
    expect(c.json().verdict).toBe('DROP')
    expect((await t.app.inject({ method: 'POST', url: `${base}/trace`, payload: packet })).statusCode).toBe(400)

    const script = (await get(`${base}/nodes/worker-b/restore-script`)).body
    const same = await t.app.inject({ method: 'POST', url: `${base}/nodes/worker-b/drift`, payload: script, headers: { 'content-type': 'text/plain' } })
    expect(same.statusCode).toBe(200)
    expect(same.json().inSync).toBe(true)
    const other = await t.app.inject({ method: 'POST', url: `${base}/nodes/worker-c/drift`, payload: script, headers: { 'content-type': 'text/plain' } })
    expect(other.json().inSync).toBe(false)

    const cleanup = await get(`${base}/nodes/worker-c/cleanup`)
    expect(cleanup.statusCode).toBe(200)
    expect(cleanup.json().summary['no-local-endpoints']).toBeGreaterThan(0)
    expect((await get(`${base}/nodes/worker-a/cleanup`)).json().summary['no-local-endpoints']).toBe(0)
  })

  it('diffs two nodes of one version, and one node across versions', async () => {
    const d = await get(`/v1/clusters/${cluster}/diff?from=1&to=1&fromNode=worker-a&toNode=worker-c`)
    expect(d.statusCode).toBe(200)
    expect(d.json()).toMatchObject({ from: 1, to: 1, fromNode: 'worker-a', toNode: 'worker-c', identical: false })
    expect(
      d
        .json()
        .families[0].services.map((s: { service: string }) => s.service)
        .sort(),
    ).toEqual(['shop/cache:http', 'shop/web:http'])
    const u = await get(`/v1/clusters/${cluster}/diff?from=1&to=1&fromNode=worker-a&toNode=worker-c&format=unified`)
    expect(u.statusCode).toBe(200)
    expect(u.body).toContain('has no local endpoints')
    // Version 2: worker-c gets a local endpoint of web; worker-a's plan does not change.
    const next = structuredClone(doc)
    const web = next.items.find((o) => o.kind === 'EndpointSlice' && (o.metadata as { name: string }).name.startsWith('web'))!
    ;(web.endpoints as unknown[]).push({ addresses: ['10.244.2.8'], conditions: { ready: true }, nodeName: 'worker-c' })
    expect((await t.app.inject({ method: 'POST', url: `/v1/clusters/${cluster}/snapshots`, payload: next })).statusCode).toBe(201)
    const c = await get(`/v1/clusters/${cluster}/diff?from=1&to=2&fromNode=worker-c&toNode=worker-c`)
    expect(c.json().identical).toBe(false)
    const restore = await get(`/v1/clusters/${cluster}/diff?from=1&to=2&fromNode=worker-c&toNode=worker-c&format=restore`)
    expect(restore.statusCode).toBe(200)
    expect(restore.body).toContain('10.244.2.8:8080')
    expect((await get(`/v1/clusters/${cluster}/diff?from=1&to=2`)).statusCode).toBe(400)
    expect((await get(`/v1/clusters/${cluster}/diff?from=1&to=2&fromNode=worker-z&toNode=worker-a`)).statusCode).toBe(404)
  })

  it("GraphQL has the same: counts.nodes, the nodes of a version and one node's restore script", async () => {
    const query = `query($c: String!) { cluster(name: $c) { version(ref: "1") {
      counts { nodes { count variants defaultNode defaulted } }
      nodes { name variant planSha256 plan { scriptBytes } }
      node(name: "worker-c") { name restoreScript(table: "nat") }
      missing: node(name: "worker-z") { name }
    } } }`
    const res = await t.app.inject({ method: 'POST', url: '/graphql', payload: { query, variables: { c: cluster } } })
    expect(res.statusCode).toBe(200)
    const v = res.json().data.cluster.version
    expect(v.counts.nodes).toMatchObject({ count: 3, variants: 3, defaultNode: null })
    const rest = (await get(`${base}/nodes`)).json()
    expect(v.nodes.map((n: { name: string; planSha256: string }) => [n.name, n.planSha256])).toEqual(
      rest.items.map((n: { name: string; planSha256: string }) => [n.name, n.planSha256]),
    )
    expect(v.node.restoreScript).toBe((await get(`${base}/nodes/worker-c/restore-script?table=nat`)).body)
    expect(v.missing).toBeNull()
  })

  it('GraphQL diffs two nodes of one version', async () => {
    const query = `query($c: String!) { diff(cluster: $c, from: "1", to: "1", fromNode: "worker-a", toNode: "worker-c") { fromNode toNode identical unified } }`
    const res = await t.app.inject({ method: 'POST', url: '/graphql', payload: { query, variables: { c: cluster } } })
    const d = res.json().data.diff
    expect(d).toMatchObject({ fromNode: 'worker-a', toNode: 'worker-c', identical: false })
    expect(d.unified).toBe((await get(`/v1/clusters/${cluster}/diff?from=1&to=1&fromNode=worker-a&toNode=worker-c&format=unified`)).body)
  })

  it('has growth per node and the spread across nodes', async () => {
    const res = await get(`/v1/clusters/${cluster}/growth/nodes?node=worker-c`)
    expect(res.statusCode).toBe(200)
    const g = res.json()
    expect(g.points.map((p: { version: number }) => p.version)).toEqual([1, 2])
    const [v1, v2] = g.points
    expect(v1).toMatchObject({ nodes: 3, variants: 3 })
    expect(v1.natRules.min).toBeLessThan(v1.natRules.max)
    // worker-c gained a local endpoint of web in version 2: more rules there.
    expect(v2.node.natRules).toBeGreaterThan(v1.node.natRules)
    const list = (await get(`${base}/nodes`)).json()
    const c = list.items.find((n: { name: string }) => n.name === 'worker-c')
    expect(v1.node).toMatchObject({ variant: c.variant, natRules: c.counts.families.IPv4.nat.rules, scriptBytes: c.counts.scriptBytes })
    expect((await get(`/v1/clusters/${cluster}/growth/nodes?node=Bad_Name`)).statusCode).toBe(400)
  })

  it('carries every node through a rollback, a backup and its import', async () => {
    const post = (url: string, payload: Record<string, unknown>) => t.app.inject({ method: 'POST', url, payload })
    expect((await post(`/v1/clusters/${cluster}/rollbacks`, { toVersion: 1, reason: 'test' })).statusCode).toBe(201)
    const g = (await get(`/v1/clusters/${cluster}/growth/nodes?node=worker-c`)).json()
    expect(g.points.map((p: { version: number }) => p.version)).toEqual([1, 2, 3])
    expect(g.points[2].node).toEqual(g.points[0].node)
    expect((await get(`/v1/clusters/${cluster}/versions/3/nodes`)).json().items).toEqual(
      (await get(`${base}/nodes`)).json().items.map((n: { links: Record<string, string> }) => ({ ...n, links: expect.any(Object) })),
    )

    const backup = await post(`/v1/clusters/${cluster}/backups`, { note: 'nodes' })
    expect(backup.statusCode).toBe(201)
    const archive = (await get(`/v1/backups/${backup.json().id}/download`)).rawPayload
    const copy = uniqueName('nodes-import')
    const imported = await t.app.inject({
      method: 'POST',
      url: `/v1/backups/import?cluster=${copy}`,
      payload: archive,
      headers: { 'content-type': 'application/gzip' },
    })
    expect(imported.statusCode).toBe(201)
    const v1 = (await get(`/v1/clusters/${copy}/versions/1`)).json()
    expect(v1.counts.nodes).toMatchObject({ count: 3, variants: 3, defaultNode: null })
    const nodesOf = async (c: string) =>
      (await get(`/v1/clusters/${c}/versions/1/nodes`)).json().items.map((n: { name: string; planSha256: string }) => [n.name, n.planSha256])
    expect(await nodesOf(copy)).toEqual(await nodesOf(cluster))
    expect((await get(`/v1/clusters/${copy}/growth/nodes`)).json().points).toHaveLength(3)
  })

  it('GraphQL traces per node and has growth per node', async () => {
    const query = `query($c: String!) {
      trace(cluster: $c, version: "1", node: "worker-c", packet: { source: "203.0.113.9", destination: "192.168.50.13", port: 30080 }) { verdict }
      growthNodes(cluster: $c, node: "worker-a")
    }`
    const res = await t.app.inject({ method: 'POST', url: '/graphql', payload: { query, variables: { c: cluster } } })
    expect(res.json().data.trace.verdict).toBe('DROP')
    expect(res.json().data.growthNodes).toEqual((await get(`/v1/clusters/${cluster}/growth/nodes?node=worker-a`)).json())
  })
})
