/**
 * Every node of a cluster (`npm run bench:nodes`): a generated 10k Services × 10 endpoints
 * snapshot, 5 % of the Services with internalTrafficPolicy Local, planned and stored for one
 * node, then for every node of 500 and of 5,000 (BENCH_NODES), once with the ClusterCIDR
 * local-traffic detector and once with NodeCIDR. Whole requests through the real app on real
 * PostgreSQL (TEST_DATABASE_URL's server, a fresh database per scenario, or an embedded one),
 * each scenario in a process of its own so its peak memory is its own.
 *
 * "Plan and store every node" is the snapshot's POST (which plans every node and stores the
 * version) and the first GET of its /nodes listing (every node's digest and counts); "one node"
 * is the POST of the same Services with one Node. The restore-script GETs are curl's, over a
 * loopback socket. Goals: ≤ 3× at 500 nodes and ≤ 10× at 5,000
 * in ClusterCIDR mode; storage ≤ 1.3× of one node's; a node's restore-script GET ≥ 200 MB/s.
 */
import { execFile, spawnSync } from 'node:child_process'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { buildApp } from '../src/app.js'
import { defaultConfig } from '../src/config.js'
import { openDatabase, type Database } from '../src/db/index.js'
import { createThrowawayDatabase } from '../src/db/throwaway.js'
import { generateSnapshot } from '../src/planner/testing/generate.js'
import { createServices } from '../src/services/index.js'

const SERVICES = Number(process.env.BENCH_SERVICES ?? 10_000)
const ENDPOINTS = Number(process.env.BENCH_ENDPOINTS ?? 10)
const NODES = (process.env.BENCH_NODES ?? '500,5000').split(',').map(Number)
const MB = 1024 * 1024
const execFileAsync = promisify(execFile)

interface Result {
  scenario: string
  nodes: number
  mode: string
  postMs: number
  listMs: number
  variants: number
  storage: number
  scriptMBps: number
  scriptBytes: number
  peakRssMB: number
}

async function storageBytes(db: Database): Promise<number> {
  const res = await db.pool.query<{ n: string }>(
    `SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0) AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> '_prisma_migrations'`,
  )
  return Number(res.rows[0]!.n)
}

/** One scenario, in this process: prints its Result as one JSON line. */
async function scenario(nodes: number, mode: 'ClusterCIDR' | 'NodeCIDR'): Promise<void> {
  const env = generateSnapshot({ services: SERVICES, endpointsPerService: ENDPOINTS, nodes, internalLocal: 0.05, proxy: { detectLocalMode: mode } })
  // The cluster's settings, not one node's: the Node objects say which node is which.
  for (const k of ['nodeName', 'nodeIPs', 'zone', 'localDetector'] as const) delete env.proxy[k]
  const body = JSON.stringify(env)
  const srv = await createThrowawayDatabase('bench-nodes', process.env.TEST_DATABASE_URL)
  const db = await openDatabase({ databaseUrl: srv.url })
  const app = await buildApp({ config: defaultConfig({ rateLimit: null }), services: createServices(db), logger: false })
  try {
    await app.ready()
    const empty = await storageBytes(db)
    let t = performance.now()
    const post = await app.inject({ method: 'POST', url: '/v1/clusters/bench/snapshots', payload: body, headers: { 'content-type': 'application/json' } })
    const postMs = performance.now() - t
    if (post.statusCode !== 201) throw new Error(`POST ${post.statusCode}: ${post.body.slice(0, 500)}`)
    t = performance.now()
    const list = await app.inject({ method: 'GET', url: '/v1/clusters/bench/versions/1/nodes' })
    const listMs = performance.now() - t
    if (list.statusCode !== 200) throw new Error(`GET nodes ${list.statusCode}: ${list.body.slice(0, 500)}`)
    const listed = list.json() as { variants: number; items: Array<{ name: string }> }
    const storage = (await storageBytes(db)) - empty
    // A node's restore script over real HTTP on a loopback socket, read whole by curl in
    // separate processes (an in-process client would compete with the server for this
    // process's CPU), 4 in flight; the first GET renders it, the others are served from memory.
    const node = listed.items[Math.floor(listed.items.length / 2)]!.name
    const base = await app.listen({ host: '127.0.0.1', port: 0 })
    const url = `${base}/v1/clusters/bench/versions/1/nodes/${node}/restore-script`
    const curl = async (): Promise<number> => Number((await execFileAsync('curl', ['-sf', '-o', '/dev/null', '-w', '%{size_download}', url])).stdout)
    const bytes = await curl()
    t = performance.now()
    let read = 0
    for (let i = 0; i < 5; i++) read += (await Promise.all([curl(), curl(), curl(), curl()])).reduce((a, b) => a + b, 0)
    const scriptMBps = read / MB / ((performance.now() - t) / 1000)
    const result: Result = {
      scenario: `${nodes}-${mode}`,
      nodes,
      mode,
      postMs,
      listMs,
      variants: listed.variants,
      storage,
      scriptMBps,
      scriptBytes: bytes,
      peakRssMB: (process.resourceUsage().maxRSS * 1024) / MB,
    }
    console.log(JSON.stringify(result))
  } finally {
    await app.close()
    await db.close()
    await srv.drop()
  }
}

function run(nodes: number, mode: string): Result {
  const self = fileURLToPath(import.meta.url)
  const child = spawnSync(process.execPath, [...process.execArgv, self, String(nodes), mode], { encoding: 'utf8', env: process.env, maxBuffer: 64 * MB })
  const line = child.stdout.trim().split('\n').at(-1) ?? ''
  if (child.status !== 0 || !line.startsWith('{')) throw new Error(`scenario ${nodes} ${mode} failed:\n${child.stdout}\n${child.stderr}`)
  return JSON.parse(line) as Result
}

async function main(): Promise<void> {
  console.log(
    `natplan nodes bench: ${SERVICES} services × ${ENDPOINTS} endpoints, 5 % internalTrafficPolicy Local; load average ${(await import('node:os')).loadavg()[0]!.toFixed(1)}\n`,
  )
  console.log(
    `${'scenario'.padEnd(18)} ${'POST s'.padStart(8)} ${'/nodes s'.padStart(9)} ${'total ×1'.padStart(9)} ${'variants'.padStart(9)} ${'storage MB'.padStart(11)} ${'×1'.padStart(6)} ${'GET MB/s'.padStart(9)} ${'peak MB'.padStart(8)}`,
  )
  for (const mode of ['ClusterCIDR', 'NodeCIDR']) {
    const one = run(1, mode)
    const rows = [one, ...NODES.map((n) => run(n, mode))]
    const oneTotal = one.postMs + one.listMs
    for (const r of rows) {
      const total = r.postMs + r.listMs
      console.log(
        `${r.scenario.padEnd(18)} ${(r.postMs / 1000).toFixed(2).padStart(8)} ${(r.listMs / 1000).toFixed(2).padStart(9)} ${(total / oneTotal).toFixed(2).padStart(9)} ${String(r.variants).padStart(9)} ${(r.storage / MB).toFixed(1).padStart(11)} ${(r.storage / one.storage).toFixed(2).padStart(6)} ${r.scriptMBps.toFixed(0).padStart(9)} ${r.peakRssMB.toFixed(0).padStart(8)}`,
      )
    }
  }
  console.log('\ngoals (ClusterCIDR): total ≤ 3× at 500 nodes, ≤ 10× at 5,000; storage ≤ 1.3×; GET ≥ 200 MB/s')
}

if (process.argv[2] !== undefined) await scenario(Number(process.argv[2]), process.argv[3] as 'ClusterCIDR' | 'NodeCIDR')
else await main()
