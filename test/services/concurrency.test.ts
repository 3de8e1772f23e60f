/**
 * Concurrent ingests over real HTTP: 50 identical POSTs of one snapshot to one cluster all
 * succeed with one version (one 201, the rest 200 with the same version); 50 different
 * snapshots to one cluster queue and all land, numbered without gaps, while reads of another
 * cluster keep being answered.
 */
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateSnapshot } from '../../src/planner/testing/generate.js'
import { startTestApp, uniqueName, type TestApp } from '../api/helpers.js'

let t: TestApp
let base: string

beforeAll(async () => {
  t = await startTestApp()
  base = await t.app.listen({ host: '127.0.0.1', port: 0 })
})
afterAll(async () => {
  await t?.close()
})

const post = (cluster: string, body: string) =>
  fetch(`${base}/v1/clusters/${cluster}/snapshots`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then(async (r) => ({
    status: r.status,
    body: (await r.json()) as { version: { version: number } },
  }))

describe('concurrent ingests', () => {
  it('50 identical POSTs: one version, every answer a success naming it', async () => {
    const cluster = uniqueName('same')
    const body = JSON.stringify(generateSnapshot({ services: 200, endpointsPerService: 5 }))
    const answers = await Promise.all(Array.from({ length: 50 }, () => post(cluster, body)))
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1)
    expect(answers.filter((a) => a.status === 200)).toHaveLength(49)
    expect(new Set(answers.map((a) => a.body.version.version))).toEqual(new Set([1]))
  })

  it('50 different POSTs to one cluster queue and all land, while another cluster is read', async () => {
    const cluster = uniqueName('queue')
    const other = uniqueName('reads')
    expect((await post(other, JSON.stringify(generateSnapshot({ services: 20 })))).status).toBe(201)
    const bodies = Array.from({ length: 50 }, (_, i) => JSON.stringify(generateSnapshot({ services: 100, endpointsPerService: 3, churn: 0.05, round: i })))
    let reads = 0
    let readFailures = 0
    let writing = true
    const reader = (async () => {
      while (writing) {
        const r = await fetch(`${base}/v1/clusters/${other}/versions/latest/restore-script`)
        await r.arrayBuffer()
        if (r.status === 200) reads++
        else readFailures++
      }
    })()
    const answers = await Promise.all(bodies.map((b) => post(cluster, b)))
    writing = false
    await reader
    expect(answers.map((a) => a.status)).toEqual(Array(50).fill(201))
    expect(answers.map((a) => a.body.version.version).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
    expect(readFailures).toBe(0)
    expect(reads).toBeGreaterThan(0)
  })
})

describe('dedupe by meaning', () => {
  it('is the same version for the same objects in another order and equivalent settings', async () => {
    const cluster = uniqueName('meaning')
    const env = generateSnapshot({ services: 30, endpointsPerService: 2 }) as unknown as { proxy: Record<string, unknown>; resources: { items: unknown[] } }
    env.proxy.clusterCIDR = '10.128.0.0/9'
    const first = await post(cluster, JSON.stringify(env))
    expect(first.status).toBe(201)
    const shuffled = { proxy: { ...env.proxy, clusterCIDR: ['10.128.0.0/9'] }, resources: { ...env.resources, items: [...env.resources.items].reverse() } }
    const again = await post(cluster, JSON.stringify(shuffled))
    expect(again.status).toBe(200)
    expect(again.body.version.version).toBe(1)
    const renamed = { ...shuffled, proxy: { ...shuffled.proxy, detectLocalMode: env.proxy.localDetector, localDetector: undefined } }
    expect((await post(cluster, JSON.stringify(renamed))).status).toBe(200)
  })

  it("is the same version after the kubelets' heartbeats, and a new one when a node's address changes", async () => {
    const cluster = uniqueName('heartbeat')
    const snapshot = JSON.parse(readFileSync(new URL('../fixtures/cluster/three-nodes.json', import.meta.url), 'utf8'))
    const beat = (at: string, rv: string, address?: string) => {
      const copy = structuredClone(snapshot)
      for (const item of copy.items ?? copy.resources.items) {
        if (item.kind !== 'Node') continue
        item.metadata.resourceVersion = rv
        item.status = { ...item.status, conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: at, lastTransitionTime: '2026-12-01T00:00:00Z' }] }
        if (address && item.metadata.name === 'worker-a') item.status.addresses = [{ type: 'InternalIP', address }]
      }
      return JSON.stringify(copy)
    }
    expect((await post(cluster, beat('2026-12-03T10:00:00Z', '100'))).status).toBe(201)
    const later = await post(cluster, beat('2026-12-03T10:05:00Z', '200'))
    expect(later.status).toBe(200)
    expect(later.body.version.version).toBe(1)
    const moved = await post(cluster, beat('2026-12-03T10:10:00Z', '300', '192.168.50.99'))
    expect(moved.status).toBe(201)
    expect(moved.body.version.version).toBe(2)
  })
})
