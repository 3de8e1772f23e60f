/**
 * Load (`npm run bench:load`): the real server as a child process (as `npm run dev` starts it)
 * on a throwaway database, a 2k-Service version (3 endpoints each), and autocannon at 50 connections
 * GETting its restore script for 10 s: plain, then with `Accept-Encoding: gzip`; then the gzip
 * GETs again while 10k-Service × 10-endpoint snapshots are ingested beside them — first a new
 * cluster's first version and what re-POSTs fit after it, then a row of re-POSTs alone (1 % churn,
 * an agent's steady state) — with the server's event-loop lag (prom-client's nodejs_eventloop_lag_p99, read from /metrics, which
 * resets it at each scrape) over that window. Client and server share the machine's cores; the
 * client is wrk when installed (see CLIENT), else autocannon.
 *
 * Goals: gzip GETs ≥ 1,000 req/s with p99 ≤ 100 ms; event-loop lag p99 ≤ 100 ms during ingests.
 */
import { execFile, spawnSync } from 'node:child_process'
import { promisify } from 'node:util'
import { cpus, loadavg } from 'node:os'
import autocannon from 'autocannon'
import { generateSnapshot } from '../src/planner/testing/generate.js'
import { startServer } from './server.js'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)

interface Row {
  scenario: string
  rps: number
  p50: number
  p99: number
  mbps: number
  errors: number
  lagP99?: number
}

/**
 * The load generator. autocannon, in one Node process on the same two cores, tops out near
 * 150-200 responses/s of a few hundred KB while the server idles (a CPU profile showed it 67 %
 * idle): it measures itself. wrk (Debian's `wrk`, C) does not, so it is used when installed;
 * BENCH_CLIENT=autocannon forces autocannon.
 */
const CLIENT = process.env.BENCH_CLIENT ?? (spawnSync('sh', ['-c', 'command -v wrk']).status === 0 ? 'wrk' : 'autocannon')

type Measured = Omit<Row, 'scenario' | 'lagP99'>

async function cannon(url: string, headers: Record<string, string>): Promise<Measured> {
  const r = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS, headers })
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, mbps: r.throughput.average / 1024 / 1024, errors: r.errors + r.non2xx }
}

async function wrk(url: string, headers: Record<string, string>): Promise<Measured> {
  const args = ['-t2', `-c${CONNECTIONS}`, `-d${SECONDS}s`, '--latency', ...Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]), url]
  const { stdout } = await promisify(execFile)('wrk', args)
  const ms = (label: string): number => {
    const m = new RegExp(`^\\s*${label}\\s+([\\d.]+)(us|ms|s)[ \\t]*$`, 'm').exec(stdout)
    if (!m) return NaN
    return Number(m[1]) * ({ us: 0.001, ms: 1, s: 1000 } as Record<string, number>)[m[2]!]!
  }
  const transfer = /^Transfer\/sec:\s+([\d.]+)(KB|MB|GB)\s*$/m.exec(stdout)
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(stdout)
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout)
  return {
    rps: Number(/^Requests\/sec:\s+([\d.]+)$/m.exec(stdout)?.[1]),
    p50: ms('50%'),
    p99: ms('99%'),
    mbps: transfer ? Number(transfer[1]) * ({ KB: 1 / 1024, MB: 1, GB: 1024 } as Record<string, number>)[transfer[2]!]! : NaN,
    errors: Number(errors?.[1] ?? 0) + (socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0),
  }
}

async function lagP99(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text()
  const m = /^natplan_nodejs_eventloop_lag_p99_seconds (\S+)$/m.exec(text)
  return m ? Number(m[1]) * 1000 : NaN
}

async function main(): Promise<void> {
  const server = await startServer('load', { NATPLAN_TOKENS: '', NATPLAN_METRICS_AUTH: 'none' })
  const { base } = server
  const rows: Row[] = []
  try {
    const post = (cluster: string, body: unknown) =>
      fetch(`${base}/v1/clusters/${cluster}/snapshots`, {
        method: 'POST',
        body: body instanceof Uint8Array ? body : JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      })
    const small = await post('load', generateSnapshot({ services: 2000, seed: 3 }))
    if (small.status !== 201) throw new Error(`ingest: ${small.status} ${await small.text()}`)
    const url = `${base}/v1/clusters/load/versions/1/restore-script`
    const plainBytes = (await (await fetch(url)).arrayBuffer()).byteLength

    const run = async (scenario: string, headers: Record<string, string>, beside?: () => Promise<void>): Promise<void> => {
      await lagP99(base)
      let stop = false
      const side = beside
        ? (async () => {
            while (!stop) await beside()
          })()
        : undefined
      const r = await (CLIENT === 'wrk' ? wrk(url, headers) : cannon(url, headers))
      stop = true
      await side
      rows.push({ scenario, ...r, lagP99: await lagP99(base) })
    }

    await run('restore-script, plain', {})
    await run('restore-script, gzip', { 'accept-encoding': 'gzip' })
    // 10k × 10 snapshots beside the GETs, each a little different from the one before (churn) so
    // each is planned and stored. Their bodies are made before the row starts: generating and
    // serialising 28 MB takes this process about as long as the server's ingest, on the same two
    // cores, and the row measures the server. BENCH_INGEST_BODIES of them, in turn.
    let ingests = 0
    const bodies = Array.from({ length: Number(process.env.BENCH_INGEST_BODIES ?? 8) }, (_, round) =>
      Buffer.from(JSON.stringify(generateSnapshot({ services: 10_000, endpointsPerService: 10, seed: 11, churn: 0.01, round }))),
    )
    const ingestBig = async (): Promise<void> => {
      const res = await post('big', bodies[ingests % bodies.length])
      await res.arrayBuffer()
      if (res.status >= 300) throw new Error(`big ingest: ${res.status}`)
      ingests++
    }
    // The cluster's first version (every object new, 60 MB stored), then as many re-POSTs as fit.
    await run('restore-script, gzip, 10k ingests beside', { 'accept-encoding': 'gzip' }, ingestBig)
    const firstRow = ingests
    // An agent's steady state: the same cluster re-POSTed with 1 % changed, one after another.
    await run('  the same, 10k re-ingests (1 % churn) beside', { 'accept-encoding': 'gzip' }, ingestBig)

    console.log(
      `natplan load bench (${CLIENT}): ${CONNECTIONS} connections × ${SECONDS} s per row, script ${(plainBytes / 1024 / 1024).toFixed(1)} MB plain; ${cpus().length} cores, load ${loadavg()[0]!.toFixed(1)}; 10k ingests: ${firstRow} in the first row beside (the first version, then re-POSTs), ${ingests - firstRow} in the re-ingest row`,
    )
    console.log('')
    console.log('scenario                                    req/s   p50 ms   p99 ms    MB/s  errors  loop lag p99 ms')
    for (const r of rows) {
      console.log(
        `${r.scenario.padEnd(42)} ${r.rps.toFixed(0).padStart(6)} ${r.p50.toFixed(0).padStart(8)} ${r.p99.toFixed(0).padStart(8)} ${r.mbps.toFixed(1).padStart(7)} ${String(r.errors).padStart(7)} ${(r.lagP99 ?? NaN).toFixed(1).padStart(16)}`,
      )
    }
    console.log('')
    console.log('goals: gzip ≥ 1,000 req/s with p99 ≤ 100 ms; event-loop lag p99 ≤ 100 ms during ingests')
  } finally {
    await server.stop()
  }
}

await main()
