import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeIds, encodeIds, MAX_ID } from '../../src/store/manifest.js'

describe('manifest encoding', () => {
  it('round-trips any list of ids, including repeats, descents and ids above 2^32', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: MAX_ID })), (ids) => {
        expect(decodeIds(encodeIds(ids))).toEqual(ids)
      }),
    )
  })

  it('is compact for ids allocated together (the reason it exists)', () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => 5_000_000 + i)
    // first id ~4 bytes, then one byte per +1 step
    expect(encodeIds(ids).length).toBeLessThan(10_010)
  })

  it('rejects ids it cannot represent and truncated input', () => {
    expect(() => encodeIds([-1])).toThrow(RangeError)
    expect(() => encodeIds([1.5])).toThrow(RangeError)
    expect(() => encodeIds([MAX_ID + 1])).toThrow(RangeError)
    expect(() => decodeIds(Uint8Array.from([0x80]))).toThrow(/truncated/)
  })
})
