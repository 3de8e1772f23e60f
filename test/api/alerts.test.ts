/**
 * The gauges alerts need, per cluster and per node (the age of the newest snapshot, KUBE-SERVICES
 * length, script bytes), from a real three-node snapshot; and deploy/prometheus-rules.yaml: a
 * Prometheus rules file of the documented shape whose every expression names only metrics
 * /metrics exports, and whose thresholds fire on what they are meant for.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import YAML from 'yaml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fixture, fixtureCases, startTestApp, uniqueName, type TestApp } from './helpers.js'

const ROOT = new URL('../../', import.meta.url)
const snapshot = JSON.parse(readFileSync(new URL('test/fixtures/cluster/three-nodes.json', ROOT), 'utf8'))
let t: TestApp
const cluster = uniqueName('alerts')
let text: string
const drifts: Record<string, Record<string, number>> = {}
beforeAll(async () => {
  t = await startTestApp({ metricsAuth: 'none' })
  const before = Date.now() / 1000
  const res = await t.app.inject({ method: 'POST', url: `/v1/clusters/${cluster}/snapshots`, payload: snapshot })
  expect(res.statusCode).toBe(201)
  // Drift checks: worker-b against its own plan (in sync), worker-c against worker-b's (drifted).
  const base = `/v1/clusters/${cluster}/versions/1/nodes`
  const script = (await t.app.inject({ method: 'GET', url: `${base}/worker-b/restore-script` })).body
  for (const node of ['worker-b', 'worker-c']) {
    const res = await t.app.inject({ method: 'POST', url: `${base}/${node}/drift`, payload: script, headers: { 'content-type': 'text/plain' } })
    expect(res.statusCode).toBe(200)
    drifts[node] = res.json().summary
  }
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
      const whole = (await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/versions/1/nodes/${n.name}/restore-script` })).body
      expect(value('natplan_node_script_lines', labels)).toBe(whole.split('\n').length - 1)
    }
    expect(value('natplan_plan_script_bytes', `cluster="${cluster}"`)).toBeGreaterThan(0)
  })

  it('per cluster: script lines (every family) and the age of the newest snapshot', async () => {
    // One single-stack and one dual-stack case, each its own cluster: the gauge against the lines of the scripts served.
    const single = fixtureCases().find((n) => fixture(n).families.length === 1)!
    const dual = fixtureCases().find((n) => fixture(n).families.length === 2)!
    for (const name of [single, dual]) {
      const c = uniqueName('lines')
      expect((await t.app.inject({ method: 'POST', url: `/v1/clusters/${c}/snapshots`, payload: fixture(name).snapshot })).statusCode).toBe(201)
      let lines = 0
      for (const { family } of fixture(name).families) {
        const res = await t.app.inject({ method: 'GET', url: `/v1/clusters/${c}/versions/1/restore-script?family=${family}` })
        expect(res.statusCode, res.body).toBe(200)
        lines += res.body.split('\n').length - 1
      }
      const now = (await t.app.inject({ method: 'GET', url: '/metrics' })).body
      const m = new RegExp(`^natplan_plan_script_lines\\{cluster="${c}"\\} (\\S+)$`, 'm').exec(now)
      expect(Number(m?.[1]), name).toBe(lines)
    }
    const age = value('natplan_latest_version_age_seconds', `cluster="${cluster}"`)
    expect(age).toBeGreaterThanOrEqual(0)
    expect(age).toBeLessThan(600)
  })

  it("per node: the findings of the node's last drift check, by kind", () => {
    expect(Object.values(drifts['worker-b']!).every((n) => n === 0)).toBe(true)
    expect(Object.values(drifts['worker-c']!).some((n) => n > 0)).toBe(true)
    for (const node of ['worker-b', 'worker-c']) {
      const labels = `cluster="${cluster}",node="${node}",family="IPv4"`
      for (const [kind, n] of Object.entries(drifts[node]!)) expect(value('natplan_node_drift_findings', `${labels},kind="${kind}"`), kind).toBe(n)
      expect(value('natplan_node_drift_check_version', labels)).toBe(1)
      expect(value('natplan_node_drift_check_timestamp_seconds', labels)).toBeLessThanOrEqual(Date.now() / 1000 + 1)
    }
    expect(text).not.toMatch(new RegExp(`natplan_node_drift_findings\\{cluster="${cluster}",node="worker-a"`))
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

/**
 * promtool (Debian's prometheus package; scripts/promtool.sh unpacks it, .ci/run calls that)
 * checks the file as Prometheus loads it, and runs deploy/prometheus-rules.test.yaml: series in,
 * alerts and their rendered annotations out.
 */
describe('deploy/prometheus-rules.yaml under promtool', () => {
  const script = fileURLToPath(new URL('scripts/promtool.sh', ROOT))
  let promtool: string | null = null
  try {
    promtool = execFileSync('sh', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim()
  } catch (err) {
    console.warn(`skipping promtool checks: scripts/promtool.sh found no promtool (${(err as { stderr?: string }).stderr?.trim() ?? err})`)
  }
  const promtoolRun = (...args: string[]) => spawnSync(promtool!, args, { cwd: fileURLToPath(new URL('deploy/', ROOT)), encoding: 'utf8' })

  it.skipIf(promtool === null)('passes promtool check rules', () => {
    const r = promtoolRun('check', 'rules', 'prometheus-rules.yaml')
    expect(r.status, r.stdout + r.stderr).toBe(0)
  })

  it.skipIf(promtool === null)('fires as prometheus-rules.test.yaml expects (promtool test rules)', () => {
    const r = promtoolRun('test', 'rules', 'prometheus-rules.test.yaml')
    expect(r.status, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toContain('SUCCESS')
  })
})
