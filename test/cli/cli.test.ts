/**
 * The built CLI (`node dist/src/cli.js`), spawned for real: `plan` from a fixture file and from
 * stdin, `push` to a real app listening on 127.0.0.1 (its human output: test/cli/output.test.ts).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse, stringify } from 'yaml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { normaliseRestore, toEnvelope } from '../../src/planner/index.js'
import { referenceRestore } from '../../src/planner/reference.js'
import { FIXTURES, fixture, fixtureCases, smallEnvelope, startTestApp, uniqueName, type TestApp } from '../api/helpers.js'
import { ensureBuilt, natplan as cli } from './helpers.js'

beforeAll(ensureBuilt)

describe('natplan plan', () => {
  it.each(fixtureCases())('prints the kube-proxy restore script of %s from a file', async (name) => {
    const { families } = fixture(name)
    const { code, stdout, stderr } = await cli(['plan', `${FIXTURES}${name}/snapshot.json`])
    expect(code, stderr).toBe(0)
    expect(normaliseRestore(stdout)).toBe(families[0]!.expected)
    for (const { family, expected } of families.slice(1)) {
      const other = await cli(['plan', '--family', family, `${FIXTURES}${name}/snapshot.json`])
      expect(other.code, other.stderr).toBe(0)
      expect(normaliseRestore(other.stdout)).toBe(expected)
    }
  })

  it('reads YAML from stdin and honours --table and --format json', async () => {
    const { snapshot, expected } = fixture('TestBadIPs')
    const nat = await cli(['plan', '-', '--table', 'nat'], stringify(snapshot))
    expect(nat.code, nat.stderr).toBe(0)
    expect(nat.stdout.startsWith('*nat\n')).toBe(true)
    expect(expected).toContain(normaliseRestore(nat.stdout))
    const json = await cli(['plan', '--format', 'json'], JSON.stringify(snapshot))
    expect(json.code).toBe(0)
    const plan = JSON.parse(json.stdout)
    expect(plan.families[0].family).toBe('IPv4')
    expect(plan.counts.services).toBe(1)
    // --json and -o json|yaml say what --format json says.
    const alias = await cli(['plan', '--json', '-'], JSON.stringify(snapshot))
    expect(alias.stdout).toBe(json.stdout)
    const yaml = await cli(['plan', '-o', 'yaml', '-'], JSON.stringify(snapshot))
    expect(parse(yaml.stdout)).toEqual(plan)
  })

  it('plans one node with --node, every node with --all-nodes, and asks which when the snapshot names none', async () => {
    const file = fileURLToPath(new URL('../fixtures/cluster/three-nodes.json', import.meta.url))
    const r = toEnvelope(JSON.parse(readFileSync(file, 'utf8')))
    if (!r.ok) throw new Error('fixture rejected')
    const ambiguous = await cli(['plan', file])
    expect(ambiguous.code).toBe(2)
    expect(ambiguous.stderr).toContain('--node')
    const one = await cli(['plan', file, '--node', 'worker-c'])
    expect(one.code).toBe(0)
    expect(one.stdout).toBe(referenceRestore(r.envelope, 'worker-c')[0]!.text)
    expect((await cli(['plan', file, '--node', 'worker-z'])).code).toBe(1)
    const dir = mkdtempSync(join(tmpdir(), 'natplan-nodes-'))
    try {
      const all = await cli(['plan', file, '--all-nodes', dir])
      expect(all.code).toBe(0)
      const listed = JSON.parse(readFileSync(join(dir, 'nodes.json'), 'utf8'))
      expect(listed.nodes.map((n: { name: string }) => n.name)).toEqual(['worker-a', 'worker-b', 'worker-c'])
      for (const n of listed.nodes) expect(readFileSync(join(dir, n.file), 'utf8')).toBe(referenceRestore(r.envelope, n.name)[0]!.text)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("deletes the stale service chains of the node's iptables-save given with --node-save", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'natplan-save-'))
    try {
      const save = join(dir, 'nat.save')
      writeFileSync(save, '*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-STALE0000000000 - [0:0]\n:CNI-HOSTPORT-DNAT - [0:0]\nCOMMIT\n')
      const env = smallEnvelope()
      const out = await cli(['plan', '-', '--node-save', save], JSON.stringify(env))
      expect(out.code, out.stderr).toBe(0)
      expect(out.stdout).toContain(':KUBE-SVC-STALE0000000000 - [0:0]\n')
      expect(out.stdout).toContain('-X KUBE-SVC-STALE0000000000\n')
      expect(out.stdout).not.toContain('CNI-HOSTPORT-DNAT')
      expect((await cli(['plan', '-', '--node-save', save, '--all-nodes', dir], JSON.stringify(env))).code).toBe(2)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('takes proxy settings for a bare List from --proxy', async () => {
    const env = smallEnvelope()
    const out = await cli(
      ['plan', '-', '--proxy', 'nodeName=node-a', '--proxy', 'nodeIPs=192.168.0.2', '--proxy', 'masqueradeBit=13'],
      JSON.stringify(env.resources),
    )
    expect(out.code, out.stderr).toBe(0)
    expect(out.stdout).toContain('0x00002000')
  })

  it('reports invalid snapshots with pointers and usage errors with exit 2', async () => {
    const env = smallEnvelope()
    env.resources.items[0].spec.ports[0].port = -1
    const bad = await cli(['plan', '-'], JSON.stringify(env))
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('/resources/items/0/spec/ports/0/port')
    const usage = await cli(['plan', '--table', 'mangle', '-'], '{}')
    expect(usage.code).toBe(2)
    expect(usage.stderr).toMatch(/--table must be one of/)
    expect((await cli(['frobnicate'])).code).toBe(2)
    expect((await cli(['plan', '/no/such/file.json'])).code).toBe(2)
  })
})

describe('natplan push', () => {
  let t: TestApp
  let url: string
  const TOKEN = 'push-secret-0123456789'
  beforeAll(async () => {
    t = await startTestApp({ tokens: [{ name: 'pusher', scope: 'write', secret: TOKEN }] })
    url = await t.app.listen({ host: '127.0.0.1', port: 0 })
  })
  afterAll(async () => {
    await t?.close()
  })

  it('posts JSON from stdin (as kubectl output is piped) and prints the result with --json', async () => {
    const cluster = uniqueName('push')
    const text = readFileSync(`${FIXTURES}TestBadIPs/snapshot.json`, 'utf8')
    const first = await cli(['push', '--url', url, '--cluster', cluster, '--token', TOKEN, '--json'], text)
    expect(first.code, first.stderr).toBe(0)
    const body = JSON.parse(first.stdout)
    expect(body).toMatchObject({ created: true, version: { version: 1, actor: 'pusher' } })
    const again = await cli(['push', '--url', url, '--cluster', cluster, '--json'], text, { NATPLAN_TOKEN: TOKEN })
    expect(JSON.parse(again.stdout).created).toBe(false)
  })

  it('posts a YAML file with proxy settings for a bare List', async () => {
    const cluster = uniqueName('pushyaml')
    const { writeFileSync, mkdtempSync } = await import('node:fs')
    const dir = mkdtempSync('/tmp/natplan-cli-')
    writeFileSync(`${dir}/list.yaml`, stringify(smallEnvelope().resources))
    const out = await cli(['push', '--url', url, '--cluster', cluster, '--token', TOKEN, '--proxy', 'nodeName=node-a', '-o', 'json', `${dir}/list.yaml`])
    expect(out.code, out.stderr).toBe(0)
    expect(JSON.parse(out.stdout).version.counts.endpoints).toBe(1)
  })

  it('prints the problem and exits 1 when the server refuses', async () => {
    const noToken = await cli(['push', '--url', url, '--cluster', uniqueName('push')], JSON.stringify(smallEnvelope()))
    expect(noToken.code).toBe(1)
    expect(noToken.stderr).toMatch(/401/)
    const env = smallEnvelope()
    env.resources.items[1].endpoints = 'nope'
    const invalid = await cli(['push', '--url', url, '--cluster', uniqueName('push'), '--token', TOKEN], JSON.stringify(env))
    expect(invalid.code).toBe(1)
    expect(invalid.stderr).toContain('/resources/items/1/endpoints')
  })
})
