/**
 * Incremental ingest (src/services/ingest-cache.ts): a warm process must store exactly what a cold
 * ingest stores — the same snapshot and plan hashes, counts and growth statistics — whatever
 * changed between versions, and must never trust row ids whose version is gone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toEnvelope, type Envelope } from '../../src/planner/index.js'
import { generateSnapshot, type GenerateOptions } from '../../src/planner/testing/generate.js'
import type { Database } from '../../src/db/index.js'
import type { IngestResult, Services } from '../../src/services/contract.js'
import { createServices } from '../../src/services/index.js'
import { canonicalEnvelope, canonicalSnapshot, planContent, planOrReject, versionCounts } from '../../src/services/content.js'
import { computeVersionStats } from '../../src/services/stats-record.js'
import { loadPlan, loadPlanForDelta } from '../../src/store/plans.js'
import { findVersion } from '../../src/store/versions.js'
import type { Plan } from '../../src/planner/types.js'
import { uniqueName } from '../helpers/db.js'
import { openTestServices } from '../helpers/services.js'
import { openTestDatabase } from '../helpers/db.js'

let db: Database
let services: Services
beforeAll(async () => {
  ;({ db, services } = await openTestServices())
})
afterAll(async () => db?.close())

function envelopeOf(doc: unknown): Envelope {
  const r = toEnvelope(doc)
  if (!r.ok) throw new Error(JSON.stringify(r.issues))
  return canonicalEnvelope(r.envelope)
}

/** What the original, non-incremental code path computes for a document. */
function reference(doc: unknown) {
  const env = envelopeOf(doc)
  const { plan: p, cluster } = planOrReject(env)
  return { plan: p, snapshotSha256: canonicalSnapshot(env).sha256, planSha256: planContent(p).sha256, counts: versionCounts(p, cluster) }
}

const base: GenerateOptions = {
  services: 60,
  endpointsPerService: 4,
  churn: 0.1,
  nodePort: 0.2,
  loadBalancer: 0.1,
  sourceRanges: 0.5,
  clientIPAffinity: 0.1,
  externalLocal: 0.3,
  notReady: 0.1,
  portsPerService: 2,
}

/** Version sequence: churn rounds, a proxy flip, a type change, services removed, and back. */
function documents(): unknown[] {
  const docs: unknown[] = []
  for (let round = 0; round < 3; round++) docs.push(generateSnapshot({ ...base, round }))
  docs.push(generateSnapshot({ ...base, round: 3, proxy: { masqueradeAll: true } }))
  docs.push(generateSnapshot({ ...base, round: 3, nodePort: 0.6 }))
  docs.push(generateSnapshot({ ...base, services: 40, round: 4 }))
  docs.push(generateSnapshot({ ...base, round: 5 }))
  // An item re-sent with its keys in another order: same canonical object, new raw fingerprint.
  const reordered = JSON.parse(JSON.stringify(generateSnapshot({ ...base, round: 5 }))) as { resources: { items: Record<string, unknown>[] } }
  reordered.resources.items[0] = Object.fromEntries(Object.entries(reordered.resources.items[0]!).reverse())
  docs.push(reordered)
  docs.push(generateSnapshot({ ...base, round: 6 }))
  return docs
}

/**
 * Ingests the sequence of documents() with `ingestOne` and checks every stored version against
 * the reference path: snapshot, plan, counts, the stored objects and the growth statistics.
 */
async function checkSequence(cluster: string, ingestOne: (step: number, cluster: string, doc: unknown) => Promise<IngestResult>): Promise<void> {
  let previous: Plan | null = null
  let expectedVersion = 0
  for (const [i, doc] of documents().entries()) {
    const want = reference(doc)
    const res = await ingestOne(i, cluster, doc)
    if (!res.created) {
      expect(res.version.snapshotSha256, `step ${i}`).toBe(want.snapshotSha256)
      continue
    }
    expectedVersion++
    expect(res.version.version).toBe(expectedVersion)
    expect(res.version.snapshotSha256, `step ${i}`).toBe(want.snapshotSha256)
    expect(res.version.planSha256, `step ${i}`).toBe(want.planSha256)
    expect(res.version.counts, `step ${i}`).toEqual(want.counts)
    const stored = (await services.getSnapshot(cluster, expectedVersion)) as { resources: { items: unknown[] } }
    expect(stored.resources.items).toEqual(envelopeOf(doc).resources.items)
    const stats = computeVersionStats(want.plan, previous)
    const point = (
      await services.growth!.growth(cluster, {
        from: String(expectedVersion),
        to: String(expectedVersion),
        metrics: ['rules', 'deltaRules', 'deltaBytes', 'scriptBytes', 'kubeServicesRules', 'avgRulesToDnat', 'worstRulesToDnat'],
      })
    ).points[0]!
    expect(point.values, `step ${i}`).toEqual({
      rules: stats.natRules + stats.filterRules,
      deltaRules: stats.deltaRules,
      deltaBytes: stats.deltaBytes,
      scriptBytes: stats.scriptBytes,
      kubeServicesRules: stats.kubeServicesRules,
      avgRulesToDnat: stats.avgRulesToDnat,
      worstRulesToDnat: stats.worstRulesToDnat,
    })
    previous = want.plan
  }
  expect(expectedVersion).toBeGreaterThan(6)
}

describe('incremental ingest', () => {
  it('stores what a cold ingest stores, version after version', async () => {
    // The HTTP layer hands over the body's bytes (src/api/rest/snapshots.ts): parsed in the worker.
    await checkSequence(uniqueName('incr'), (_i, cluster, doc) =>
      services.ingest({ cluster, body: { bytes: Buffer.from(JSON.stringify(doc)), type: 'json' }, actor: 't' }),
    )
  })

  it('the same from bytes indented as kubectl prints them, items read from the bytes of the version before', async () => {
    await checkSequence(uniqueName('incr-indented'), (_i, cluster, doc) =>
      services.ingest({ cluster, body: { bytes: Buffer.from(JSON.stringify(doc, null, 4)), type: 'json' }, actor: 't' }),
    )
  })

  it('the same with parsed documents (GraphQL), and with the work on the event loop (NATPLAN_INGEST_WORKERS=0)', async () => {
    await checkSequence(uniqueName('incr-doc'), (_i, cluster, doc) => services.ingest({ cluster, document: JSON.parse(JSON.stringify(doc)), actor: 't' }))
    const local = createServices(db, { ingestWorkers: 0 })
    await checkSequence(uniqueName('incr-local'), (_i, cluster, doc) => local.ingest({ cluster, document: JSON.parse(JSON.stringify(doc)), actor: 't' }))
  })

  it('two replicas writing one cluster in turn: each worker’s memory is a version behind, and nothing stored differs', async () => {
    // Two database handles: two services layers with a worker each, as two natplan processes.
    // Each ingest's worker remembers the version before the other replica's: its partial answer
    // is completed (op "full") and its statistics computed again against the stored predecessor.
    const other = await openTestDatabase()
    const replicas = [services, createServices(other)]
    try {
      await checkSequence(uniqueName('incr-replicas'), (i, cluster, doc) =>
        replicas[i % 2]!.ingest({ cluster, body: { bytes: Buffer.from(JSON.stringify(doc)), type: 'json' }, actor: 't' }),
      )
    } finally {
      await replicas[1]!.close?.()
      await other.close()
    }
  })

  it('does not trust cached row ids after the cluster was deleted and its rows collected', async () => {
    const cluster = uniqueName('incr-gone')
    // A seed no other test uses: the garbage collector really deletes these rows.
    const own = { ...base, seed: 7919, namespaces: 3 }
    await services.ingest({ cluster, document: generateSnapshot({ ...own, round: 0 }), actor: 't' })
    await services.history!.deleteCluster(cluster, 't')
    // Same cluster name, new cluster row: nothing of the cached version exists any more.
    const doc = generateSnapshot({ ...own, round: 1 })
    const res = await services.ingest({ cluster, document: JSON.parse(JSON.stringify(doc)), actor: 't' })
    expect(res.version.version).toBe(1)
    expect(res.version.snapshotSha256).toBe(reference(doc).snapshotSha256)
    const stored = (await services.getSnapshot(cluster, 1)) as { resources: { items: unknown[] } }
    expect(stored.resources.items).toEqual(envelopeOf(doc).resources.items)
    const script = await services.getRestoreScript(cluster, 1)
    expect(script.body).toBeTruthy()
  })

  it('after a rollback, the next ingest still matches a cold one', async () => {
    const cluster = uniqueName('incr-rollback')
    await services.ingest({ cluster, document: generateSnapshot({ ...base, round: 0 }), actor: 't' })
    await services.ingest({ cluster, document: generateSnapshot({ ...base, round: 1 }), actor: 't' })
    await services.history!.rollback({ cluster, toVersion: 1, actor: 't', reason: 'test' })
    const doc = generateSnapshot({ ...base, round: 2 })
    const res = await services.ingest({ cluster, document: JSON.parse(JSON.stringify(doc)), actor: 't' })
    const want = reference(doc)
    expect(res.version.version).toBe(4)
    expect(res.version.planSha256).toBe(want.planSha256)
    expect(res.version.counts).toEqual(want.counts)
    const point = (await services.growth!.growth(cluster, { from: '4', to: '4', metrics: ['deltaRules'] })).points[0]!
    const v1 = reference(generateSnapshot({ ...base, round: 0 })).plan
    expect(point.values.deltaRules).toBe(computeVersionStats(want.plan, v1).deltaRules)
  })

  it('the cold-path delta reads only changed segments and gives the same numbers', async () => {
    const cluster = uniqueName('incr-cold')
    const docs = [generateSnapshot({ ...base, round: 0 }), generateSnapshot({ ...base, round: 1 }), generateSnapshot({ ...base, round: 1, services: 50 })]
    for (const doc of docs) await services.ingest({ cluster, document: doc, actor: 't' })
    for (const n of [2, 3]) {
      const before = (await findVersion(db.pool, cluster, n - 1))!
      const after = (await findVersion(db.pool, cluster, n))!
      const full = await loadPlan(db.pool, before.planId)
      const next = await loadPlan(db.pool, after.planId)
      const lean = await loadPlanForDelta(db.pool, before.planId, next.plan, next.hashes)
      const loaded = lean.plan.families[0]!.segments.filter((s) => s.natRules.length + s.filterRules.length > 0).length
      expect(loaded).toBeLessThan(full.plan.families[0]!.segments.length / 2)
      const want = computeVersionStats(next.plan, full.plan, { plan: next.hashes, previous: full.hashes })
      const got = computeVersionStats(next.plan, lean.plan, { plan: next.hashes, previous: lean.hashes })
      expect([got.deltaRules, got.deltaBytes]).toEqual([want.deltaRules, want.deltaBytes])
      expect(want.deltaRules).toBeGreaterThan(0)
    }
  })
})
