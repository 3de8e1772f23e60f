import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { canonicalJson, canonicalJsonReference } from '../../src/store/canonical.js'

describe('canonical JSON', () => {
  it('sorts keys at every depth and drops whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}')
  })

  it('gives the same text for any key order, integer-like keys included', () => {
    expect(canonicalJson({ '10': 'x', '9': 'y', a: 1 })).toBe('{"10":"x","9":"y","a":1}')
    expect(canonicalJson(JSON.parse('{"b":1,"__proto__":{"y":1,"x":2}}'))).toBe('{"__proto__":{"x":2,"y":1},"b":1}')
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const shuffled = JSON.parse(
          JSON.stringify(v, (_k, x) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).reverse()) : x)),
        )
        expect(canonicalJson(shuffled)).toBe(canonicalJsonReference(v))
        expect(canonicalJson(v)).toBe(canonicalJsonReference(v))
      }),
      { numRuns: 2000 },
    )
  })
})
