/**
 * `kubectl natplan` as kubectl runs it: the real bin/kubectl-natplan, spawned with a fake
 * `kubectl` first on PATH that prints recorded `kubectl get` output (the three-node fixture and
 * kube-proxy's ConfigMap) and records its arguments, against a real app on 127.0.0.1. Where a
 * real kubectl is installed, it also finds and runs the plugin (`kubectl plugin list`).
 */
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { parse } from 'yaml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestApp, uniqueName, type TestApp } from '../api/helpers.js'
import { ensureBuilt, KUBECTL_NATPLAN, ROOT, runProcess } from './helpers.js'

const fixture = JSON.parse(readFileSync(`${ROOT}test/fixtures/cluster/three-nodes.json`, 'utf8')) as { items: Array<{ kind: string }> }
/** What `kubectl get services,endpointslices,nodes -A -o json` prints for the fixture's cluster. */
const getList = JSON.stringify({ ...fixture, items: fixture.items.filter((o) => o.kind !== 'ConfigMap') }, null, 4) + '\n'
const configMap = readFileSync(`${ROOT}test/fixtures/cluster/kube-proxy-configmap.json`, 'utf8')

/**
 * The fake: `config current-context` prints $FAKE_CONTEXT, `get services,…` and `get configmap`
 * the recorded output (the API server unreachable when $FAKE_NO_SERVER is set, the ConfigMap
 * Forbidden when $FAKE_NO_CONFIGMAP is), as kubectl does;
 * every call's arguments appended to $FAKE_LOG, one JSON array a line.
 */
const FAKE_KUBECTL = `#!/usr/bin/env node
const { appendFileSync, readFileSync } = require('node:fs')
const args = process.argv.slice(2)
appendFileSync(process.env.FAKE_LOG, JSON.stringify(args) + '\\n')
const has = (word) => args.includes(word)
if (has('current-context')) {
  if (!process.env.FAKE_CONTEXT) { process.stderr.write('error: current-context is not set\\n'); process.exit(1) }
  process.stdout.write(process.env.FAKE_CONTEXT + '\\n')
} else if (has('services,endpointslices,nodes')) {
  if (process.env.FAKE_NO_SERVER) {
    process.stderr.write('The connection to the server 10.0.0.1:6443 was refused - did you specify the right host or port?\\n')
    process.exit(1)
  }
  process.stdout.write(readFileSync(process.env.FAKE_DIR + '/list.json'))
} else if (has('configmap')) {
  if (process.env.FAKE_NO_CONFIGMAP) {
    process.stderr.write('Error from server (Forbidden): configmaps "kube-proxy" is forbidden: User "sre" cannot get resource "configmaps" in API group "" in the namespace "kube-system"\\n')
    process.exit(1)
  }
  process.stdout.write(readFileSync(process.env.FAKE_DIR + '/configmap.json'))
} else {
  process.stderr.write('fake kubectl: unexpected ' + args.join(' ') + '\\n')
  process.exit(1)
}
`

let t: TestApp
let url: string
let fake: string
let log: string
let n = 0

beforeAll(async () => {
  ensureBuilt()
  t = await startTestApp()
  url = await t.app.listen({ host: '127.0.0.1', port: 0 })
  fake = mkdtempSync(join(tmpdir(), 'natplan-kubectl-'))
  writeFileSync(join(fake, 'list.json'), getList)
  writeFileSync(join(fake, 'configmap.json'), configMap)
  writeFileSync(join(fake, 'kubectl'), FAKE_KUBECTL)
  chmodSync(join(fake, 'kubectl'), 0o755)
})
afterAll(async () => {
  await t?.close()
  if (fake) rmSync(fake, { recursive: true, force: true })
})

/** kubectl-natplan ARGS with the fake kubectl first on PATH; returns the kubectl calls it made too. */
async function plugin(args: string[], env: NodeJS.ProcessEnv = {}, stdin = '') {
  log = join(fake, `calls-${++n}.log`)
  writeFileSync(log, '')
  const r = await runProcess(KUBECTL_NATPLAN, args, stdin, {
    PATH: `${fake}${delimiter}${process.env.PATH}`,
    FAKE_LOG: log,
    FAKE_DIR: fake,
    NATPLAN_URL: url,
    ...env,
  })
  const calls = readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as string[])
  return { ...r, calls }
}

async function inject(method: 'GET' | 'POST', path: string, payload?: unknown, headers?: Record<string, string>): Promise<any> {
  const res = await t.app.inject({ method, url: path, payload: payload as never, headers })
  expect(res.statusCode, res.body).toBeLessThan(300)
  return res.headers['content-type']?.toString().startsWith('application/json') ? res.json() : res.body
}

describe('kubectl natplan push', () => {
  it('reads the cluster with kubectl and pushes it under the current context’s name', async () => {
    const context = uniqueName('kind')
    const r = await plugin(['push'], { FAKE_CONTEXT: context })
    expect(r.code, r.stderr).toBe(0)
    expect(r.calls).toEqual([
      ['config', 'current-context'],
      ['get', 'services,endpointslices,nodes', '--all-namespaces', '--output=json'],
      ['get', 'configmap', '--namespace=kube-system', 'kube-proxy', '--output=json'],
    ])
    const v = await inject('GET', `/v1/clusters/${context}/versions/1`)
    expect(r.stdout.split('\n')[0]).toBe(
      `${context}: version 1 created: ${v.counts.services} services (${v.counts.servicePorts} ports), ${v.counts.endpoints} endpoints, ${v.counts.nodes.count} nodes (${v.counts.nodes.variants} distinct plans)`,
    )
    // What it pushed is the cluster of the fixture, ConfigMap (kube-proxy's settings) included.
    const same = await t.app.inject({ method: 'POST', url: `/v1/clusters/${context}/snapshots`, payload: fixture })
    expect(same.statusCode, same.body).toBe(200)
    expect(same.json().created).toBe(false)
  })

  it('passes --context and --kubeconfig to kubectl, names the cluster after the context, and prints -o json|yaml', async () => {
    const context = uniqueName('staging')
    const r = await plugin(['push', '--context', context, '--kubeconfig=/etc/natplan/kubeconfig', '-o', 'json'])
    expect(r.code, r.stderr).toBe(0)
    for (const call of r.calls) expect(call.slice(0, 2)).toEqual(['--kubeconfig=/etc/natplan/kubeconfig', `--context=${context}`])
    expect(r.calls.map((c) => c[3])).toEqual(['services,endpointslices,nodes', 'configmap'])
    const again = await t.app.inject({ method: 'POST', url: `/v1/clusters/${context}/snapshots`, payload: fixture })
    expect(JSON.parse(r.stdout)).toEqual({ ...again.json(), created: true })
    const yaml = await plugin(['push', `--context=${context}`, '-oyaml'])
    expect(parse(yaml.stdout)).toEqual(again.json())
  })

  it('pushes without kube-proxy’s ConfigMap when it cannot be read, and says so', async () => {
    const cluster = uniqueName('nocm')
    const r = await plugin(['push', '--cluster', cluster], { FAKE_NO_CONFIGMAP: '1' })
    expect(r.code, r.stderr).toBe(0)
    expect(r.calls.map((c) => c[1])).toEqual(['services,endpointslices,nodes', 'configmap'])
    expect(r.stderr).toContain("natplan: warning: kube-proxy's ConfigMap not read (Error from server (Forbidden)")
    expect(r.stdout).toContain(`${cluster}: version 1 created`)
  })

  it('stops with kubectl’s error (exit 1) when kubectl cannot read the cluster', async () => {
    const r = await plugin(['push', '--cluster', uniqueName('down')], { FAKE_NO_SERVER: '1' })
    expect(r.code).toBe(1)
    expect(r.stderr).toBe(
      'error: kubectl get services,endpointslices,nodes failed:\nThe connection to the server 10.0.0.1:6443 was refused - did you specify the right host or port?\n',
    )
    expect(r.calls).toHaveLength(1)
  })

  it('pushes a FILE or stdin as given, without kubectl', async () => {
    const cluster = uniqueName('file')
    const r = await plugin(['push', '--cluster', cluster, '-'], {}, JSON.stringify(fixture))
    expect(r.code, r.stderr).toBe(0)
    expect(r.calls).toEqual([])
    const file = await plugin(['push', `${ROOT}test/fixtures/cluster/three-nodes.json`, '--cluster', cluster])
    expect(file.stdout).toBe(`${cluster}: unchanged, identical to version 1 (nothing stored)\n`)
  })
})

describe('kubectl natplan diff, trace, drift and plan', () => {
  const cluster = uniqueName('plug')
  beforeAll(async () => {
    await inject('POST', `/v1/clusters/${cluster}/snapshots`, fixture)
    const next = structuredClone(fixture) as any
    next.items
      .find((o: any) => o.kind === 'EndpointSlice' && o.metadata.name === 'web-x7k2p')
      .endpoints.push({
        addresses: ['10.244.2.9'],
        conditions: { ready: true },
        nodeName: 'worker-c',
      })
    await inject('POST', `/v1/clusters/${cluster}/snapshots`, next)
  })

  it('diff: the JSON answer with -o json, the table narrowed with -n', async () => {
    const d = await inject('GET', `/v1/clusters/${cluster}/diff?from=1&to=2&fromNode=worker-a&toNode=worker-a`)
    const json = await plugin(['diff', '1', '2', '--node', 'worker-a', '-o', 'json', '--cluster', cluster])
    expect(json.code, json.stderr).toBe(0)
    expect(JSON.parse(json.stdout)).toEqual(d)
    const shop = await plugin(['diff', '1', 'latest', '--node=worker-a', '-n', 'shop', '--cluster', cluster])
    expect(shop.code, shop.stderr).toBe(0)
    for (const s of d.families[0].services.filter((x: any) => x.service.startsWith('shop/'))) expect(shop.stdout).toMatch(new RegExp(`^${s.service}\\s+`, 'm'))
    const none = await plugin(['diff', '1', '2', '--node', 'worker-a', '--namespace', 'kube-system', '--cluster', cluster])
    expect(none.stdout).toContain('no change in namespace kube-system')
  })

  it('trace: -o yaml parses to the answer; the table otherwise', async () => {
    const answer = await inject('POST', `/v1/clusters/${cluster}/versions/latest/nodes/worker-b/trace`, {
      source: '203.0.113.1',
      destination: '10.96.30.30',
      port: 80,
      protocol: 'tcp',
    })
    const yaml = await plugin(['trace', '--node', 'worker-b', '--dst', '10.96.30.30', '--dport', '80', '-o', 'yaml', '--cluster', cluster])
    expect(yaml.code, yaml.stderr).toBe(0)
    expect(parse(yaml.stdout)).toEqual(answer)
    const human = await plugin(['trace', '--node', 'worker-b', '--dst', '10.96.30.30', '--dport', '80', '--cluster', cluster])
    for (const m of answer.rulesMatched) expect(human.stdout).toContain(`${m.chain}   `)
  })

  it('drift: the dump from stdin against the latest version', async () => {
    const save = await inject('GET', `/v1/clusters/${cluster}/versions/1/nodes/worker-a/restore-script`)
    const d = await inject('POST', `/v1/clusters/${cluster}/versions/latest/nodes/worker-a/drift`, save, { 'content-type': 'text/plain' })
    const json = await plugin(['drift', '-', '--node', 'worker-a', '-o', 'json', '--cluster', cluster], {}, save)
    expect(json.code, json.stderr).toBe(0)
    expect(JSON.parse(json.stdout)).toEqual(d)
  })

  it('plan: the current cluster planned locally, no server needed', async () => {
    const r = await plugin(['plan', '--node', 'worker-a', '--table', 'nat'], { NATPLAN_URL: '' })
    expect(r.code, r.stderr).toBe(0)
    expect(r.calls.map((c) => c[1])).toEqual(['services,endpointslices,nodes', 'configmap'])
    const script = await inject('GET', `/v1/clusters/${cluster}/versions/1/nodes/worker-a/restore-script?table=nat`)
    expect(r.stdout).toBe(script)
  })
})

describe('kubectl natplan as kubectl plugins behave', () => {
  it('prints its help and version, and usage errors kubectl’s way (exit 2)', async () => {
    const help = await plugin(['--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('Usage:\n  kubectl natplan [command] [options]')
    for (const c of ['push', 'plan', 'diff', 'trace', 'drift', 'version']) expect(help.stdout).toMatch(new RegExp(`^  ${c}\\s`, 'm'))
    expect((await plugin([])).stdout).toBe(help.stdout)
    const push = await plugin(['push', '--help'])
    expect(push.stdout).toContain('Usage:\n  kubectl natplan push [FILE|-] [options]')
    expect(push.calls).toEqual([])
    expect((await plugin(['help', 'push'])).stdout).toBe(push.stdout)
    const version = await plugin(['version'])
    expect(version.stdout).toBe(`kubectl-natplan version: v${JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')).version}\n`)
    expect(JSON.parse((await plugin(['version', '-o', 'json'])).stdout).clientVersion.name).toBe('kubectl-natplan')
    const unknown = await plugin(['frobnicate'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toBe(`error: unknown command "frobnicate" for "kubectl natplan"\nSee 'kubectl natplan --help' for usage.\n`)
    const flag = await plugin(['diff', '1', '2', '--url', url])
    expect(flag.code).toBe(2)
    expect(flag.stderr).toMatch(/^error: Unknown option '--url'.*\nSee 'kubectl natplan diff --help' for usage\.\n$/s)
    expect((await plugin(['diff', '1', '2', '-o', 'wide', '--cluster', 'x'])).code).toBe(2)
  })

  it('needs a server, and a cluster name when the context cannot give one', async () => {
    const noServer = await plugin(['diff', '1', '2', '--cluster', 'prod'], { NATPLAN_URL: '' })
    expect(noServer.code).toBe(2)
    expect(noServer.stderr).toContain('error: no natplan server: give --natplan-url URL or set NATPLAN_URL')
    const withFlag = await plugin(['diff', '1', '2', '--cluster', uniqueName('none'), '--natplan-url', url], { NATPLAN_URL: '' })
    expect(withFlag.code).toBe(1)
    expect(withFlag.stderr).toMatch(/^error: 404/)
    const gke = await plugin(['diff', '1', '2'], { FAKE_CONTEXT: 'gke_my-project_europe-west1_prod' })
    expect(gke.code).toBe(2)
    expect(gke.stderr).toContain('the context "gke_my-project_europe-west1_prod" is not a natplan cluster name')
    const unset = await plugin(['diff', '1', '2'])
    expect(unset.code).toBe(2)
    expect(unset.stderr).toContain('give --cluster NAME (kubectl config current-context: error: current-context is not set)')
  })

  it('without kubectl on PATH: a cluster name and a FILE are needed', async () => {
    const nodeOnly = mkdtempSync(join(tmpdir(), 'natplan-nokubectl-'))
    try {
      symlinkSync(process.execPath, join(nodeOnly, 'node'))
      const env = { PATH: nodeOnly, NATPLAN_URL: url }
      const push = await runProcess(KUBECTL_NATPLAN, ['push', '--cluster', 'prod'], '', env)
      expect(push.code).toBe(2)
      expect(push.stderr).toContain('error: kubectl is not on PATH')
      const diff = await runProcess(KUBECTL_NATPLAN, ['diff', '1', '2'], '', env)
      expect(diff.code).toBe(2)
      expect(diff.stderr).toContain('give --cluster NAME (kubectl is not on PATH')
    } finally {
      rmSync(nodeOnly, { recursive: true, force: true })
    }
  })
})

/** A real kubectl, if one is installed (never ours: the fake lives only in its temp dir). */
const realKubectl = (process.env.PATH ?? '')
  .split(delimiter)
  .map((d) => join(d, 'kubectl'))
  .find((p) => existsSync(p) && spawnSync(p, ['version', '--client'], { encoding: 'utf8' }).status === 0)
if (!realKubectl) console.warn('test/cli/kubectl: real-kubectl checks SKIPPED — no kubectl on PATH (the fake covers the rest)')

describe.skipIf(!realKubectl)('a real kubectl', () => {
  const env = () => ({ PATH: [`${ROOT}bin`, dirname(realKubectl!), dirname(process.execPath)].join(delimiter), HOME: fake, NATPLAN_URL: url })

  it('lists the plugin (kubectl plugin list) and runs it as `kubectl natplan`', async () => {
    const list = await runProcess(realKubectl!, ['plugin', 'list'], '', env())
    expect(list.code, list.stderr).toBe(0)
    expect(list.stdout).toContain(KUBECTL_NATPLAN)
    const version = await runProcess(realKubectl!, ['natplan', 'version'], '', env())
    expect(version.code, version.stderr).toBe(0)
    expect(version.stdout).toMatch(/^kubectl-natplan version: v/)
    // Every argument after the plugin's name reaches it, flags included.
    const cluster = uniqueName('real')
    await inject('POST', `/v1/clusters/${cluster}/snapshots`, fixture)
    const diff = await runProcess(realKubectl!, ['natplan', 'diff', '1', '1', '--node', 'worker-a', '-o', 'json', '--cluster', cluster], '', env())
    expect(diff.code, diff.stderr).toBe(0)
    expect(JSON.parse(diff.stdout)).toMatchObject({ cluster, from: 1, to: 1, identical: true })
  })
})
