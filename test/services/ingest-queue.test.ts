/** The per-cluster ingest queue (src/services/ingest-queue.ts): order, sharing, bounded waits. */
import { describe, expect, it } from 'vitest'
import { BusyError, IngestQueue } from '../../src/services/ingest-queue.js'

const later = <T>(ms: number, v: T): Promise<T> => new Promise((r) => setTimeout(() => r(v), ms))

describe('IngestQueue', () => {
  it('runs one cluster in arrival order, other clusters beside it', async () => {
    const q = new IngestQueue({ waitMs: 5_000, maxWaiting: 10 })
    const order: string[] = []
    const job = (name: string, ms: number) => () => later(ms, name).then((n) => (order.push(n), n))
    await Promise.all([q.run('a', '1', job('a1', 40), (x) => x), q.run('a', '2', job('a2', 1), (x) => x), q.run('b', '1', job('b1', 5), (x) => x)])
    expect(order).toEqual(['b1', 'a1', 'a2'])
  })

  it('gives identical content one run and every caller its result', async () => {
    const q = new IngestQueue({ waitMs: 5_000, maxWaiting: 10 })
    let runs = 0
    const fn = () => later(20, ++runs)
    const r = await Promise.all([q.run('a', 'x', fn, (n) => -n), q.run('a', 'x', fn, (n) => -n), q.run('a', 'x', fn, (n) => -n)])
    expect(r).toEqual([1, -1, -1])
    expect(runs).toBe(1)
  })

  it('answers busy after the wait, and when too many wait, and carries on after', async () => {
    const q = new IngestQueue({ waitMs: 30, maxWaiting: 2 })
    const slow = q.run(
      'a',
      '1',
      () => later(200, 'slow'),
      (x) => x,
    )
    const waited = q
      .run(
        'a',
        '2',
        () => later(1, 'never'),
        (x) => x,
      )
      .catch((e: unknown) => e)
    const third = q
      .run(
        'a',
        '3',
        () => later(1, 'never'),
        (x) => x,
      )
      .catch((e: unknown) => e)
    const fourth = q
      .run(
        'a',
        '4',
        () => later(1, 'x'),
        (x) => x,
      )
      .catch((e: unknown) => e)
    expect(await fourth).toBeInstanceOf(BusyError)
    expect(String(await waited)).toMatch(/waited/)
    expect(await third).toBeInstanceOf(BusyError)
    expect(await slow).toBe('slow')
    expect(
      await q.run(
        'a',
        '5',
        () => later(1, 'next'),
        (x) => x,
      ),
    ).toBe('next')
  })
})
