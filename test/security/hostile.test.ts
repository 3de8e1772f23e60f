/**
 * Hostile input: an attacker holding a write token puts strings crafted to end a comment, a word
 * or a line of the restore input into every string field of a valid snapshot (object names,
 * namespaces, labels and their keys, port names, addresses, CIDRs, every proxy setting, the
 * query parameters). Whatever arrives, the answer is a 400 problem+json pointing at a field, or a
 * plan whose every line reads back, with the project's own iptables-save reader, as one of the
 * planner's own rules (./own-rules.ts): no extra line, no foreign chain, table or target. After
 * all of it the process still serves and what was stored before is unchanged.
 */
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { plan, renderRestore, toEnvelope, UnsafeWordError } from '../../src/planner/index.js'
import { versionCounts } from '../../src/services/content.js'
import { fixture, smallEnvelope, startTestApp, uniqueName, type TestApp } from '../api/helpers.js'
import { foreignLines } from './own-rules.js'

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }

/** A snapshot with a Node (labels, addresses), an LB with source ranges, affinity, ETP Local. */
function richSnapshot(): Json {
  const doc = structuredClone(fixture('natplan-loadbalancer-local').snapshot) as { proxy: Record<string, Json>; resources: { items: Json[] } }
  doc.proxy.zone = 'zone-a'
  doc.proxy.nodePortAddresses = ['192.168.0.0/16']
  doc.resources.items.push({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'test-node', labels: { 'topology.kubernetes.io/zone': 'zone-a', 'kubernetes.io/hostname': 'test-node' } },
    spec: { podCIDRs: ['10.244.1.0/24'] },
    status: {
      addresses: [
        { type: 'InternalIP', address: '192.168.0.2' },
        { type: 'Hostname', address: 'test-node' },
      ],
    },
  })
  return doc as unknown as Json
}

const BASES: Json[] = [richSnapshot(), smallEnvelope() as Json, fixture('TestBadIPs').snapshot as Json]

/** Where a string sits: a value (`key` false) or an object key (`key` true, e.g. a label key). */
interface StringSite {
  path: Array<string | number>
  key: boolean
}

function stringSites(value: Json, prefix: Array<string | number> = []): StringSite[] {
  const out: StringSite[] = []
  if (typeof value === 'string') out.push({ path: prefix, key: false })
  else if (Array.isArray(value)) value.forEach((v, i) => out.push(...stringSites(v, [...prefix, i])))
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (prefix.at(-1) === 'labels') out.push({ path: [...prefix, k], key: true })
      out.push(...stringSites(v, [...prefix, k]))
    }
  }
  return out
}

function replaceAt(doc: Json, site: StringSite, hostile: (old: string) => string): Json {
  const root = structuredClone(doc)
  let parent: any = root
  for (const k of site.path.slice(0, -1)) parent = parent[k]
  const last = site.path.at(-1)!
  if (site.key) {
    const v = parent[last]
    delete parent[last]
    parent[hostile(String(last))] = v
  } else parent[last] = hostile(parent[last] as string)
  return root
}

/** Fragments that end a quoted comment, a word, a line or a table of iptables-restore input. */
const PAYLOADS = [
  '" -j ACCEPT\n-I INPUT 1 -s 6.6.6.6/32 -j ACCEPT\n-A KUBE-SERVICES -m comment --comment "',
  '" -j ACCEPT -m comment --comment "',
  ' -j ACCEPT',
  '\nCOMMIT\n*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n',
  '\n-X KUBE-SERVICES',
  '\r\n-A KUBE-FORWARD -j ACCEPT',
  '\\',
  '\\"',
  "'",
  '\u0000',
  '\t',
  '\u007f',
  '\u2028',
  '\u0085',
  'ü',
  '\ud800',
  '#',
  '10.0.0.0/8 -j ACCEPT',
  '%00',
  '$(reboot)',
]

/** A hostile replacement: the old value with a payload before, inside or after it, or a random string. */
const hostile: fc.Arbitrary<(old: string) => string> = fc.oneof(
  fc.record({ payload: fc.constantFrom(...PAYLOADS), where: fc.constantFrom('end', 'start', 'middle', 'only') }).map(({ payload, where }) => (old: string) => {
    if (where === 'only') return payload
    if (where === 'start') return payload + old
    if (where === 'middle') return old.slice(0, old.length >> 1) + payload + old.slice(old.length >> 1)
    return old + payload
  }),
  fc.string({ unit: 'binary', maxLength: 40 }).map((s) => () => s),
  fc.string({ unit: fc.constantFrom('"', '\n', ' ', '\\', 'a', '-', '/', ':', '.', '0', '\0'), maxLength: 20 }).map((s) => (old: string) => old + s),
)

/** Every UTF-8 byte as %XX (encodeURIComponent refuses lone surrogates; a client may still send their bytes). */
const percentEncoded = (s: string): string => Buffer.from(s).toString('hex').replace(/../g, '%$&')

const caseArb = fc.record({ base: fc.nat(BASES.length - 1), at: fc.nat(), hostile })

function hostileCase(c: { base: number; at: number; hostile: (old: string) => string }): Json {
  const base = BASES[c.base]!
  const sites = stringSites(base)
  return replaceAt(base, sites[c.at % sites.length]!, c.hostile)
}

describe('the planner alone, over hostile snapshots', () => {
  it('refuses them or plans only its own rules', () => {
    let refused = 0
    let planned = 0
    fc.assert(
      fc.property(caseArb, (c) => {
        const doc = hostileCase(c)
        const r = toEnvelope(doc)
        if (!r.ok) {
          refused++
          for (const i of r.issues) expect(typeof i.pointer).toBe('string')
          return
        }
        let p
        try {
          p = plan(r.envelope)
        } catch (err) {
          // The writers' own check (src/planner/iptables/words.ts) is the last line of defence.
          expect(err).toBeInstanceOf(UnsafeWordError)
          refused++
          return
        }
        planned++
        const counts = versionCounts(p)
        for (const fp of p.families) {
          const c2 = counts.families[fp.family]!
          expect(foreignLines(renderRestore(fp), { filter: c2.filter.rules, nat: c2.nat.rules })).toEqual([])
          expect(
            foreignLines(renderRestore(fp, { flavour: 'standalone' })).filter(
              (x) =>
                !/foreign chain (INPUT|FORWARD|OUTPUT|PREROUTING|POSTROUTING)|foreign table mangle|rule in foreign chain: -A (INPUT|FORWARD|OUTPUT|PREROUTING|POSTROUTING) /.test(
                  x,
                ),
            ),
          ).toEqual([])
        }
      }),
      { numRuns: 2000 },
    )
    // Both outcomes happen: some hostile values are harmless (a random address that parses).
    expect(refused).toBeGreaterThan(500)
    expect(planned).toBeGreaterThan(20)
  })
})

describe('the API, over hostile snapshots', () => {
  let t: TestApp
  const sentinel = uniqueName('sentinel')
  const target = uniqueName('hostile')
  let before: string

  /** Everything a client can read of the sentinel cluster, hashed. */
  async function sentinelState(): Promise<string> {
    const h = createHash('sha256')
    for (const url of [
      `/v1/clusters/${sentinel}/versions`,
      `/v1/clusters/${sentinel}/versions/1/restore-script`,
      `/v1/clusters/${sentinel}/versions/1/snapshot`,
    ]) {
      const res = await t.app.inject({ method: 'GET', url })
      expect(res.statusCode).toBe(200)
      h.update(res.body)
    }
    return h.digest('hex')
  }

  beforeAll(async () => {
    t = await startTestApp()
    const res = await t.app.inject({ method: 'POST', url: `/v1/clusters/${sentinel}/snapshots`, payload: BASES[0] as object })
    expect(res.statusCode).toBe(201)
    before = await sentinelState()
  })
  afterAll(async () => {
    await t?.close()
  })

  it("answers 400 with a pointer, or serves only the planner's rules", async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const doc = hostileCase(c)
        const res = await t.app.inject({
          method: 'POST',
          url: `/v1/clusters/${target}/snapshots`,
          headers: { 'content-type': 'application/json' },
          payload: JSON.stringify(doc),
        })
        if (res.statusCode === 400) {
          expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
          const body = res.json() as { errors?: Array<{ pointer: unknown }> }
          expect(body.errors?.length).toBeGreaterThan(0)
          for (const e of body.errors!) expect(typeof e.pointer).toBe('string')
          return
        }
        expect(res.statusCode, `${JSON.stringify(doc).slice(0, 4000)} → ${res.body.slice(0, 300)}`).toBeLessThan(300)
        await expectOwnRules(res.json().version)
      }),
      { numRuns: 300 },
    )
  })

  /** Every family's script of the version just created holds only the planner's rules. */
  async function expectOwnRules(version: {
    version: number
    counts: { families: Record<string, { filter: { rules: number }; nat: { rules: number } }> }
  }): Promise<void> {
    for (const [family, tables] of Object.entries(version.counts.families)) {
      const script = await t.app.inject({ method: 'GET', url: `/v1/clusters/${target}/versions/${version.version}/restore-script?family=${family}` })
      expect(script.statusCode).toBe(200)
      expect(foreignLines(script.body, { filter: tables.filter.rules, nat: tables.nat.rules })).toEqual([])
    }
  }

  it("answers 400 to hostile query parameters, or serves only the planner's rules", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('nodeName', 'zone', 'clusterCIDR', 'nodeIPs', 'nodePortAddresses', 'masqueradeMark', 'localDetector', 'ipFamilies'),
        fc.constantFrom(...PAYLOADS),
        async (param, payload) => {
          const res = await t.app.inject({
            method: 'POST',
            url: `/v1/clusters/${target}/snapshots?${param}=${percentEncoded(`10.0.0.0/8${payload}`)}`,
            payload: smallEnvelope().resources,
          })
          if (res.statusCode === 400) expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
          else {
            // List parameters are split at commas and trimmed: a payload of spaces is harmless.
            expect(res.statusCode, `${param}=${JSON.stringify(payload)} → ${res.body.slice(0, 200)}`).toBeLessThan(300)
            await expectOwnRules(res.json().version)
          }
        },
      ),
      { numRuns: 160 },
    )
  })

  it('leaves the process serving and what was stored before unchanged', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
    expect(await sentinelState()).toBe(before)
  })
})
