/**
 * Analysis benchmark: diff, unified diff and minimal restore of two 10k-service versions with
 * 1% churn (target: diffPlans ≤ 100 ms), and the cost of planStats relative to planning
 * (target: ≤ 10%). Prints figures; asserts nothing (speed is measured here, never in tests).
 *
 *   node --import tsx bench/diff.ts [services=10000] [churn=0.01]
 */
import { plan } from '../src/planner/index.js'
import { generateSnapshot } from '../src/planner/testing/generate.js'
import { segmentHash } from '../src/planner/iptables/hash.js'
import { deltaSize, diffPlans, drift, minimalRestore, planStats, restoreText, trace, unifiedDiff, type StatsMemo } from '../src/planner/analysis/index.js'
import { segmentLines } from '../src/planner/types.js'

const services = Number(process.argv[2] ?? 10_000)
const churn = Number(process.argv[3] ?? 0.01)

function time<T>(label: string, runs: number, fn: () => T): T {
  let out!: T
  const ms: number[] = []
  for (let i = 0; i < runs; i++) {
    const t = performance.now()
    out = fn()
    ms.push(performance.now() - t)
  }
  ms.sort((a, b) => a - b)
  console.log(`${label.padEnd(48)} median ${ms[Math.floor(runs / 2)]!.toFixed(1).padStart(8)} ms   min ${ms[0]!.toFixed(1).padStart(8)} ms   (${runs} runs)`)
  return out
}

const shape = { services, endpointsPerService: 3, nodePort: 0.2, loadBalancer: 0.1, sourceRanges: 0.5, clientIPAffinity: 0.1, externalLocal: 0.3, churn }
const envA = generateSnapshot({ ...shape, round: 0 })
const envB = generateSnapshot({ ...shape, round: 1 })
console.log(`${services} services x 3 endpoints, churn ${churn * 100}% (generateSnapshot, seed 1)`)

const planA = time('plan(A)', 5, () => plan(envA))
const planB = plan(envB)
const a = planA.families[0]!
const b = planB.families[0]!

// Fresh copies so the per-segment hash memo does not flatter the cold figure.
const clone = (fp: typeof a) => ({ ...fp, segments: fp.segments.map((s) => ({ ...s })) })
time('diffPlans, cold (hashes every segment)', 5, () => diffPlans(clone(a), clone(b)))
const hashesA = a.segments.map(segmentHash)
const hashesB = b.segments.map(segmentHash)
const d = time('diffPlans, stored hashes (services layer)', 9, () => diffPlans(a, b, { hashesA, hashesB }))
console.log(
  `  -> ${d.summary.servicePortsChanged} service ports changed, +${d.summary.rulesAdded}/-${d.summary.rulesRemoved} rules, ` +
    `${d.summary.chainsAdded} chains added, ${d.summary.chainsRemoved} removed, ${d.summary.unchangedSegments} segments unchanged`,
)
const delta = time('minimalRestore, stored hashes', 5, () => minimalRestore(a, b, { hashesA, hashesB }))
const size = time('deltaSize, stored hashes', 5, () => deltaSize(a, b, { hashesA, hashesB }))
console.log(`  -> delta ${size.rules} rules / ${size.bytes} bytes vs full ${size.totalRules} rules / ${size.totalBytes} bytes (${delta.length} chars)`)
const patch = time('unifiedDiff (normalised scripts)', 3, () => unifiedDiff(a, b))
console.log(`  -> ${patch.split('\n').length} patch lines`)

const nodeDump = restoreText(a) // a node still on version A
const dr = time('drift(B, dump of A)', 3, () => drift(b, nodeDump))
console.log(`  -> ${dr.summary.changedChains} changed, ${dr.summary.staleChains} stale, ${dr.summary.missingChains} missing chains`)
const lastSvc = b.segments[b.segments.length - 2]!
const vip = /-d (\S+) --dport (\d+)/.exec(segmentLines(lastSvc, 'natRules').find((r) => r.startsWith('-A KUBE-SERVICES '))!)!
const pkt = { source: '10.128.0.9', destination: vip[1]!, port: Number(vip[2]), protocol: 'tcp' as const }
time('trace to the last service, cold (parses KUBE-SERVICES)', 3, () => trace(clone(b), pkt, ['192.168.0.2']))
const tr = time('trace to the last service, same plan object again', 5, () => trace(b, pkt, ['192.168.0.2']))
console.log(`  -> ${tr.verdict}, ${tr.endpoints.length} endpoints, ${tr.rulesMatched.length} rules matched`)

// Statistics at ingest: the planner counts each service segment's statistics while writing it
// (plan(…, { stats }), a caller-owned memo) and planStats sums them; what statistics add to
// planning is the difference between planning with and without the memo, plus that sum. The
// scan of every segment (a plan loaded from the store, no memo) is printed for comparison.
// Wall time and CPU time (process.cpuUsage: robust when other processes share the 2 cores).
const planMs: number[] = []
const planCpu: number[] = []
const withMs: number[] = []
const withCpu: number[] = []
const sumMs: number[] = []
const scanMs: number[] = []
const cpu = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}
for (let i = 0; i < 5; i++) {
  let t = performance.now()
  let c = cpu()
  const p = plan(envA)
  planMs.push(performance.now() - t)
  planCpu.push(cpu() - c)
  const memo: StatsMemo = new WeakMap()
  t = performance.now()
  c = cpu()
  const q = plan(envA, { stats: memo })
  withMs.push(performance.now() - t)
  withCpu.push(cpu() - c)
  t = performance.now()
  for (const fp of q.families) planStats(fp, q.counts, memo)
  sumMs.push(performance.now() - t)
  t = performance.now()
  for (const fp of p.families) planStats(fp, p.counts)
  scanMs.push(performance.now() - t)
}
const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!
const pct = (x: number, of: number[]) => ((100 * x) / med(of)).toFixed(1)
console.log(
  `plan: median ${med(planMs).toFixed(1)} ms wall, ${med(planCpu).toFixed(1)} ms CPU; with { stats }: ${med(withMs).toFixed(1)} ms wall, ${med(withCpu).toFixed(1)} ms CPU`,
)
const added = med(withMs) - med(planMs) + med(sumMs)
console.log(
  `planStats share: counting while planning + summing = ${added.toFixed(1)} ms wall = ${pct(added, planMs)}% of planning (CPU: ${pct(med(withCpu) - med(planCpu), planCpu)}% + sum ${med(sumMs).toFixed(1)} ms)`,
)
console.log(`planStats scanning every segment (loaded plan, no memo): median ${med(scanMs).toFixed(1)} ms = ${pct(med(scanMs), planMs)}% of planning`)
