/**
 * The ingest worker thread (src/services/ingest-workers.ts) answers exactly as the same work on
 * the event loop does (NATPLAN_INGEST_WORKERS=0): every refusal of a body — empty, malformed,
 * too deep, a NUL, prototype poisoning, bad YAML, an invalid snapshot — is the same kind of error
 * with the same detail and pointers, and a valid body makes the same version. Over HTTP, the
 * snapshot route's own limits (NATPLAN_MAX_DEPTH) reach the worker.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Database } from '../../src/db/index.js'
import { DomainError, LimitError } from '../../src/errors.js'
import type { Services } from '../../src/services/contract.js'
import { createServices } from '../../src/services/index.js'
import { IngestWorkers, IngestWorkerStoppedError } from '../../src/services/ingest-workers.js'
import type { Validated } from '../../src/services/ingest-prepare.js'
import { generateSnapshot } from '../../src/planner/testing/generate.js'
import type { Piscina } from 'piscina'
import { smallEnvelope, startTestApp, type TestApp } from '../api/helpers.js'
import { uniqueName } from '../helpers/db.js'
import { openTestServices } from '../helpers/services.js'

let db: Database
let threaded: Services
let local: Services
beforeAll(async () => {
  ;({ db, services: threaded } = await openTestServices({ services: { ingestWorkers: 1 } }))
  local = createServices(db, { ingestWorkers: 0 })
  await threaded.start?.()
})
afterAll(async () => {
  await threaded?.close?.()
  await db?.close()
})

const invalid = smallEnvelope()
invalid.resources.items[0].spec.ports[0].port = 70000

const bodies: Array<[string, string, 'json' | 'yaml']> = [
  ['empty', '', 'json'],
  ['malformed', '{"resources": [', 'json'],
  ['prototype poisoning', '{"__proto__": {"x": 1}, "resources": []}', 'json'],
  ['too deep', '['.repeat(100) + ']'.repeat(100), 'json'],
  ['a NUL', JSON.stringify({ ...smallEnvelope(), note: 'a\u0000b' }), 'json'],
  ['not a document', '42', 'json'],
  ['bad YAML', 'resources:\n  items: [\n', 'yaml'],
  ['empty YAML', '---\n', 'yaml'],
  ['an invalid snapshot', JSON.stringify(invalid), 'json'],
]

async function outcome(services: Services, cluster: string, text: string, type: 'json' | 'yaml'): Promise<unknown> {
  try {
    const r = await services.ingest({ cluster, body: { bytes: Buffer.from(text), type }, actor: 't' })
    return { created: r.created, snapshotSha256: r.version.snapshotSha256, planSha256: r.version.planSha256, counts: r.version.counts }
  } catch (err) {
    if (!(err instanceof DomainError)) throw err
    return { error: err.constructor.name, status: err.status, detail: err.message, issues: err.issues, ...(err instanceof LimitError && { limit: err.limit }) }
  }
}

describe('ingest worker threads', () => {
  it.each(bodies)('refuses %s as the event loop does', async (_name, text, type) => {
    const a = await outcome(threaded, uniqueName('w'), text, type)
    const b = await outcome(local, uniqueName('w'), text, type)
    expect(a).toHaveProperty('error')
    expect(a).toEqual(b)
  })

  it('a valid body, JSON or YAML, makes the same version in both', async () => {
    const text = JSON.stringify(smallEnvelope({ name: 'same' }))
    const a = await outcome(threaded, uniqueName('w'), text, 'json')
    const b = await outcome(local, uniqueName('w'), text, 'json')
    expect(a).toMatchObject({ created: true })
    expect(a).toEqual(b)
    const yaml = await outcome(threaded, uniqueName('w'), text, 'yaml')
    expect(yaml).toEqual(a)
  })
})

describe('a re-POST read item by item (src/services/json-items.ts)', () => {
  // The cluster's previous version is known to the worker, so the items sent as then are taken
  // from it unparsed and only the rest of the body is parsed: a fault in the rest must be refused
  // exactly as a cold parse of the whole body refuses it.
  const before = JSON.stringify(smallEnvelope({ name: 'seen', endpoints: ['10.1.0.5', '10.1.0.6'] }), null, 4)
  const service = before.indexOf('"kind": "Service"')
  const edits: Array<[string, (text: string) => string]> = [
    ['an item cut short', (t) => t.slice(0, service) + t.slice(service + 8)],
    ['a trailing comma in items', (t) => t.replace(/\}\n(\s*)\]\n(\s*)\}\n\}$/, '},\n$1]\n$2}\n}')],
    ['a __proto__ key in a changed item', (t) => t.slice(0, service) + '"__proto__": {"x": 1}, ' + t.slice(service)],
    ['a NUL in a changed item', (t) => t.slice(0, service) + '"note": "a\\u0000b", ' + t.slice(service)],
    ['a changed item too deep', (t) => t.slice(0, service) + `"deep": ${'['.repeat(80)}${']'.repeat(80)}, ` + t.slice(service)],
    ['an invalid port in a changed item', (t) => t.replace('"port": 80,', '"port": 70000,')],
    ['text after the document', (t) => t + ' x'],
  ]

  it.each(edits)('refuses %s as a cold parse does', async (_name, edit) => {
    const text = edit(before)
    expect(text).not.toBe(before)
    const cluster = uniqueName('w-known')
    await outcome(threaded, cluster, before, 'json')
    const a = await outcome(threaded, cluster, text, 'json')
    const b = await outcome(local, uniqueName('w-cold'), text, 'json')
    expect(a).toHaveProperty('error')
    expect(a).toEqual(b)
  })

  it('makes the version a cold ingest makes when one item changed and the rest is indented as kubectl indents it', async () => {
    const cluster = uniqueName('w-known')
    await outcome(threaded, cluster, before, 'json')
    const text = before.replace('"10.1.0.6"', '"10.1.0.7"')
    const a = await outcome(threaded, cluster, text, 'json')
    const b = await outcome(local, uniqueName('w-cold'), text, 'json')
    expect(a).toMatchObject({ created: true })
    expect(a).toEqual(b)
  })
})

describe('a thread that stops', () => {
  // A crash, simulated by terminating the pool's thread (piscina then starts another).
  const stopThread = async (workers: IngestWorkers): Promise<void> => {
    const pool = (workers as unknown as { pools: Piscina[] }).pools[0]!
    const destroyed = new Promise<void>((resolve) => pool.once('workerDestroy', () => resolve()))
    await Promise.all([pool.threads[0]!.terminate(), destroyed])
  }
  const body = (doc: unknown) => ({ bytes: Buffer.from(JSON.stringify(doc)), type: 'json' as const })

  it('answers the ingest in flight with a 503 to retry, and the next ingest is prepared by its successor', async () => {
    const workers = new IngestWorkers(1)
    try {
      await workers.start()
      const big = body(generateSnapshot({ services: 5000, endpointsPerService: 10 }))
      const inFlight = workers.run<Validated>('c', { op: 'validate', cluster: 'c', body: big })
      await new Promise((r) => setTimeout(r, 100))
      await stopThread(workers)
      const err = await inFlight.then(
        () => null,
        (e: unknown) => e,
      )
      expect(err).toBeInstanceOf(IngestWorkerStoppedError)
      expect(err).toMatchObject({ status: 503, retryAfterSeconds: 1 })
      const next = await workers.run<Validated>('c', { op: 'validate', cluster: 'c', body: body(smallEnvelope()) })
      expect(next.sha256).toMatch(/^[0-9a-f]{64}$/)
    } finally {
      await workers.close()
    }
  })

  it('never continues an ingest begun on the stopped thread on its successor, which hands out the same tokens', async () => {
    const workers = new IngestWorkers(1)
    try {
      await workers.start()
      const before = await workers.run<Validated>('c', { op: 'validate', cluster: 'c', body: body(smallEnvelope({ name: 'before' })) })
      await stopThread(workers)
      const after = await workers.run<Validated>('c', { op: 'validate', cluster: 'c', body: body(smallEnvelope({ name: 'after' })) })
      // Inside the threads both are the first ingest, token 1: only the thread tells them apart.
      expect(after.token).not.toBe(before.token)
      await expect(workers.run('c', { op: 'plan', token: before.token })).rejects.toBeInstanceOf(IngestWorkerStoppedError)
      await workers.run('c', { op: 'discard', token: before.token })
      const planned = await workers.run<{ snapshot: { sha256: string } }>('c', { op: 'plan', token: after.token })
      expect(planned.snapshot.sha256).toBe(after.sha256)
    } finally {
      await workers.close()
    }
  })
})

describe('priority', () => {
  it('the ingest thread runs at nice 10 below the process (Linux: its own setpriority), the main thread unchanged', () => {
    // /proc/self/task/TID/stat: field 19 is the nice value (proc(5)), counted after the "(comm)".
    const niceOf = (tid: string) => Number(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16])
    const tasks = readdirSync('/proc/self/task')
    const nice = tasks.map(niceOf)
    expect(niceOf(String(process.pid))).toBe(0)
    expect(nice.filter((n) => n === 10).length, `nice values of this process's threads: ${nice.join(' ')}`).toBeGreaterThanOrEqual(1)
  })
})

describe('rows crossing back as COPY lines', () => {
  it('keep multi-byte UTF-8 whole: a label in Greek and an emoji are stored as sent', async () => {
    const cluster = uniqueName('utf8')
    const env = smallEnvelope({ name: 'utf8' })
    env.resources.items[0].metadata.annotations = { 'example.com/owner': 'Ωμέγα 🚀', 'example.com/plain': 'x' }
    const r = await threaded.ingest({ cluster, body: { bytes: Buffer.from(JSON.stringify(env)), type: 'json' }, actor: 't' })
    expect(r.created).toBe(true)
    const stored = (await threaded.getSnapshot(cluster, 1)) as { resources: { items: Array<{ metadata: { annotations?: Record<string, string> } }> } }
    const annotated = stored.resources.items.find((i) => i.metadata.annotations)
    expect(annotated?.metadata.annotations).toEqual({ 'example.com/owner': 'Ωμέγα 🚀', 'example.com/plain': 'x' })
    const local2 = await outcome(local, uniqueName('utf8'), JSON.stringify(env), 'json')
    expect(local2).toMatchObject({ snapshotSha256: r.version.snapshotSha256, planSha256: r.version.planSha256 })
  })
})

describe('identical bytes', () => {
  const bytes = (doc: unknown) => ({ bytes: Buffer.from(JSON.stringify(doc)), type: 'json' as const })
  it('are the latest version without being parsed again, and are planned after all when the latest version is another', async () => {
    const cluster = uniqueName('same-bytes')
    const one = smallEnvelope({ name: 'one' })
    const two = smallEnvelope({ name: 'two' })
    const v1 = await threaded.ingest({ cluster, body: bytes(one), actor: 't' })
    const v2 = await threaded.ingest({ cluster, body: bytes(two), actor: 't' })
    const again = await threaded.ingest({ cluster, body: bytes(two), actor: 't' })
    expect(again).toMatchObject({ created: false, version: { version: 2, snapshotSha256: v2.version.snapshotSha256 } })
    // The same bytes with other settings in the query are another snapshot.
    const other = await threaded.ingest({ cluster, body: bytes(two), proxy: { masqueradeAll: true }, actor: 't' })
    expect(other).toMatchObject({ created: true, version: { version: 3 } })
    expect(other.version.snapshotSha256).not.toBe(v2.version.snapshotSha256)
    await threaded.history!.rollback({ cluster, toVersion: 1, actor: 't', reason: 'test' })
    const back = await threaded.ingest({ cluster, body: bytes(two), actor: 't' })
    expect(back).toMatchObject({ created: true, version: { version: 5, snapshotSha256: v2.version.snapshotSha256, planSha256: v2.version.planSha256 } })
    expect(v1.version.snapshotSha256).not.toBe(v2.version.snapshotSha256)
  })
})

describe('over HTTP', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await startTestApp({ parseLimits: { maxDepth: 16, yamlMaxAliases: 100 } })
  })
  afterAll(async () => t?.close())

  it("the route's NATPLAN_MAX_DEPTH reaches the worker: 20 levels are refused with its name", async () => {
    const deep = { ...smallEnvelope(), extra: JSON.parse('['.repeat(20) + ']'.repeat(20)) as unknown }
    const res = await t.app.inject({ method: 'POST', url: `/v1/clusters/${uniqueName('deep')}/snapshots`, payload: deep })
    expect(res.statusCode).toBe(400)
    expect(res.headers['content-type']).toContain('application/problem+json')
    expect(res.body).toContain('NATPLAN_MAX_DEPTH')
    const ok = await t.app.inject({ method: 'POST', url: `/v1/clusters/${uniqueName('deep')}/snapshots`, payload: smallEnvelope() })
    expect(ok.statusCode).toBe(201)
  })

  it('a body that is no document (a number) is a 400 problem with errors[]', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/clusters/${uniqueName('num')}/snapshots`,
      payload: '42',
      headers: { 'content-type': 'application/json' },
    })
    expect(res.statusCode).toBe(400)
    const problem = res.json() as { errors: Array<{ pointer: string }> }
    expect(problem.errors.length).toBeGreaterThan(0)
  })
})
