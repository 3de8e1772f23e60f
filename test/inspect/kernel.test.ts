/**
 * Trace and drift against the real kernel, on both iptables backends: the version's restore
 * script (served by the API) is loaded into the node namespace of a traffic rig, then
 * - the endpoints the trace lists are exactly the ones real connections reach, and its
 *   masquerade verdict is what the pods see as the peer address;
 * - a no-endpoint service traces to REJECT and real connections are refused;
 * - the kernel's own iptables-save of the plan has zero drift, and tampering with the live
 *   ruleset (a deleted KUBE-SEP rule, a stale KUBE-SVC chain) is reported exactly.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { kernelDescribe } from '../kernel/gate.js'
import { BACKENDS, nsExecOk, RIG, save, TrafficRig } from '../kernel/netns.js'
import { startGrowthApp, uniqueName, type GrowthTestApp } from '../growth/helpers.js'
import { EMPTY_IP, inspectEnvelope, WEB_IP, WEB_PODS } from './fixtures.js'

const { describe } = await kernelDescribe('test/inspect/kernel.test.ts')
const OFF_CLUSTER = '192.168.77.2'

let t: GrowthTestApp | undefined
const cluster = uniqueName('inspect-kernel')

async function api<T = any>(method: 'GET' | 'POST', url: string, payload?: unknown, contentType?: string): Promise<T> {
  const res = await t!.app.inject({ method, url, payload: payload as string, headers: contentType ? { 'content-type': contentType } : {} })
  expect(res.statusCode, res.body).toBe(200)
  return (String(res.headers['content-type'] ?? '').includes('json') ? res.json() : res.body) as T
}

const traceOf = (source: string, destination: string, port: number) =>
  api('POST', `/v1/clusters/${cluster}/versions/1/trace`, { source, destination, port, protocol: 'tcp' })

for (const backend of BACKENDS) {
  describe(`trace and drift on the real kernel (${backend})`, () => {
    const rig = new TrafficRig({
      backend,
      label: `i${backend[0]}`,
      endpoints: WEB_PODS.map((ip) => ({ ip, port: 8080 })),
      clientSources: [OFF_CLUSTER],
    })

    beforeAll(async () => {
      if (!t) {
        t = await startGrowthApp()
        const res = await t.app.inject({ method: 'POST', url: `/v1/clusters/${cluster}/snapshots`, payload: inspectEnvelope() })
        expect(res.statusCode, res.body).toBe(201)
      }
      await rig.start()
      // The standalone flavour carries the jumps from the built-in chains (kube-proxy installs
      // those outside its restore input); the snapshot says nfacct: false, so it loads as is.
      await rig.apply(await api<string>('GET', `/v1/clusters/${cluster}/versions/1/restore-script?flavour=standalone`))
    })
    afterAll(() => rig.close())

    it('the endpoints a trace lists are exactly those real connections reach (not masqueraded inside the cluster CIDR)', async () => {
      const trace = await traceOf(RIG.clientIP, WEB_IP, 80)
      expect(trace.verdict).toBe('DNAT')
      const traced = new Set<string>(trace.endpoints.map((e: { endpoint: string }) => e.endpoint))
      expect(traced.size).toBe(WEB_PODS.length)
      // 80 connections over 4 equally likely endpoints: missing one has probability 4·(3/4)^80 ≈ 4e-10.
      const r = await rig.connect({ host: WEB_IP, port: 80, count: 80 })
      expect(new Set(Object.keys(r.counts))).toEqual(traced)
      expect(trace.masqueraded).toBe(false)
      expect(new Set(r.answers.map((a) => a.peer))).toEqual(new Set([RIG.clientIP]))
    })

    it('a masqueraded trace is a masqueraded connection', async () => {
      const trace = await traceOf(OFF_CLUSTER, WEB_IP, 80)
      expect(trace.masqueraded).toBe(true)
      const r = await rig.connect({ host: WEB_IP, port: 80, count: 12, sources: [OFF_CLUSTER] })
      for (const a of r.answers) {
        expect(trace.endpoints.map((e: { endpoint: string }) => e.endpoint)).toContain(a.answer)
        expect(a.peer).toBe(RIG.podGateway)
      }
    })

    it('a no-endpoint service traces to REJECT and real connections are refused', async () => {
      const trace = await traceOf(RIG.clientIP, EMPTY_IP, 80)
      expect(trace).toMatchObject({ verdict: 'REJECT', endpoints: [] })
      const r = await rig.connect({ host: EMPTY_IP, port: 80, count: 3 })
      expect(r.counts).toEqual({ 'ERR:ECONNREFUSED': 3 })
    })

    it("the kernel's own iptables-save of the plan has zero drift; live tampering is reported exactly", async () => {
      const clean = await save(rig.node, backend)
      const report = await api('POST', `/v1/clusters/${cluster}/versions/1/drift`, clean, 'text/plain')
      expect(report.summary).toEqual({
        staleChains: 0,
        missingChains: 0,
        changedChains: 0,
        staleRules: 0,
        missingRules: 0,
        unreadableLines: 0,
        settingsMismatches: 0,
      })
      expect(report.inSync).toBe(true)

      // Tamper with the live node: delete rule 1 of one endpoint's KUBE-SEP chain, add a stale service chain.
      const sepDnat = clean.split('\n').find((l) => l.startsWith('-A KUBE-SEP-') && l.includes(' -j DNAT '))!
      const sepChain = sepDnat.split(' ')[1]!
      const iptables = `iptables-${backend}`
      await nsExecOk(rig.node, iptables, ['-w', '5', '-t', 'nat', '-D', sepChain, '1'])
      const deleted = clean.split('\n').filter((l) => l.startsWith(`-A ${sepChain} `))[0]!
      await nsExecOk(rig.node, iptables, ['-w', '5', '-t', 'nat', '-N', 'KUBE-SVC-STALESTALESTALE1'])
      await nsExecOk(rig.node, iptables, ['-w', '5', '-t', 'nat', '-A', 'KUBE-SVC-STALESTALESTALE1', '-j', 'RETURN'])

      const tampered = await api('POST', `/v1/clusters/${cluster}/versions/1/drift`, await save(rig.node, backend), 'text/plain')
      expect(tampered.inSync).toBe(false)
      expect(tampered.summary).toEqual({
        staleChains: 1,
        missingChains: 0,
        changedChains: 1,
        staleRules: 0,
        missingRules: 1,
        unreadableLines: 0,
        settingsMismatches: 0,
      })
      expect(tampered.tables.nat.staleChains).toEqual([expect.objectContaining({ chain: 'KUBE-SVC-STALESTALESTALE1', rules: 1 })])
      expect(tampered.tables.nat.changedChains).toHaveLength(1)
      expect(tampered.tables.nat.changedChains[0]).toMatchObject({ chain: sepChain, service: 'ins/web:http', staleRules: [] })
      expect(tampered.tables.nat.changedChains[0].missingRules).toHaveLength(1)
      // The missing rule is reported as the plan wrote it; the kernel printed the same rule.
      const missing = tampered.tables.nat.changedChains[0].missingRules[0].rule as string
      expect(missing.startsWith(`-A ${sepChain} `)).toBe(true)
      expect(missing.includes('KUBE-MARK-MASQ')).toBe(deleted.includes('KUBE-MARK-MASQ'))
      expect(tampered.services.map((s: { service: string }) => s.service)).toContain('ins/web:http')
    })
  })
}

afterAll(async () => {
  await t?.close()
})
