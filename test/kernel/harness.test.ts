/**
 * The harness itself, on the upstream conformance fixtures (`expected.txt` is valid
 * iptables-restore input): each applies on both backends, reads back exactly as predicted,
 * the kernel's rejections surface as errors, and the traffic rig sees the 50/50 split.
 */
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { kernelDescribe } from './gate.js'
import { BACKENDS, CommandError, installKubeProxyJumps, nfacctAdd, restore, save, uniformShare, withNetns, withTrafficRig, RIG } from './netns.js'
import { compareReadBack, expectedByFamily } from './saveform.js'

const CONFORMANCE = join(import.meta.dirname, '..', 'fixtures', 'conformance')
const cases = readdirSync(CONFORMANCE).filter((d) => !d.startsWith('.'))
const { describe } = await kernelDescribe('test/kernel/harness.test.ts', { nfacct: true })

describe('kernel harness on the conformance fixtures', () => {
  for (const backend of BACKENDS) {
    it.each(cases)(`%s expected.txt applies and reads back as predicted (${backend})`, async (name) => {
      const parts = expectedByFamily(readFileSync(join(CONFORMANCE, name, 'expected.txt'), 'utf8'))
      for (const { family, text } of parts) {
        await withNetns(`h-${backend}`, async (ns) => {
          await nfacctAdd(ns)
          await restore(ns, backend, text, { family })
          const report = compareReadBack(text, await save(ns, backend, { family }), family)
          expect(report.problems).toEqual([])
          expect(report.unpredicted).toEqual([])
          expect(report.rules).toBe(text.split('\n').filter((l) => l.startsWith('-A ')).length)
        })
      }
    })

    it.each([4, 6] as const)(`the save-form model matches the kernel for IPv%i (${backend})`, async (family) => {
      // Hand-picked rules beyond kube-proxy's usual shapes: implicit protocol matches, negations,
      // quoting with escapes, masked networks, multiport, sctp, every MARK spelling.
      const text = readFileSync(join(import.meta.dirname, 'fixtures', `saveform-v${family}.rules`), 'utf8')
      await withNetns(`h-${backend}`, async (ns) => {
        await nfacctAdd(ns, ['ab_c'])
        await restore(ns, backend, text, { family })
        const report = compareReadBack(text, await save(ns, backend, { family }), family)
        expect(report.problems).toEqual([])
        expect(report.unpredicted).toEqual([])
        expect(report.predicted).toBe(text.split('\n').filter((l) => l.startsWith('-A ')).length)
      })
    })

    it(`surfaces the kernel's rejection of an undeclared jump (${backend})`, async () => {
      const bad = '*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -j KUBE-NOPE\nCOMMIT\n'
      await withNetns(`h-${backend}`, async (ns) => {
        const err = await restore(ns, backend, bad).catch((e: unknown) => e)
        expect(err).toBeInstanceOf(CommandError)
        // Nothing was committed: the transaction is all or nothing.
        expect(await save(ns, backend, { table: 'nat' })).not.toContain('KUBE-SERVICES')
      })
    })

    it(`kube-proxy flavour without the nfacct objects is rejected (${backend})`, async () => {
      const text = readFileSync(join(CONFORMANCE, 'TestSyncProxyRulesRepeated__initial_full_sync', 'expected.txt'), 'utf8')
      await withNetns(`h-${backend}`, async (ns) => {
        await expect(restore(ns, backend, text)).rejects.toThrow(CommandError)
      })
    })

    it(`rig: TestNodePorts rules split a cluster IP 50/50, NodePort and masquerade work (${backend})`, async () => {
      const text = readFileSync(join(CONFORMANCE, 'TestNodePorts__ipv4_localhost-nodeports_enabled', 'expected.txt'), 'utf8')
      const eps = ['10.180.0.1:80', '10.180.2.1:80']
      await withTrafficRig(
        { backend, label: `h${backend[0]}`, endpoints: eps.map((e) => ({ ip: e.split(':')[0]!, port: 80 })), clientSources: ['192.168.77.2'] },
        async (rig) => {
          await nfacctAdd(rig.node)
          await rig.apply(text)
          // expected.txt is kube-proxy's restore input: the jumps from the built-in chains are
          // installed separately, as kube-proxy does.
          await installKubeProxyJumps(rig.node, backend)
          const n = 200
          const r = await rig.connect({ host: '172.30.0.41', port: 80, count: n })
          const share = uniformShare(r.counts, eps, n)
          expect(share.ok, share.report).toBe(true)
          // Pod-to-service from inside 10/8 is not masqueraded; the pod sees the client.
          expect(new Set(r.answers.map((a) => a.peer))).toEqual(new Set([RIG.clientIP]))
          const off = await rig.connect({ host: '172.30.0.41', port: 80, count: 10, sources: ['192.168.77.2'] })
          expect(off.answers.every((a) => eps.includes(a.answer) && a.peer === RIG.podGateway)).toBe(true)
          const np = await rig.connect({ host: RIG.nodeIP, port: 3001, count: 20 })
          expect(np.answers.every((a) => eps.includes(a.answer) && a.peer === RIG.podGateway)).toBe(true)
        },
      )
    })
  }
})
