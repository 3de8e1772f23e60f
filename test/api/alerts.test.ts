/**
 * The gauges alerts need, per cluster and per node (the age of the newest snapshot, KUBE-SERVICES
 * length, script bytes), from a real three-node snapshot; and deploy/prometheus-rules.yaml: a
 * Prometheus rules file of the documented shape whose every expression names only metrics
 * /metrics exports, and whose thresholds fire on what they are meant for.
 */
import { readFileSync } from 'node:fs'
import YAML from 'yaml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestApp, uniqueName, type TestApp } from './helpers.js'

const ROOT = new URL('../../', import.meta.url)
const snapshot = JSON.parse(readFileSync(new URL('test/fixtures/cluster/three-nodes.json', ROOT), 'utf8'))
let t: TestApp
const cluster = uniqueName('alerts')
let text: string
beforeAll(async () => {
  t = await startTestApp({ metricsAuth: 'none' })
  const before = Date.now() / 1000
  const res = await t.app.inject({ method: 'POST', url: `/v1/clusters/${cluster}/snapshots`, payload: snapshot })
  expect(res.statusCode).toBe(201)
  text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body
  const at = Number(new RegExp(`^natplan_latest_version_timestamp_seconds\\{cluster="${cluster}"\\} (\\S+)$`, 'm').exec(text)?.[1])
  expect(at).toBeGreaterThanOrEqual(Math.floor(before) - 1)
  expect(at).toBeLessThanOrEqual(Date.now() / 1000 + 1)
})
afterAll(async () => t?.close())

const value = (metric: string, labels: string): number => {
  const m = new RegExp(`^${metric}\\{${labels.replace(/[{}]/g, '\\$&')}\\} (\\S+)$`, 'm').exec(text)
  if (!m) throw new Error(`no ${metric}{${labels}} in /metrics`)
  return Number(m[1])
}

describe('alert gauges', () => {
  it('per node: KUBE-SERVICES rules, script bytes and rules per table, as the node views count them', async () => {
    const nodes = (await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/versions/1/nodes` })).json()
    expect(value('natplan_plan_nodes', `cluster="${cluster}"`)).toBe(nodes.items.length)
    for (const n of nodes.items as Array<{ name: string; counts: { scriptBytes: number; families: { IPv4: { nat: { rules: number } } } } }>) {
      const labels = `cluster="${cluster}",node="${n.name}"`
      expect(value('natplan_node_script_bytes', labels)).toBe(n.counts.scriptBytes)
      expect(value('natplan_node_rules', `${labels},table="nat"`)).toBe(n.counts.families.IPv4.nat.rules)
      const script = (await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/versions/1/nodes/${n.name}/restore-script?table=nat` })).body
      // nat KUBE-SERVICES, its last rule (the jump to KUBE-NODEPORTS) included.
      const kubeServices = script.split('\n').filter((l) => l.startsWith('-A KUBE-SERVICES ')).length
      expect(value('natplan_node_kube_services_rules', labels)).toBe(kubeServices)
    }
    expect(value('natplan_plan_script_bytes', `cluster="${cluster}"`)).toBeGreaterThan(0)
  })
})

describe('deploy/prometheus-rules.yaml', () => {
  const doc = YAML.parse(readFileSync(new URL('deploy/prometheus-rules.yaml', ROOT), 'utf8')) as {
    groups: Array<{ name: string; rules: Array<Record<string, unknown>> }>
  }

  it('has the shape of a Prometheus rules file', () => {
    expect(doc.groups.length).toBeGreaterThan(0)
    const names = new Set<string>()
    for (const g of doc.groups) {
      expect(typeof g.name).toBe('string')
      for (const r of g.rules) {
        expect(
          Object.keys(r).every((k) => ['alert', 'expr', 'for', 'labels', 'annotations', 'keep_firing_for'].includes(k)),
          JSON.stringify(r),
        ).toBe(true)
        expect(r.alert).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/)
        expect(names.has(r.alert as string), `${r.alert} twice`).toBe(false)
        names.add(r.alert as string)
        expect(typeof r.expr).toBe('string')
        if (r.for !== undefined) expect(r.for).toMatch(/^\d+[smhdwy]$/)
        expect((r.labels as Record<string, string>).severity).toMatch(/^(info|warning|critical)$/)
        expect(typeof (r.annotations as Record<string, string>).summary).toBe('string')
      }
    }
    expect([...names]).toEqual(expect.arrayContaining(['NatplanNoSnapshot', 'NatplanKubeServicesLong', 'NatplanDatabaseDown']))
  })

  it('names only metrics /metrics exports', () => {
    const exported = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!))
    for (const g of doc.groups) {
      for (const r of g.rules) {
        const used = [...(r.expr as string).matchAll(/\bnatplan_[a-z0-9_]+/g)].map((m) => m[0])
        expect(used.length, r.alert as string).toBeGreaterThan(0)
        for (const m of used) expect(exported, `${r.alert}: ${m}`).toContain(m)
      }
    }
  })
})
