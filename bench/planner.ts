/**
 * Planner benchmark: generated snapshots of 1k, 10k and 30k ClusterIP services x 10 endpoints.
 * Each size runs in its own child process (so peak RSS is that pipeline's alone): read the
 * snapshot file, JSON.parse it, validate it (toEnvelope), plan it, render it streaming.
 *
 *   npm run bench:planner              # all sizes
 *   npm run bench:planner -- 10000     # chosen sizes
 *
 * Goals at 10k: plan time / JSON.parse time <= 1.0, peak RSS <= 512 MiB, linear growth.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { generateSnapshot } from '../src/planner/testing/generate.js'
import { plan, renderRestoreChunks, toEnvelope } from '../src/planner/index.js'

const ENDPOINTS = 10

interface Result {
  services: number
  fileMiB: number
  parseMs: number
  validateMs: number
  planMs: number
  renderMs: number
  renderMiB: number
  rules: number
  maxRssMiB: number
}

function best<T>(runs: number, f: () => T): { ms: number; value: T } {
  let ms = Infinity
  let value!: T
  for (let i = 0; i < runs; i++) {
    if (global.gc) global.gc()
    const t = performance.now()
    value = f()
    ms = Math.min(ms, performance.now() - t)
  }
  return { ms, value }
}

function child(file: string, services: number): void {
  const text = readFileSync(file, 'utf8')
  const runs = services >= 30000 ? 2 : 3
  const parsed = best(runs, () => JSON.parse(text) as unknown)
  const validated = best(runs, () => toEnvelope(parsed.value))
  if (!validated.value.ok) throw new Error(JSON.stringify(validated.value.issues.slice(0, 3)))
  const env = validated.value.envelope
  const planned = best(runs, () => plan(env))
  const fp = planned.value.families[0]!
  const rendered = best(runs, () => {
    let bytes = 0
    let rules = 0
    for (const chunk of renderRestoreChunks(fp)) {
      bytes += Buffer.byteLength(chunk)
      for (let i = chunk.indexOf('\n-A '); i >= 0; i = chunk.indexOf('\n-A ', i + 1)) rules++
    }
    return { bytes, rules }
  })
  const r: Result = {
    services,
    fileMiB: Buffer.byteLength(text) / 2 ** 20,
    parseMs: parsed.ms,
    validateMs: validated.ms,
    planMs: planned.ms,
    renderMs: rendered.ms,
    renderMiB: rendered.value.bytes / 2 ** 20,
    rules: rendered.value.rules,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
  }
  process.stdout.write(JSON.stringify(r) + '\n')
}

function main(): void {
  const args = process.argv.slice(2)
  if (args[0] === '--child') return child(args[1]!, Number(args[2]))
  const sizes = args.length > 0 ? args.map(Number) : [1000, 10000, 30000]
  const dir = mkdtempSync(join(tmpdir(), 'natplan-bench-'))
  const results: Result[] = []
  try {
    for (const n of sizes) {
      const file = join(dir, `snapshot-${n}.json`)
      writeFileSync(file, JSON.stringify(generateSnapshot({ services: n, endpointsPerService: ENDPOINTS })))
      const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', import.meta.filename, '--child', file, String(n)], {
        encoding: 'utf8',
        maxBuffer: 1 << 20,
      })
      results.push(JSON.parse(out.trim().split('\n').pop()!) as Result)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const f = (x: number, d = 0): string => x.toFixed(d)
  console.log(`planner benchmark: ClusterIP services x ${ENDPOINTS} endpoints, node ${process.version}, best of 3 (2 at 30k)`)
  console.log('services | file MiB | JSON.parse ms | validate ms | plan ms | plan/parse | render ms | render MiB | rules | peak RSS MiB')
  for (const r of results) {
    console.log(
      [f(r.services), f(r.fileMiB, 1), f(r.parseMs), f(r.validateMs), f(r.planMs), f(r.planMs / r.parseMs, 2), f(r.renderMs), f(r.renderMiB, 1), f(r.rules), f(r.maxRssMiB)].join(' | '),
    )
  }
  if (results.length > 1) {
    const a = results[0]!
    const b = results[results.length - 1]!
    console.log(`growth ${a.services} -> ${b.services} (x${f(b.services / a.services)}): plan x${f(b.planMs / a.planMs, 1)}, render x${f(b.renderMs / a.renderMs, 1)}`)
  }
}

main()
