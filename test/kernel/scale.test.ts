/**
 * A generated 10k-service plan (kube-proxy flavour, ~126k rules, ~43k chains, large-cluster mode)
 * is committed into a real kernel on both backends and read back rule for rule.
 *
 * Applied in flush mode on purpose: `iptables-nft-restore --noflush` of a full dump this size
 * takes ~430 s (quadratic in the chain count; docs/kernel.md, "Facts of the tools"), and a fresh
 * namespace has nothing to keep anyway. Timings are printed, not asserted (see docs/kernel.md).
 */
import { expect, it } from 'vitest'
import { plan } from '../../src/planner/index.js'
import { generateSnapshot } from '../../src/planner/testing/generate.js'
import { kernelDescribe } from './gate.js'
import { BACKENDS, nfacctAdd, restore, save, withNetns, type Backend } from './netns.js'
import { render } from './plans.js'
import { compareReadBack, tableBlocks } from './saveform.js'

const { describe } = await kernelDescribe('test/kernel/scale.test.ts', { nfacct: true })

describe('a 10k-service plan in a real kernel', () => {
  it('applies and reads back on legacy and nft', { timeout: 240_000 }, async () => {
    // A realistic mix, so the big script also exercises NodePort, LB firewall, affinity,
    // eTP/iTP Local and external-IP chains, not 10k copies of one shape.
    const envelope = generateSnapshot({
      services: 10_000,
      endpointsPerService: 3,
      nodePort: 0.2,
      loadBalancer: 0.1,
      sourceRanges: 0.5,
      clientIPAffinity: 0.1,
      externalLocal: 0.3,
      internalLocal: 0.05,
      externalIPs: 0.05,
      notReady: 0.05,
    })
    const [rendered, ...more] = render(plan(envelope), 'kube-proxy')
    expect(more).toHaveLength(0)
    const text = rendered!.text
    const rules = text.split('\n').filter((l) => l.startsWith('-A ')).length
    expect(rules).toBeGreaterThan(100_000)

    const saves = {} as Record<Backend, string>
    for (const backend of BACKENDS) {
      await withNetns(`scale-${backend}`, async (ns) => {
        await nfacctAdd(ns)
        const applied = await restore(ns, backend, text, { timeoutMs: 180_000 })
        const t = performance.now()
        saves[backend] = await save(ns, backend, { timeoutMs: 60_000 })
        console.log(
          `[kernel] ${backend}: ${rules} rules, ${(text.length / 1e6).toFixed(1)} MB: restore ${(applied.durationMs / 1000).toFixed(2)} s, ` +
            `save ${((performance.now() - t) / 1000).toFixed(2)} s`,
        )
      })
      const report = compareReadBack(text, saves[backend])
      expect(report.problems.slice(0, 5)).toEqual([])
      expect(report.unpredicted.slice(0, 5)).toEqual([])
      expect(report.predicted).toBe(rules)
    }
    // Both backends print the same canonical tables (reference §2.1), only in another order.
    const [legacy, nft] = [tableBlocks(saves.legacy), tableBlocks(saves.nft)]
    expect(Object.keys(nft).sort()).toEqual(['filter', 'nat'])
    for (const table of Object.keys(nft)) expect(legacy[table] === nft[table], `${table} differs between backends`).toBe(true)
  })
})
