/**
 * Planner benchmark: generated snapshots of 1k, 10k and 30k ClusterIP services x 10 endpoints.
 * Each size runs in its own child process (so peak RSS is that pipeline's alone): read the
 * snapshot file, JSON.parse it, validate it (toEnvelope), plan it, render it streaming.
 *
 *   npm run bench:planner              # all sizes
 *   npm run bench:planner -- 10000     # chosen sizes
 *   BENCH_RUNS=9 npm run bench:planner -- 10000
 *
 * "plan" is plan(envelope) on an already validated envelope (validation is reported apart).
 * Every run plans a fresh envelope (the planner keeps nothing between calls except the
 * probability-string cache), so each figure is a first plan of that snapshot.
 *
 * The machine is shared, so timings are noisy: each run measures JSON.parse and plan back to
 * back (both inflate alike when the machine is busy), the ratio is taken per run, and medians
 * over the runs are printed.
 *
 * Goals at 10k: plan time / JSON.parse time <= 1.0, peak RSS <= 512 MiB, linear growth.
 *
 * `npm run bench:planner` runs node through scripts/node, as `npm start` runs natplan: glibc's
 * malloc keeps freed memory for reuse, and the plan's text lives there (README, "Memory"); the
 * children inherit it. `GLIBC_TUNABLES= npm run bench:planner` measures without.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { GCProfiler } from 'node:v8'
import { generateSnapshot } from '../src/planner/testing/generate.js'
import { plan, renderRestoreChunks, toEnvelope, type FamilyPlan } from '../src/planner/index.js'

const ENDPOINTS = 10

interface Result {
  services: number
  fileMiB: number
  parseMs: number
  validateMs: number
  planMs: number
  /** median over runs of plan/parse measured in the same run, and its range */
  ratio: number
  ratioMin: number
  ratioMax: number
  renderMs: number
  renderMiB: number
  /** medians: GC pauses inside JSON.parse and inside plan, and the minor page faults of each */
  parseGcMs: number
  planGcMs: number
  parseFaults: number
  planFaults: number
  rules: number
  maxRssMiB: number
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/**
 * Each timed step also reports its GC pauses (v8.GCProfiler, read synchronously when the step
 * ends) and the minor page faults it took: on these VMs a first touch of a page costs ~12 us, so
 * a step that grows the heap pays for it in both.
 */
function timed<T>(f: () => T): { ms: number; value: T; gcMs: number; faults: number } {
  if (global.gc) global.gc()
  const profiler = new GCProfiler()
  const faults = process.resourceUsage().minorPageFault
  profiler.start()
  const t = performance.now()
  const value = f()
  const ms = performance.now() - t
  const gcMs = (profiler.stop()?.statistics ?? []).reduce((sum, s) => sum + s.cost / 1000, 0)
  return { ms, value, gcMs, faults: process.resourceUsage().minorPageFault - faults }
}

function render(fp: FamilyPlan): { bytes: number; rules: number } {
  let bytes = 0
  let rules = 0
  for (const chunk of renderRestoreChunks(fp)) {
    bytes += Buffer.byteLength(chunk)
    for (let i = chunk.indexOf('\n-A '); i >= 0; i = chunk.indexOf('\n-A ', i + 1)) rules++
  }
  return { bytes, rules }
}

function child(file: string, services: number, runs: number): void {
  const text = readFileSync(file, 'utf8')
  const parse: number[] = []
  const validate: number[] = []
  const planMs: number[] = []
  const ratio: number[] = []
  const renderMs: number[] = []
  const gc = { parse: [] as number[], plan: [] as number[], parseFaults: [] as number[], planFaults: [] as number[] }
  let rendered = { bytes: 0, rules: 0 }
  for (let r = 0; r < runs; r++) {
    const parsed = timed(() => JSON.parse(text) as unknown)
    // Validation may reuse the parsed objects, so each run validates its own parse.
    const validated = timed(() => toEnvelope(parsed.value))
    if (!validated.value.ok) throw new Error(JSON.stringify(validated.value.issues.slice(0, 3)))
    const env = validated.value.envelope
    const planned = timed(() => plan(env))
    const out = timed(() => render(planned.value.families[0]!))
    rendered = out.value
    parse.push(parsed.ms)
    validate.push(validated.ms)
    planMs.push(planned.ms)
    ratio.push(planned.ms / parsed.ms)
    renderMs.push(out.ms)
    gc.parse.push(parsed.gcMs)
    gc.plan.push(planned.gcMs)
    gc.parseFaults.push(parsed.faults)
    gc.planFaults.push(planned.faults)
  }
  const r: Result = {
    services,
    fileMiB: Buffer.byteLength(text) / 2 ** 20,
    parseMs: median(parse),
    validateMs: median(validate),
    planMs: median(planMs),
    ratio: median(ratio),
    ratioMin: Math.min(...ratio),
    ratioMax: Math.max(...ratio),
    renderMs: median(renderMs),
    renderMiB: rendered.bytes / 2 ** 20,
    rules: rendered.rules,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    parseGcMs: median(gc.parse),
    planGcMs: median(gc.plan),
    parseFaults: median(gc.parseFaults),
    planFaults: median(gc.planFaults),
  }
  process.stdout.write(JSON.stringify(r) + '\n')
}

function main(): void {
  const args = process.argv.slice(2)
  if (args[0] === '--child') return child(args[1]!, Number(args[2]), Number(args[3]))
  const sizes = args.length > 0 ? args.map(Number) : [1000, 10000, 30000]
  const dir = mkdtempSync(join(tmpdir(), 'natplan-bench-'))
  const results: Result[] = []
  try {
    for (const n of sizes) {
      const file = join(dir, `snapshot-${n}.json`)
      writeFileSync(file, JSON.stringify(generateSnapshot({ services: n, endpointsPerService: ENDPOINTS })))
      const runs = Number(process.env.BENCH_RUNS ?? (n >= 30000 ? 3 : 5))
      const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', import.meta.filename, '--child', file, String(n), String(runs)], {
        encoding: 'utf8',
        maxBuffer: 1 << 20,
      })
      results.push(JSON.parse(out.trim().split('\n').pop()!) as Result)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const f = (x: number, d = 0): string => x.toFixed(d)
  const runs = process.env.BENCH_RUNS ?? '5 (3 at 30k)'
  console.log(`planner benchmark: ClusterIP services x ${ENDPOINTS} endpoints, node ${process.version}, medians of ${runs} runs`)
  console.log(`memory: GLIBC_TUNABLES=${process.env.GLIBC_TUNABLES ?? '(unset)'} (README, "Memory")`)
  console.log(
    'services | file MiB | JSON.parse ms | validate ms | plan ms | plan/parse (min-max) | render ms | render MiB | rules | peak RSS MiB | GC ms parse/plan | page faults parse/plan',
  )
  for (const r of results) {
    const ratio = `${f(r.ratio, 2)} (${f(r.ratioMin, 2)}-${f(r.ratioMax, 2)})`
    console.log(
      [
        f(r.services),
        f(r.fileMiB, 1),
        f(r.parseMs),
        f(r.validateMs),
        f(r.planMs),
        ratio,
        f(r.renderMs),
        f(r.renderMiB, 1),
        f(r.rules),
        f(r.maxRssMiB),
        `${f(r.parseGcMs)}/${f(r.planGcMs)}`,
        `${f(r.parseFaults)}/${f(r.planFaults)}`,
      ].join(' | '),
    )
  }
  if (results.length > 1) {
    const a = results[0]!
    const b = results[results.length - 1]!
    console.log(
      `growth ${a.services} -> ${b.services} (x${f(b.services / a.services)}): JSON.parse x${f(b.parseMs / a.parseMs, 1)}, plan x${f(b.planMs / a.planMs, 1)}, render x${f(b.renderMs / a.renderMs, 1)}`,
    )
  }
}

main()
