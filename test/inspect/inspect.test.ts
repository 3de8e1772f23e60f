/**
 * Trace, drift and cleanup through the real app on real PostgreSQL (the kernel checks of the same
 * are in kernel.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGrowthApp, uniqueName, type GrowthTestApp } from '../growth/helpers.js'
import { DRAIN_IP, EMPTY_IP, inspectEnvelope, LOCAL_IP, WEB_IP, WEB_PODS } from './fixtures.js'

let t: GrowthTestApp
const cluster = uniqueName('inspect')
let script = ''

beforeAll(async () => {
  t = await startGrowthApp()
  const res = await t.app.inject({ method: 'POST', url: `/v1/clusters/${cluster}/snapshots`, payload: inspectEnvelope() })
  expect(res.statusCode, res.body).toBe(201)
  script = (await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/versions/1/restore-script` })).body
})
afterAll(async () => {
  await t?.close()
})

const trace = (body: unknown, version = '1') =>
  t.app.inject({ method: 'POST', url: `/v1/clusters/${cluster}/versions/${version}/trace`, payload: body as Record<string, unknown> })

describe('POST …/trace', () => {
  it('lists every endpoint of a multi-endpoint service with its share, not masqueraded from inside the cluster CIDR', async () => {
    const res = await trace({ source: '10.0.0.2', destination: WEB_IP, port: 80, protocol: 'tcp' })
    expect(res.statusCode, res.body).toBe(200)
    const body = res.json()
    expect(body).toMatchObject({ cluster, version: 1, family: 'IPv4', verdict: 'DNAT', masqueraded: false })
    expect(body.endpoints.map((e: { endpoint: string }) => e.endpoint).sort()).toEqual(WEB_PODS.map((p) => `${p}:8080`).sort())
    for (const e of body.endpoints) expect(e.probability).toBeCloseTo(0.25, 6)
    // the walk starts at KUBE-SERVICES, goes through the service chain and ends in KUBE-SEP DNATs
    expect(body.rulesMatched[0]).toMatchObject({ table: 'nat', chain: 'KUBE-SERVICES' })
    expect(body.rulesMatched.some((r: { chain: string }) => r.chain.startsWith('KUBE-SVC-'))).toBe(true)
    expect(body.rulesMatched.filter((r: { rule: string }) => / -j DNAT /.test(r.rule))).toHaveLength(4)
    expect(body.nodeAddresses).toEqual(['10.254.0.1'])
  })

  it('masquerades a source outside the cluster CIDR', async () => {
    const body = (await trace({ source: '192.168.50.1', destination: WEB_IP, port: 80, protocol: 'tcp' })).json()
    expect(body).toMatchObject({ verdict: 'DNAT', masqueraded: true })
  })

  it('traces a service without endpoints to REJECT, and a wrong port to nothing', async () => {
    expect((await trace({ source: '10.0.0.2', destination: EMPTY_IP, port: 80, protocol: 'tcp' })).json()).toMatchObject({ verdict: 'REJECT', endpoints: [] })
    expect((await trace({ source: '10.0.0.2', destination: WEB_IP, port: 81, protocol: 'tcp' })).json()).toMatchObject({ verdict: 'NONE', endpoints: [] })
  })

  it('drops external traffic to an eTP Local service with no local endpoint on this node', async () => {
    const body = (await trace({ source: '192.168.50.1', destination: '10.254.0.1', port: 30090, protocol: 'tcp' })).json()
    expect(body.verdict).toBe('DROP')
  })

  it('answers 400 problem+json with a pointer for bad packets, 404 for unknown versions', async () => {
    const cases: Array<[unknown, string]> = [
      [{ source: 'not-an-ip', destination: WEB_IP, port: 80, protocol: 'tcp' }, '/source'],
      [{ source: '10.0.0.2', destination: WEB_IP, port: 70000, protocol: 'tcp' }, '/port'],
      [{ source: '10.0.0.2', destination: WEB_IP, port: 80, protocol: 'icmp' }, '/protocol'],
      [{ source: '10.0.0.2', port: 80 }, '/destination'],
      [{ source: '10.0.0.2', destination: 'fd00::1', port: 80, protocol: 'tcp' }, '/destination'],
    ]
    for (const [body, pointer] of cases) {
      const res = await trace(body)
      expect(res.statusCode, JSON.stringify(body)).toBe(400)
      expect(res.headers['content-type']).toMatch(/problem\+json/)
      expect(
        res.json().errors.map((e: { pointer: string }) => e.pointer),
        JSON.stringify(body),
      ).toContain(pointer)
    }
    expect((await trace({ source: '10.0.0.2', destination: WEB_IP, port: 80, protocol: 'tcp' }, '9')).statusCode).toBe(404)
  })
})

const drift = (text: string, contentType = 'text/plain') =>
  t.app.inject({ method: 'POST', url: `/v1/clusters/${cluster}/versions/latest/drift`, payload: text, headers: { 'content-type': contentType } })

describe('POST …/drift', () => {
  it("finds no drift in the plan's own restore script", async () => {
    const res = await drift(script)
    expect(res.statusCode, res.body).toBe(200)
    expect(res.json()).toMatchObject({ inSync: true, summary: { staleChains: 0, missingChains: 0, changedChains: 0, staleRules: 0, missingRules: 0 } })
  })

  it('reports a deleted rule, a stale chain and a changed probability, by service', async () => {
    const lines = script.split('\n')
    const sepRule = lines.findIndex((l) => l.startsWith('-A KUBE-SEP-') && l.includes(' -j DNAT '))
    const deleted = lines[sepRule]!
    const prob = lines.findIndex((l) => l.includes('--probability 0.2500000000'))
    const tampered = lines
      .filter((_, i) => i !== sepRule)
      .map((l, i) => (i === prob - (prob > sepRule ? 1 : 0) ? l.replace('0.2500000000', '0.5000000000') : l))
    const natStart = tampered.indexOf('*nat')
    tampered.splice(natStart + 1, 0, ':KUBE-SVC-STALESTALESTALE1 - [0:0]')
    tampered.splice(tampered.lastIndexOf('COMMIT'), 0, '-A KUBE-SVC-STALESTALESTALE1 -j KUBE-MARK-MASQ')
    const body = (await drift(tampered.join('\n'))).json()
    expect(body.inSync).toBe(false)
    expect(body.tables.nat.staleChains).toEqual([expect.objectContaining({ chain: 'KUBE-SVC-STALESTALESTALE1', rules: 1 })])
    expect(body.summary.staleChains).toBe(1)
    const missing = body.tables.nat.changedChains.flatMap((c: { missingRules: Array<{ rule: string }> }) => c.missingRules.map((r) => r.rule))
    expect(missing).toContain(deleted)
    const changedSvc = body.tables.nat.changedChains.find((c: { chain: string }) => c.chain.startsWith('KUBE-SVC-'))
    expect(changedSvc.service).toBe('ins/web:http')
    expect(body.services.map((s: { service: string }) => s.service)).toContain('ins/web:http')
  })

  it('says which kube-proxy wrote the dump: a setting that differs is one finding, not every chain it shapes', async () => {
    // The node runs with masquerade bit 15 and without --random-fully support.
    const mark = /--or-mark (0x[0-9a-f]+)/.exec(script)![1]!
    const node = script.replaceAll(mark, '0x00008000').replace(' --random-fully', '')
    const res = await drift(node)
    expect(res.statusCode, res.body).toBe(200)
    const body = res.json()
    expect(body.settings.mismatches.map((m: { setting: string }) => m.setting).sort()).toEqual(['masqueradeMark', 'masqueradeRandomFully'])
    expect(body.settings.mismatches.find((m: { setting: string }) => m.setting === 'masqueradeMark')).toMatchObject({
      told: '0x4000 (bit 14)',
      node: '0x8000 (bit 15)',
    })
    expect(body.settings.node).toMatchObject({ masqueradeBit: 15, masqueradeRandomFully: false })
    expect(body.summary).toMatchObject({ settingsMismatches: 2, changedChains: 0, staleChains: 0, missingChains: 0 })
    expect(body.inSync).toBe(false)
    const gql = await t.app.inject({
      method: 'POST',
      url: '/graphql',
      payload: {
        query: 'query($c: String!, $s: String!) { drift(cluster: $c, version: "latest", saveText: $s) { inSync settings } }',
        variables: { c: cluster, s: node },
      },
    })
    expect(gql.json().data.drift.settings.mismatches).toHaveLength(2)
  })

  it('reads what it can of a redacted, cut-short and edited dump, lists the rest by line and compares it', async () => {
    const lines = script.split('\n')
    // As dumps come from the field: an address redacted, a line cut short, a note added, the
    // trailing COMMIT lost.
    const redacted = lines.findIndex((l) => l.startsWith('-A KUBE-SEP-') && l.includes(' -j DNAT '))
    const cut = lines.findIndex((l, i) => i > redacted && l.startsWith('-A KUBE-SVC-') && l.includes(' -j KUBE-SEP-'))
    const edited = lines.map((l, i) =>
      i === redacted ? l.replace(/--to-destination \S+/, '--to-destination x.x.x.x:yyyy') : i === cut ? l.slice(0, l.length - 10) : l,
    )
    edited.splice(1, 0, '# edited by hand on the node, 03 Dec')
    while (edited.at(-1) === '' || edited.at(-1) === 'COMMIT') edited.pop()
    const res = await drift(edited.join('\n'))
    expect(res.statusCode, res.body).toBe(200)
    const body = res.json()
    expect(body.inSync).toBe(false)
    expect(body.unreadable.map((u: { line: number }) => u.line)).toEqual([redacted + 2, cut + 2, edited.length])
    expect(body.unreadable[0].text).toContain('x.x.x.x')
    expect(body.summary.unreadableLines).toBe(3)
    // The rest is compared: nothing else differs, and the planned rules that may be the unreadable ones are not called missing.
    expect(body.summary).toMatchObject({ staleChains: 0, missingChains: 0, missingRules: 0, staleRules: 0 })
    const unverified = body.tables.nat.changedChains.flatMap((c: { unverifiedRules?: Array<{ rule: string }> }) => (c.unverifiedRules ?? []).map((r) => r.rule))
    expect(unverified).toContain(lines[redacted])
  })

  it('rejects a body that is not iptables-save text', async () => {
    const res = await drift('hello world')
    expect(res.statusCode).toBe(400)
    expect(res.headers['content-type']).toMatch(/problem\+json/)
    expect((await drift('{"a":1}', 'application/json')).statusCode).toBe(415)
  })
})

describe('GET …/cleanup', () => {
  it('lists services without endpoints, draining services and Local policies that drop', async () => {
    const res = await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/versions/1/cleanup` })
    expect(res.statusCode, res.body).toBe(200)
    const body = res.json()
    const kinds = (service: string) =>
      body.items
        .filter((i: { service: string }) => i.service === service)
        .map((i: { kind: string }) => i.kind)
        .sort()
    expect(kinds('ins/empty:http')).toEqual(['no-endpoints'])
    expect(kinds('ins/local:http')).toEqual(['no-local-endpoints'])
    expect(kinds('ins/drain:http')).toEqual(['only-terminating-endpoints'])
    expect(kinds('ins/web:http')).toEqual([])
    const empty = body.items.find((i: { service: string }) => i.service === 'ins/empty:http')
    expect(empty.rules.every((r: string) => r.includes('-j REJECT'))).toBe(true)
    expect(empty.rules.some((r: string) => r.includes(EMPTY_IP))).toBe(true)
    expect(body.summary['no-endpoints']).toBe(1)
    // the drop rule of the Local service is on its external paths, never its cluster IP
    const local = body.items.find((i: { service: string }) => i.service === 'ins/local:http')
    expect(local.rules.length).toBeGreaterThan(0)
    expect(local.rules.some((r: string) => r.includes(`-d ${LOCAL_IP}/32 `) && r.startsWith('-A KUBE-SERVICES'))).toBe(false)
    void DRAIN_IP
  })
})
