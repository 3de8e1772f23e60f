/**
 * What `natplan push|diff|trace|drift` print against a real app on 127.0.0.1: the human summary
 * and tables carry the counts of the server's own answer (read in the same test), `--json` and
 * `-o json` print that answer, `-o yaml` parses to it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse } from 'yaml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestApp, uniqueName, type TestApp } from '../api/helpers.js'
import { ensureBuilt, natplan, ROOT } from './helpers.js'

const fixture = readFileSync(`${ROOT}test/fixtures/cluster/three-nodes.json`, 'utf8')

/** Version 2 of the fixture's cluster: a Service in a namespace of its own, and one more web endpoint. */
function secondVersion(): Record<string, any> {
  const list = JSON.parse(fixture)
  list.items.push(
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'checkout', namespace: 'pay' },
      spec: {
        type: 'ClusterIP',
        clusterIP: '10.96.40.40',
        clusterIPs: ['10.96.40.40'],
        ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }],
      },
    },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'checkout-1', namespace: 'pay', labels: { 'kubernetes.io/service-name': 'checkout' } },
      addressType: 'IPv4',
      ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
      endpoints: [{ addresses: ['10.244.0.40'], conditions: { ready: true }, nodeName: 'worker-a' }],
    },
  )
  list.items
    .find((o: any) => o.kind === 'EndpointSlice' && o.metadata.name === 'web-x7k2p')
    .endpoints.push({
      addresses: ['10.244.2.9'],
      conditions: { ready: true },
      nodeName: 'worker-c',
    })
  return list
}

let t: TestApp
let url: string
let dir: string
const cluster = uniqueName('output')
const server = () => ['--url', url, '--cluster', cluster]

async function get(path: string): Promise<any> {
  const res = await t.app.inject({ method: 'GET', url: path })
  expect(res.statusCode, res.body).toBe(200)
  return res.json()
}

beforeAll(async () => {
  ensureBuilt()
  t = await startTestApp()
  url = await t.app.listen({ host: '127.0.0.1', port: 0 })
  dir = mkdtempSync(join(tmpdir(), 'natplan-output-'))
})
afterAll(async () => {
  await t?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('natplan push', () => {
  it('summarises the version it created, then what changed since the one before', async () => {
    const first = await natplan(['push', ...server(), '-'], fixture)
    expect(first.code, first.stderr).toBe(0)
    const v1 = await get(`/v1/clusters/${cluster}/versions/1`)
    const c = v1.counts
    const lines = first.stdout.split('\n')
    expect(lines[0]).toBe(
      `${cluster}: version 1 created: ${c.services} services (${c.servicePorts} ports), ${c.endpoints} endpoints, ${c.nodes.count} nodes (${c.nodes.variants} distinct plans)`,
    )
    const nat = c.families.IPv4.nat
    expect(first.stdout).toContain(`IPv4 on its first node: nat ${nat.rules} rules in ${nat.chains} chains`)
    expect(first.stdout).toContain(`script ${c.scriptBytes.toLocaleString('en-US')} bytes`)
    expect(first.stdout).not.toContain('changed since')

    const second = await natplan(['push', ...server()], JSON.stringify(secondVersion()))
    expect(second.code, second.stderr).toBe(0)
    expect(second.stdout).toContain(`${cluster}: version 2 created`)
    // The counts are of the first node, and so is the diff.
    const nodes = await get(`/v1/clusters/${cluster}/versions/2/nodes`)
    const node = nodes.items[0].name
    const d = await get(`/v1/clusters/${cluster}/diff?from=1&to=2&fromNode=${node}&toNode=${node}`)
    const s = d.summary
    expect(s.servicesAdded).toBe(1)
    expect(second.stdout).toContain(`changed since version 1 (${node}): services ${s.servicesAdded} added, ${s.servicesChanged} changed;`)
    expect(second.stdout).toContain(`rules ${s.rulesAdded} added`)

    const again = await natplan(['push', ...server()], JSON.stringify(secondVersion()))
    expect(again.stdout).toBe(`${cluster}: unchanged, identical to version 2 (nothing stored)\n`)
  })

  it('prints the server answer with --json and -o json, and as YAML with -o yaml', async () => {
    const answers = []
    for (const flags of [['--json'], ['-o', 'json'], ['-o', 'yaml']]) {
      const r = await natplan(['push', ...server(), ...flags], JSON.stringify(secondVersion()))
      expect(r.code, r.stderr).toBe(0)
      answers.push(flags.includes('yaml') ? parse(r.stdout) : JSON.parse(r.stdout))
    }
    // The same push once more, straight to the app: the answer the CLI printed.
    const res = await t.app.inject({ method: 'POST', url: `/v1/clusters/${cluster}/snapshots`, payload: secondVersion() })
    expect(res.statusCode).toBe(200)
    for (const a of answers) expect(a).toEqual(res.json())
  })

  it('prints warnings on stderr and counts them in the summary', async () => {
    const list = JSON.parse(fixture)
    list.items.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'shop' } })
    const name = uniqueName('warn')
    const r = await natplan(['push', '--url', url, '--cluster', name], JSON.stringify(list))
    expect(r.code, r.stderr).toBe(0)
    const v = await get(`/v1/clusters/${name}/versions/1`)
    for (const w of v.warnings) expect(r.stderr).toContain(`natplan: warning: ${w.code}: ${w.message}`)
    if (v.warnings.length > 0) expect(r.stdout).toContain(`${v.warnings.length} warning`)
    if (v.counts.ignoredObjects > 0) expect(r.stdout).toContain(`${v.counts.ignoredObjects} object`)
  })
})

describe('natplan diff', () => {
  it('prints the summary, one row per changed Service and the unified diff', async () => {
    const r = await natplan(['diff', ...server(), '--node', 'worker-a', '1', '2'])
    expect(r.code, r.stderr).toBe(0)
    const d = await get(`/v1/clusters/${cluster}/diff?from=1&to=2&fromNode=worker-a&toNode=worker-a`)
    expect(r.stdout.split('\n')[0]).toMatch(new RegExp(`^${cluster}: version 1 → 2 \\(worker-a\\): services ${d.summary.servicesAdded} added`))
    const rows = r.stdout.split('\n').filter((l) => /^(shop|pay)\//.test(l))
    expect(rows).toHaveLength(d.families[0].services.filter((s: any) => /^(shop|pay)\//.test(s.service)).length)
    for (const s of d.families[0].services) {
      const row = r.stdout.split('\n').find((l) => l.startsWith(`${s.service} `))
      expect(row, s.service).toBeDefined()
      expect(row!.split(/\s{3,}/)).toEqual([s.service, s.protocol ?? '<none>', s.change, String(s.rulesAdded), String(s.rulesRemoved)])
    }
    const unified = await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/diff?from=1&to=2&fromNode=worker-a&toNode=worker-a&format=unified` })
    expect(r.stdout.endsWith(unified.body)).toBe(true)
  })

  it('shows one namespace with -n, and two nodes of one version with --from-node/--to-node', async () => {
    const r = await natplan(['diff', ...server(), '--node', 'worker-a', '-n', 'pay', '1', 'latest'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^pay\/checkout:http\s/m)
    expect(r.stdout).not.toMatch(/^shop\//m)
    expect(r.stdout).not.toContain('@@')
    const nodes = await natplan(['diff', ...server(), '--from-node', 'worker-a', '--to-node', 'worker-b', '2', '--json'])
    expect(nodes.code, nodes.stderr).toBe(0)
    expect(JSON.parse(nodes.stdout)).toEqual(await get(`/v1/clusters/${cluster}/diff?from=2&to=2&fromNode=worker-a&toNode=worker-b`))
  })

  it('prints the JSON answer with --json, and as YAML with -o yaml', async () => {
    const d = await get(`/v1/clusters/${cluster}/diff?from=1&to=2&fromNode=worker-b&toNode=worker-b`)
    const json = await natplan(['diff', ...server(), '--node', 'worker-b', '--json', '1', '2'])
    expect(JSON.parse(json.stdout)).toEqual(d)
    const yaml = await natplan(['diff', ...server(), '--node', 'worker-b', '-o', 'yaml', '1', '2'])
    expect(parse(yaml.stdout)).toEqual(d)
  })

  it('passes the server’s refusal on with exit 1, and a bad version with exit 2', async () => {
    const many = await natplan(['diff', ...server(), '1', '2'])
    expect(many.code).toBe(1)
    expect(many.stderr).toMatch(/^natplan: 400/)
    const bad = await natplan(['diff', ...server(), 'one', '2'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('FROM must be a version number')
  })
})

describe('natplan trace', () => {
  const traceArgs = () => ['trace', ...server(), '--node', 'worker-a', '--dst', '10.96.40.40', '--dport', '80']

  it('prints the rules matched chain by chain and the endpoints reached', async () => {
    const r = await natplan(traceArgs())
    expect(r.code, r.stderr).toBe(0)
    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/clusters/${cluster}/versions/latest/nodes/worker-a/trace`,
      payload: { source: '203.0.113.1', destination: '10.96.40.40', port: 80, protocol: 'tcp' },
    })
    const answer = res.json()
    expect(answer.verdict).toBe('DNAT')
    const lines = r.stdout.split('\n')
    expect(lines[0]).toBe(
      `${cluster}: version 2 (worker-a), IPv4 tcp 203.0.113.1 → 10.96.40.40:80: ${answer.verdict}${answer.masqueraded ? ', masqueraded' : ''}`,
    )
    expect(lines[1]).toMatch(/^TABLE\s+CHAIN\s+RULE$/)
    answer.rulesMatched.forEach((m: any, i: number) => expect(lines[2 + i]!.split(/\s{3,}/)).toEqual([m.table, m.chain, m.rule]))
    for (const e of answer.endpoints) expect(r.stdout).toMatch(new RegExp(`^${e.endpoint.replace(/\./g, '\\.')}\\s+${(e.probability * 100).toFixed(1)}%$`, 'm'))
  })

  it('prints the answer with -o json and -o yaml; usage errors exit 2', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/clusters/${cluster}/versions/latest/nodes/worker-a/trace`,
      payload: { source: '10.244.1.1', destination: '10.96.40.40', port: 80, protocol: 'tcp' },
    })
    const json = await natplan([...traceArgs(), '--src', '10.244.1.1', '-o', 'json'])
    expect(JSON.parse(json.stdout)).toEqual(res.json())
    const yaml = await natplan([...traceArgs(), '--src', '10.244.1.1', '-o', 'yaml'])
    expect(parse(yaml.stdout)).toEqual(res.json())
    expect((await natplan(['trace', ...server(), '--dst', '10.96.40.40', '--dport', '99999'])).code).toBe(2)
    expect((await natplan(['trace', ...server(), '--dport', '80'])).code).toBe(2)
  })
})

describe('natplan drift', () => {
  it("prints a node's findings as a table, and the answer with --json", async () => {
    // The node's rules as kube-proxy wrote them for version 1: version 2 added a Service.
    const script = await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/versions/1/nodes/worker-a/restore-script` })
    const save = join(dir, 'worker-a.save')
    writeFileSync(save, script.body)
    const r = await natplan(['drift', ...server(), '--node', 'worker-a', save])
    expect(r.code, r.stderr).toBe(0)
    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/clusters/${cluster}/versions/latest/nodes/worker-a/drift`,
      headers: { 'content-type': 'text/plain' },
      payload: script.body,
    })
    const d = res.json()
    expect(d.inSync).toBe(false)
    expect(r.stdout.split('\n')[0]).toMatch(new RegExp(`^${cluster}: version 2 \\(worker-a\\), IPv4: drifted: `))
    if (d.summary.missingChains > 0) expect(r.stdout).toContain(`${d.summary.missingChains} missing chain`)
    const rows = r.stdout.split('\n').filter((l) => /^(nat|filter)\s/.test(l))
    const chains = (['nat', 'filter'] as const).flatMap((tb) => [...d.tables[tb].staleChains, ...d.tables[tb].missingChains, ...d.tables[tb].changedChains])
    expect(rows).toHaveLength(chains.length)
    for (const c of d.tables.nat.missingChains)
      expect(r.stdout).toMatch(new RegExp(`^nat\\s+${c.chain}\\s+${c.service ?? '<none>'}\\s+missing\\s+0\\s+${c.rules}$`, 'm'))

    const json = await natplan(['drift', ...server(), '--node', 'worker-a', '--json', '-'], script.body)
    expect(JSON.parse(json.stdout)).toEqual(d)
    const yaml = await natplan(['drift', ...server(), '--node', 'worker-a', '-o', 'yaml', save])
    expect(parse(yaml.stdout)).toEqual(d)
  })

  it('says in sync for the rules of the version itself, and narrows to a namespace with -n', async () => {
    const script = await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/versions/2/nodes/worker-a/restore-script` })
    const r = await natplan(['drift', ...server(), '--node', 'worker-a', '--version', '2', '-'], script.body)
    expect(r.stdout).toBe(`${cluster}: version 2 (worker-a), IPv4: in sync\n`)
    const old = await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/versions/1/nodes/worker-a/restore-script` })
    const pay = await natplan(['drift', ...server(), '--node', 'worker-a', '-n', 'pay', '-'], old.body)
    const rows = pay.stdout.split('\n').filter((l) => /^(nat|filter)\s/.test(l))
    expect(rows.length).toBeGreaterThan(0)
    for (const row of rows) expect(row).toMatch(/\spay\/checkout:http\s/)
  })
})
