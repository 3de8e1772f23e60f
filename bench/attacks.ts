/**
 * Hostile requests against the real server (`npm run bench:attacks`): natplan runs as a child
 * process (scripts/node --import tsx src/server.ts, as `npm run dev` starts it) on a throwaway
 * database (DATABASE_URL or TEST_DATABASE_URL's server, else an embedded PostgreSQL). For each
 * attack: the answer's status, the time until the client had it, and the server's peak resident
 * memory above its idle level while refusing it (VmRSS from /proc/PID/status, sampled every
 * 10 ms; VmHWM, the kernel's own high-water mark, is printed at the end).
 */
import { readFileSync } from 'node:fs'
import { manifestFor, zeroBomb } from '../test/security/bombs.js'
import { startServer } from './server.js'

const WRITE = 'bench-writer-0123456789'
const READ = 'bench-reader-0123456789'
const MiB = 1024 * 1024

function status(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) * 1024 : 0
}

interface Row {
  attack: string
  status: number
  ms: number
  peakMiB: number
}

async function main(): Promise<void> {
  const server = await startServer('attacks', { NATPLAN_TOKENS: `w:write:${WRITE},r:read:${READ}` })
  const { base, pid } = server
  const rows: Row[] = []
  try {
    const auth = (t: string) => ({ authorization: `Bearer ${t}` })
    // Warm up the paths the attacks use (ingest, backup, import, GraphQL), so idle includes them.
    const env = JSON.parse(readFileSync('test/fixtures/conformance/TestClusterIPGeneral/snapshot.json', 'utf8'))
    const post = await fetch(`${base}/v1/clusters/bench/snapshots`, {
      method: 'POST',
      body: JSON.stringify(env),
      headers: { ...auth(WRITE), 'content-type': 'application/json' },
    })
    if (post.status !== 201) throw new Error(`ingest: ${post.status}`)
    const b = (await (
      await fetch(`${base}/v1/clusters/bench/backups`, { method: 'POST', body: '{}', headers: { ...auth(WRITE), 'content-type': 'application/json' } })
    ).json()) as { id: string }
    const archive = Buffer.from(await (await fetch(`${base}/v1/backups/${b.id}/download`, { headers: auth(READ) })).arrayBuffer())
    for (let i = 0; i < 3; i++) {
      await (
        await fetch(`${base}/v1/backups/import?cluster=warm${i}`, {
          method: 'POST',
          body: archive,
          headers: { ...auth(WRITE), 'content-type': 'application/gzip' },
        })
      ).arrayBuffer()
      await (
        await fetch(`${base}/graphql`, {
          method: 'POST',
          body: JSON.stringify({ query: '{ a: diff(cluster: "bench", from: "1", to: "1") { unified } }' }),
          headers: { ...auth(READ), 'content-type': 'application/json' },
        })
      ).arrayBuffer()
    }
    await new Promise((r) => setTimeout(r, 1000))

    async function attack(name: string, send: () => Promise<Response>): Promise<void> {
      const idle = status(pid, 'VmRSS')
      let peak = idle
      const timer = setInterval(() => (peak = Math.max(peak, status(pid, 'VmRSS'))), 10)
      const t0 = performance.now()
      const res = await send()
      await res.arrayBuffer()
      const ms = performance.now() - t0
      // what the server still does after answering (draining the upload) counts too
      await new Promise((r) => setTimeout(r, 200))
      clearInterval(timer)
      peak = Math.max(peak, status(pid, 'VmRSS'))
      rows.push({ attack: name, status: res.status, ms, peakMiB: (peak - idle) / MiB })
      await new Promise((r) => setTimeout(r, 300))
    }
    const upload = (body: Buffer) => () =>
      fetch(`${base}/v1/backups/import?cluster=bomb`, {
        method: 'POST',
        headers: { ...auth(WRITE), 'content-type': 'application/gzip' },
        body: new ReadableStream({
          start(c) {
            for (let i = 0; i < body.length; i += 64 * 1024) c.enqueue(body.subarray(i, i + 64 * 1024))
            c.close()
          },
        }),
        duplex: 'half',
      } as RequestInit)

    const files = (snapshot: number, rules: number) =>
      manifestFor([
        { path: 'versions/1/snapshot.json', bytes: snapshot },
        { path: 'versions/1/restore.rules', bytes: rules },
      ])
    const bomb1 = zeroBomb({ name: 'versions/1/restore.rules', zeroMiB: 1000 })
    await attack(`tar.gz ${(bomb1.length / MiB).toFixed(1)} MB holding a 1,000 MiB file, no manifest first`, upload(bomb1))
    await attack(
      'manifest announcing a 1,000 MiB snapshot.json',
      upload(zeroBomb({ name: 'versions/1/snapshot.json', zeroMiB: 1000, before: [{ name: 'manifest.json', body: files(1000 * MiB, 0) }] })),
    )
    const bomb4 = zeroBomb({ name: 'versions/1/restore.rules', zeroMiB: 4096, before: [{ name: 'manifest.json', body: files(10, 4096 * MiB) }] })
    await attack(`4 GiB bomb (${(bomb4.length / MiB).toFixed(1)} MB), announced by its manifest`, upload(bomb4))
    await attack(
      '4 GiB bomb, manifest says 10 bytes (header disagrees)',
      upload(zeroBomb({ name: 'versions/1/restore.rules', zeroMiB: 4096, before: [{ name: 'manifest.json', body: files(10, 10) }] })),
    )
    await attack(
      '1,000 MiB restore.rules announced honestly (unpacked, hashed, 422)',
      upload(zeroBomb({ name: 'versions/1/restore.rules', zeroMiB: 1000, before: [{ name: 'manifest.json', body: files(10, 1000 * MiB) }] })),
    )

    const yaml = '['.repeat(2000) + ']'.repeat(2000)
    for (const n of [1, 2]) {
      await attack(`YAML 2,000 [ then 2,000 ] (#${n})`, () =>
        fetch(`${base}/v1/clusters/bench/snapshots`, { method: 'POST', body: yaml, headers: { ...auth(WRITE), 'content-type': 'application/yaml' } }),
      )
    }
    const deep = '{"proxy":{},"resources":{"items":[{"kind":"Service","metadata":{"labels":' + '{"a":'.repeat(10000) + '1' + '}'.repeat(10000) + '}}]}}'
    await attack('JSON labels nested 10,000 deep', () =>
      fetch(`${base}/v1/clusters/bench/snapshots`, { method: 'POST', body: deep, headers: { ...auth(WRITE), 'content-type': 'application/json' } }),
    )
    // Millions of tiny items, each one a refusal: the answer stops at 100 issues, and the ingest
    // worker does not fingerprint what cannot be an object.
    for (const [what, item] of [
      ['numbers', '1'],
      ['empty objects', '{}'],
    ] as const) {
      const many = `{"items":[${`${item},`.repeat(Math.floor((24 * MiB) / (item.length + 1)))}${item}]}`
      await attack(`JSON of 24 MiB: items that are ${what}`, () =>
        fetch(`${base}/v1/clusters/bench/snapshots`, { method: 'POST', body: many, headers: { ...auth(WRITE), 'content-type': 'application/json' } }),
      )
    }
    const aliases = `{ ${Array.from({ length: 1000 }, (_, i) => `d${i}: diff(cluster: "bench", from: "1", to: "1") { unified }`).join(' ')} }`
    for (const n of [1, 2, 3]) {
      await attack(`GraphQL 1,000 aliases of diff { unified }, read token (#${n})`, () =>
        fetch(`${base}/graphql`, { method: 'POST', body: JSON.stringify({ query: aliases }), headers: { ...auth(READ), 'content-type': 'application/json' } }),
      )
    }
    const sixteen = `{ ${Array.from({ length: 16 }, (_, i) => `d${i}: diff(cluster: "bench", from: "1", to: "1") { unified }`).join(' ')} }`
    await attack('GraphQL 16 aliases (over NATPLAN_GRAPHQL_MAX_ALIASES)', () =>
      fetch(`${base}/graphql`, { method: 'POST', body: JSON.stringify({ query: sixteen }), headers: { ...auth(READ), 'content-type': 'application/json' } }),
    )
    const alive = await fetch(`${base}/healthz`)

    console.log(
      `\nnatplan bench:attacks  (${new Date().toISOString()}, node ${process.version}, load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')})`,
    )
    console.log(`${'attack'.padEnd(70)} ${'status'.padStart(6)} ${'time ms'.padStart(9)} ${'peak RSS above idle MiB'.padStart(24)}`)
    for (const r of rows)
      console.log(`${r.attack.padEnd(70)} ${String(r.status).padStart(6)} ${r.ms.toFixed(1).padStart(9)} ${r.peakMiB.toFixed(1).padStart(24)}`)
    console.log(
      `server VmHWM ${(status(pid, 'VmHWM') / MiB).toFixed(0)} MiB, VmRSS now ${(status(pid, 'VmRSS') / MiB).toFixed(0)} MiB; /healthz after all: ${alive.status}`,
    )
  } finally {
    await server.stop()
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
