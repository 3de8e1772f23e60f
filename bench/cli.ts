/**
 * `natplan plan` as a whole process against a whole-process `JSON.parse` of the same file
 * (`npm run bench:cli`): a generated 10k Services × 10 endpoints snapshot written to a temporary
 * file, then, alternately, `node dist/src/cli.js plan FILE > /dev/null` and a node process that
 * reads the file and JSON.parses it, both through scripts/node (natplan's memory setting), each
 * BENCH_RUNS times (default 7). Wall time of the whole process, medians. Goal: ≤ 2×.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateSnapshot } from '../src/planner/testing/generate.js'

const SERVICES = Number(process.env.BENCH_SERVICES ?? 10_000)
const ENDPOINTS = Number(process.env.BENCH_ENDPOINTS ?? 10)
const RUNS = Number(process.env.BENCH_RUNS ?? 7)

function timed(args: string[]): number {
  const devnull = openSync('/dev/null', 'w')
  const t0 = performance.now()
  const r = spawnSync('scripts/node', args, { stdio: ['ignore', devnull, 'inherit'] })
  const ms = performance.now() - t0
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}`)
  return ms
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const dir = mkdtempSync(join(tmpdir(), 'natplan-bench-cli-'))
try {
  const file = join(dir, 'snapshot.json')
  writeFileSync(file, JSON.stringify(generateSnapshot({ services: SERVICES, endpointsPerService: ENDPOINTS, seed: 5 })))
  const parse = ['-e', `JSON.parse(require('node:fs').readFileSync(${JSON.stringify(file)}, 'utf8'))`]
  const plan = ['dist/src/cli.js', 'plan', file]
  const nodeOnly = ['-e', '0']
  const t = { parse: [] as number[], plan: [] as number[], node: [] as number[] }
  timed(plan) // warm the page cache and the compile cache
  for (let i = 0; i < RUNS; i++) {
    t.node.push(timed(nodeOnly))
    t.parse.push(timed(parse))
    t.plan.push(timed(plan))
  }
  const [n, p, q] = [median(t.node), median(t.parse), median(t.plan)]
  console.log(`natplan cli bench: ${SERVICES} services × ${ENDPOINTS} endpoints, ${RUNS} runs each, whole processes, medians`)
  console.log(`node -e 0                       ${n.toFixed(0).padStart(6)} ms`)
  console.log(`node: JSON.parse of the file    ${p.toFixed(0).padStart(6)} ms`)
  console.log(`natplan plan FILE > /dev/null   ${q.toFixed(0).padStart(6)} ms`)
  console.log(`ratio plan / parse              ${(q / p).toFixed(2).padStart(6)}×   goal ≤ 2×`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
