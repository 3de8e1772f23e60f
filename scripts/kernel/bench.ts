/**
 * Real-kernel timings of planned restore scripts, both iptables backends, each step in a fresh
 * network namespace (root only). Prints a table; asserts nothing.
 *
 *   npm run bench:kernel               # 1000 and 10000 services
 *   npm run bench:kernel -- 2000 5000  # other sizes
 *
 * Steps per size and backend:
 *   apply      full kube-proxy-flavour script, flush mode, into an empty namespace
 *   save       iptables-save of the loaded tables
 *   re-apply   the same full script again (flush mode) over the loaded tables
 *   delta 1%   kube-proxy-style partial sync (`--noflush --counters`) to a snapshot where 1% of
 *              the services moved endpoints (src/planner/analysis minimalRestore)
 */
import { plan } from '../../src/planner/index.js'
import { minimalRestore } from '../../src/planner/analysis/minimal.js'
import { generateSnapshot } from '../../src/planner/testing/generate.js'
import { renderRestore } from '../../src/planner/iptables/render.js'
import { BACKENDS, kernelAvailable, nfacctAdd, restore, save, withNetns, type Backend } from '../../test/kernel/netns.js'

const sizes = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0)

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`
}

async function timed<T>(fn: () => Promise<T>): Promise<number> {
  const t = performance.now()
  await fn()
  return performance.now() - t
}

async function benchOne(services: number, backend: Backend, full: string, delta: string): Promise<string[]> {
  return withNetns(`bench-${backend}`, async (ns) => {
    await nfacctAdd(ns)
    const apply = await timed(() => restore(ns, backend, full, { timeoutMs: 300_000 }))
    const saveMs = await timed(() => save(ns, backend, { timeoutMs: 120_000 }))
    const reapply = await timed(() => restore(ns, backend, full, { timeoutMs: 300_000 }))
    const deltaMs = await timed(() => restore(ns, backend, delta, { noflush: true, counters: true, timeoutMs: 300_000 }))
    return [String(services), backend, secs(apply), secs(saveMs), secs(reapply), secs(deltaMs)]
  })
}

async function main(): Promise<void> {
  const avail = await kernelAvailable()
  if (!avail.ok || !avail.nfacct) {
    console.error(`bench:kernel needs root, netns, iptables and nfacct: ${avail.reason || 'nfacct missing'}`)
    process.exit(2)
  }
  const rows: string[][] = [['services', 'backend', 'apply', 'save', 're-apply', 'delta 1% (--noflush)']]
  for (const services of sizes.length ? sizes : [1000, 10_000]) {
    const opts = { services, endpointsPerService: 3, nodePort: 0.2, churn: 0.01 }
    const a = plan(generateSnapshot(opts)).families[0]!
    const b = plan(generateSnapshot({ ...opts, round: 1 })).families[0]!
    const full = renderRestore(a, { flavour: 'kube-proxy' })
    const delta = minimalRestore(a, b)
    const lines = (t: string): number => t.split('\n').length - 1
    console.log(`${services} services: full ${lines(full)} lines (${(full.length / 1e6).toFixed(1)} MB), delta ${lines(delta)} lines`)
    for (const backend of BACKENDS) rows.push(await benchOne(services, backend, full, delta))
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '))
}

await main()
