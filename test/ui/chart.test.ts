/** The growth chart's axes (src/ui/static/js/chart.js), pure functions run under node. */
import { describe, expect, it } from 'vitest'

const chart: any = await import(new URL('../../src/ui/static/js/chart.js', import.meta.url).href)
const DAY = 86_400_000

describe('growth chart axes', () => {
  it('labels days as UTC dates at midnight over days of history', () => {
    const t0 = Date.parse('2026-11-27T17:00:00Z')
    const ticks = chart.timeTicks(t0, t0 + 6 * DAY)
    expect(ticks.map((x: any) => x.top)).toEqual(['2026-11-28', '2026-11-29', '2026-11-30', '2026-12-01', '2026-12-02', '2026-12-03'])
    for (const x of ticks) expect(new Date(x.t).toISOString()).toMatch(/T00:00:00\.000Z$/)
  })
  it('labels hours as HH:MM, with the date under the first tick and each new day', () => {
    const t0 = Date.parse('2026-12-03T21:10:00Z')
    const ticks = chart.timeTicks(t0, t0 + 5 * 3_600_000)
    // Five hours: 30 minutes would be ten ticks, so whole hours.
    expect(ticks.map((x: any) => x.top)).toEqual(['22:00', '23:00', '00:00', '01:00', '02:00'])
    expect(ticks[0].sub).toBe('2026-12-03')
    const midnight = ticks.find((x: any) => x.top === '00:00')
    expect(midnight.sub).toBe('2026-12-04')
    expect(ticks.filter((x: any) => x.sub).length).toBe(2)
  })
  it('rounds the value axis to 1, 2 or 5 times a power of ten from 0', () => {
    expect(chart.valueTicks(34)).toEqual({ top: 40, ticks: [0, 10, 20, 30, 40] })
    expect(chart.valueTicks(10_500)).toEqual({ top: 15_000, ticks: [0, 5000, 10_000, 15_000] })
    expect(chart.valueTicks(0)).toEqual({ top: 1, ticks: [0, 1] })
  })
})
