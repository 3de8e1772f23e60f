/**
 * HTTP-layer benchmark (`npm run bench:api`): the real app on a real socket over real
 * PostgreSQL (DATABASE_URL, else an embedded server in a temp dir). Prints latency percentiles
 * and throughput for the hot paths: ingest, version metadata, restore script, GraphQL list.
 */
import { mkdtempSync, chmodSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildApp } from '../src/app.js'
import { defaultConfig } from '../src/config.js'
import { openDatabase } from '../src/db/index.js'
import { createServices } from '../src/services/index.js'

function envelope(port: number, endpoints: number): unknown {
  return {
    proxy: { nodeName: 'node-a', nodeIPs: ['192.168.0.2'], clusterCIDR: '10.0.0.0/8' },
    resources: {
      kind: 'List',
      items: [
        {
          kind: 'Service',
          metadata: { name: 'web', namespace: 'default' },
          spec: { clusterIP: '172.30.0.10', ports: [{ name: 'http', protocol: 'TCP', port, targetPort: 8080 }] },
        },
        {
          kind: 'EndpointSlice',
          apiVersion: 'discovery.k8s.io/v1',
          metadata: { name: 'web-1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' } },
          addressType: 'IPv4',
          ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
          endpoints: Array.from({ length: endpoints }, (_, i) => ({ addresses: [`10.1.${i >> 8}.${i & 255}`], conditions: { ready: true } })),
        },
      ],
    },
  }
}

async function measure(label: string, n: number, concurrency: number, once: (i: number) => Promise<Response>): Promise<void> {
  const times: number[] = []
  let next = 0
  const start = performance.now()
  const worker = async () => {
    while (next < n) {
      const i = next++
      const t0 = performance.now()
      const res = await once(i)
      await res.arrayBuffer()
      if (res.status >= 400) throw new Error(`${label}: HTTP ${res.status}`)
      times.push(performance.now() - t0)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  const total = (performance.now() - start) / 1000
  times.sort((a, b) => a - b)
  const pct = (p: number) => times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))]!.toFixed(1)
  console.log(
    `${label.padEnd(44)} n=${n} c=${concurrency}  ${(n / total).toFixed(0).padStart(5)} req/s  p50 ${pct(50)} ms  p95 ${pct(95)} ms  p99 ${pct(99)} ms`,
  )
}

async function main(): Promise<void> {
  let dataDir: string | undefined
  if (!process.env.DATABASE_URL) {
    dataDir = mkdtempSync(join(tmpdir(), 'natplan-bench-'))
    chmodSync(dataDir, 0o755)
  }
  const db = await openDatabase({ databaseUrl: process.env.DATABASE_URL, dataDir: dataDir && join(dataDir, 'pg') })
  const app = await buildApp({ config: defaultConfig({ rateLimit: null }), services: createServices(db), logger: false })
  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  const cluster = `bench-${Date.now().toString(36)}`
  const json = { 'content-type': 'application/json' }
  try {
    await measure('POST snapshot (new version, 50 endpoints)', 200, 4, (i) =>
      fetch(`${base}/v1/clusters/${cluster}/snapshots`, { method: 'POST', headers: json, body: JSON.stringify(envelope(1000 + i, 50)) }),
    )
    await measure('POST snapshot (identical, deduplicated)', 200, 4, () =>
      fetch(`${base}/v1/clusters/${cluster}/snapshots`, { method: 'POST', headers: json, body: JSON.stringify(envelope(1000, 50)) }),
    )
    await measure('GET version metadata', 1000, 8, (i) => fetch(`${base}/v1/clusters/${cluster}/versions/${(i % 200) + 1}`))
    await measure('GET restore-script (all tables)', 1000, 8, (i) => fetch(`${base}/v1/clusters/${cluster}/versions/${(i % 200) + 1}/restore-script`))
    const fixture = readFileSync(new URL('../test/fixtures/conformance/TestSyncProxyRulesRepeated__initial_full_sync/snapshot.json', import.meta.url), 'utf8')
    await fetch(`${base}/v1/clusters/${cluster}-fx/snapshots`, { method: 'POST', headers: json, body: fixture })
    await measure('GET restore-script, If-None-Match (304)', 1000, 8, async () => {
      const etag = (await fetch(`${base}/v1/clusters/${cluster}-fx/versions/latest/restore-script`, { method: 'HEAD' })).headers.get('etag') ?? ''
      return fetch(`${base}/v1/clusters/${cluster}-fx/versions/latest/restore-script`, { headers: { 'if-none-match': etag } })
    })
    const query = `{ cluster(name: "${cluster}") { versions(limit: 50) { items { version counts { services endpoints } plan { families { family tables { table rules } } } } } } }`
    await measure('GraphQL 50 versions with plan summaries', 300, 4, () =>
      fetch(`${base}/graphql`, { method: 'POST', headers: json, body: JSON.stringify({ query }) }),
    )
    await measure('GET /healthz', 2000, 8, () => fetch(`${base}/healthz`))
  } finally {
    await app.close()
    await db.close()
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
