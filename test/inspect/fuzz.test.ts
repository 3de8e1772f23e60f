/**
 * Random input to the growth and inspect endpoints never produces a 5xx: every rejection is a
 * 4xx problem+json (fast-check, real app, real PostgreSQL).
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGrowthApp, uniqueName, type GrowthTestApp } from '../growth/helpers.js'
import { inspectEnvelope } from './fixtures.js'

let t: GrowthTestApp
const cluster = uniqueName('fuzz-inspect')

beforeAll(async () => {
  t = await startGrowthApp()
  expect((await t.app.inject({ method: 'POST', url: `/v1/clusters/${cluster}/snapshots`, payload: inspectEnvelope() })).statusCode).toBe(201)
})
afterAll(async () => {
  await t?.close()
})

function checkAnswer(res: { statusCode: number; headers: Record<string, unknown>; body: string }, what: string): void {
  expect(res.statusCode, `${what} -> ${res.body.slice(0, 300)}`).toBeLessThan(500)
  if (res.statusCode >= 400) expect(String(res.headers['content-type'])).toMatch(/problem\+json/)
}

const value = fc.oneof(fc.string({ maxLength: 30 }), fc.integer().map(String), fc.constantFrom('-7d', '1', 'latest', '2026-01-01', '', 'NaN', '-0', '1e400'))

describe('fuzzing growth and inspect', () => {
  it('growth query parameters', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('growth', 'growth.svg', 'growth/namespaces', 'growth/top', 'growth/projection', 'growth/namespaces/ins'),
        fc.dictionary(fc.constantFrom('from', 'to', 'at', 'metric', 'format', 'by', 'limit', 'threshold', 'width', 'height'), value, { maxKeys: 4 }),
        async (path, query) => {
          const qs = new URLSearchParams(query).toString()
          const res = await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/${path}?${qs}` })
          checkAnswer(res, `${path}?${qs}`)
        },
      ),
      { numRuns: 150 },
    )
  })

  it('trace bodies', async () => {
    const ip = fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 20 }))
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          {
            source: fc.oneof(ip, fc.integer()),
            destination: ip,
            port: fc.oneof(fc.integer({ min: -5, max: 70000 }), fc.string()),
            protocol: fc.oneof(fc.constantFrom('tcp', 'udp', 'sctp', 'TCP'), fc.string()),
            nodeAddresses: fc.array(ip, { maxLength: 3 }),
          },
          { requiredKeys: [] },
        ),
        fc.constantFrom('1', 'latest', '7'),
        async (body, version) => {
          const res = await t.app.inject({ method: 'POST', url: `/v1/clusters/${cluster}/versions/${version}/trace`, payload: body })
          checkAnswer(res, JSON.stringify(body))
        },
      ),
      { numRuns: 150 },
    )
  })

  it('drift bodies', async () => {
    const line = fc.oneof(
      fc.constantFrom(
        '*nat',
        '*filter',
        'COMMIT',
        ':KUBE-SERVICES - [0:0]',
        '-A KUBE-SERVICES -j RETURN',
        '-A KUBE-SVC-X -m statistic --probability 2',
        '-A',
        ':',
        '*mangle',
        '-A KUBE-SEP-Y -p tcp -j DNAT --to-destination',
      ),
      fc.string({ maxLength: 60 }),
    )
    await fc.assert(
      fc.asyncProperty(fc.array(line, { minLength: 1, maxLength: 12 }), async (lines) => {
        const res = await t.app.inject({
          method: 'POST',
          url: `/v1/clusters/${cluster}/versions/1/drift`,
          payload: lines.join('\n'),
          headers: { 'content-type': 'text/plain' },
        })
        checkAnswer(res, JSON.stringify(lines))
      }),
      { numRuns: 150 },
    )
  })
})
