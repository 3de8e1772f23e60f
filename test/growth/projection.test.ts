/** The least-squares projection and the pure helpers, on numbers worked out by hand. */
import { describe, expect, it } from 'vitest'
import { leastSquares, parseBound, parseMetrics, project, rankGrowers } from '../../src/services/growth.js'
import { growthCsv, niceTicks } from '../../src/api/rest/growth/render.js'
import { BadRequestError } from '../../src/errors.js'

const DAY = 86_400_000
const T0 = Date.parse('2026-01-01T00:00:00Z')
const pts = (values: number[]) => values.map((value, i) => ({ at: new Date(T0 + i * DAY), value, version: i + 1 }))

describe('leastSquares', () => {
  it('fits an exact line and reports r2 = 1', () => {
    expect(leastSquares([0, 1, 2, 3], [1, 3, 5, 7])).toEqual({ slope: 2, intercept: 1, r2: 1 })
  })
  it('fits noisy data: slope 0.6, intercept 2.2 for (1,2) (2,4) (3,5) (4,4) (5,5)', () => {
    const f = leastSquares([1, 2, 3, 4, 5], [2, 4, 5, 4, 5])!
    expect(f.slope).toBeCloseTo(0.6, 10)
    expect(f.intercept).toBeCloseTo(2.2, 10)
    expect(f.r2).toBeCloseTo(0.6, 10)
  })
  it('needs two distinct x values', () => {
    expect(leastSquares([1], [1])).toBeNull()
    expect(leastSquares([2, 2], [1, 5])).toBeNull()
  })
})

describe('project', () => {
  it('finds when +100 rules a day from 1000 passes 10,000: day 90, current the last value measured', () => {
    const p = project(pts([1000, 1100, 1200, 1300, 1400]), 10_000, T0 + 4 * DAY)
    expect(p.status).toBe('projected')
    expect(p.slopePerDay).toBeCloseTo(100, 9)
    expect(p.at).toBe(new Date(T0 + 90 * DAY).toISOString())
    expect(p.current).toBe(1400)
    expect(p.fitted).toBeCloseTo(1400, 6)
    expect(p.r2).toBe(1)
    // An exact line: the prediction band has no width.
    expect(p.interval).toEqual({ from: p.at, to: p.at })
  })
  it('gives a prediction interval around the crossing of a noisy line', () => {
    const p = project(pts([1000, 1180, 1150, 1330, 1390, 1520, 1580]), 10_000, T0 + 6 * DAY)
    expect(p.status).toBe('projected')
    const [from, at, to] = [p.interval!.from, p.at!, p.interval!.to!].map((x) => Date.parse(x))
    expect(from).toBeLessThan(at!)
    expect(to).toBeGreaterThan(at!)
    expect(p.current).toBe(1580)
  })
  it('says never when the metric shrinks or stays flat', () => {
    expect(project(pts([500, 400, 300, 200, 100]), 10_000, T0 + 4 * DAY).status).toBe('never')
    expect(project(pts([500, 500, 500, 500, 500]), 10_000, T0 + 4 * DAY).status).toBe('never')
  })
  it('says never when the crossing is more than 100 years away', () => {
    expect(project(pts([1, 1.001, 1.002, 1.003, 1.004]), 1e9, T0 + 4 * DAY).status).toBe('never')
  })
  it('reports an already reached threshold with the first version that reached it', () => {
    const p = project(pts([9000, 11000, 12000]), 10_000, T0 + 2 * DAY)
    expect(p).toMatchObject({ status: 'reached', at: new Date(T0 + DAY).toISOString(), current: 12000 })
  })
  it('will not project from too few versions or too short a history', () => {
    expect(project(pts([5]), 10, T0).status).toBe('insufficient-data')
    expect(project([], 10, T0).status).toBe('insufficient-data')
    expect(project(pts([1, 2, 3, 4]), 10, T0 + 3 * DAY).status).toBe('insufficient-data')
    // Seven minutes of history, however many versions: not a trend.
    const minutes = [1, 2, 3, 4, 5, 6, 7].map((value, i) => ({ at: new Date(T0 + i * 60_000), value, version: i + 1 }))
    expect(project(minutes, 100, T0 + 7 * 60_000)).toMatchObject({ status: 'insufficient-data', at: null, current: 7 })
  })
  it('will not project from a poor fit (r² 0.44)', () => {
    const p = project(pts([100, 300, 120, 280, 160, 330]), 10_000, T0 + 5 * DAY)
    expect(p.r2).toBeLessThan(0.5)
    expect(p).toMatchObject({ status: 'poor-fit', at: null, interval: null })
  })
})

describe('parameters', () => {
  it('parses versions, ISO times and relative times', () => {
    expect(parseBound('12', 'from')).toEqual({ version: 12 })
    expect(parseBound('2026-03-01T10:00:00Z', 'from')).toEqual({ at: new Date('2026-03-01T10:00:00Z') })
    expect(parseBound('-2d', 'from', T0)).toEqual({ at: new Date(T0 - 2 * DAY) })
    expect(parseBound(undefined, 'from')).toBeUndefined()
    for (const bad of ['0', 'yesterday', '2026-13-45', '-3y', '1e3']) {
      expect(() => parseBound(bad, 'to'), bad).toThrow(BadRequestError)
    }
  })
  it('splits and checks metric names', () => {
    expect(parseMetrics(['rules,chains', 'rules'])).toEqual(['rules', 'chains'])
    expect(parseMetrics(undefined)).toContain('kubeServicesRules')
    expect(() => parseMetrics(['rules', 'nope'])).toThrow(/unknown metric "nope"/)
  })
})

describe('rankGrowers', () => {
  it('counts new namespaces from zero and sorts by the chosen field', () => {
    const z = { services: 0, servicePorts: 0, endpoints: 0, chains: 0, rules: 0 }
    const g = rankGrowers({ a: { ...z, rules: 10 }, b: { ...z, rules: 5 } }, { a: { ...z, rules: 12 }, c: { ...z, rules: 7 } }, 'rules')
    expect(g.map((x) => [x.namespace, x.delta.rules])).toEqual([
      ['c', 7],
      ['a', 2],
      ['b', -5],
    ])
  })
})

describe('rendering', () => {
  it('quotes CSV fields per RFC 4180 and leaves nulls empty', () => {
    const csv = growthCsv({
      cluster: 'c',
      metrics: [
        { name: 'rules', description: '', unit: 'rules' },
        { name: 'deltaRules', description: '', unit: 'rules' },
      ],
      points: [{ version: 1, createdAt: '2026-01-01T00:00:00.000Z', values: { rules: 5, deltaRules: null } }],
    })
    expect(csv).toBe('version,created_at,rules,deltaRules\r\n1,2026-01-01T00:00:00.000Z,5,\r\n')
  })
  it('chooses 1-2-5 ticks covering the maximum', () => {
    expect(niceTicks(9)).toEqual([0, 2, 4, 6, 8, 10])
    expect(niceTicks(10_000)).toEqual([0, 2000, 4000, 6000, 8000, 10000])
    expect(niceTicks(0)).toEqual([0, 1])
  })
})
