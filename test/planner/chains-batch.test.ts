/**
 * sepChainNamesOf (the batched endpoint chain names, four lanes of WebAssembly SIMD) against
 * node:crypto SHA-256 and @scure/base base32, and against sepChainNameOf: prefixes and
 * identities whose lengths cross the 55/56/64-byte block boundaries (the rest of the block
 * then no longer fits and the scalar path takes over), batch sizes 0-13 (partial last groups
 * of four lanes) and non-ASCII identities and prefixes (node:crypto).
 */
import { createHash } from 'node:crypto'
import { base32 } from '@scure/base'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { prefixState, sepChainNameOf, sepChainNamesOf, type EndpointIdParts } from '../../src/planner/iptables/chains.js'

const reference = (s: string): string => base32.encode(createHash('sha256').update(s).digest()).slice(0, 16)
const expected = (prefix: string, id: EndpointIdParts): string => `KUBE-SEP-${reference(prefix + id.pre + id.ip + id.post)}`

describe('batched endpoint chain names', () => {
  const ascii = (max: number) => fc.string({ unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)), maxLength: max })
  const anyText = (max: number) => fc.oneof({ weight: 9, arbitrary: ascii(max) }, { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: max }) })
  const id = fc.record({ pre: anyText(2), ip: anyText(70), post: anyText(8) })

  it('equals sha256 + base32 and sepChainNameOf for any prefix, identities and batch size', () => {
    fc.assert(
      fc.property(anyText(200), fc.array(id, { maxLength: 13 }), (prefix, ids) => {
        const ps = prefixState(prefix)
        const got = sepChainNamesOf(ps, prefix, ids)
        expect(got).toHaveLength(ids.length)
        ids.forEach((x, i) => {
          expect(got[i]).toBe(expected(prefix, x))
          expect(got[i]).toBe(sepChainNameOf(ps, prefix, x.pre, x.ip, x.post))
        })
      }),
      { numRuns: 3000 },
    )
  })

  it('is exact at every block boundary, in batches of every size', () => {
    for (let pl = 0; pl <= 130; pl += pl < 70 ? 1 : 7) {
      const prefix = 'p'.repeat(pl)
      const ps = prefixState(prefix)
      for (let n = 0; n <= 13; n++) {
        const ids = Array.from({ length: n }, (_, i) => ({ pre: i % 2 ? '[' : '', ip: 'i'.repeat((i * 5 + pl) % 66), post: i % 2 ? ']:80' : ':8080' }))
        expect(sepChainNamesOf(ps, prefix, ids)).toEqual(ids.map((x) => expected(prefix, x)))
      }
    }
  })

  it('batches larger than the lanes in flight', () => {
    const prefix = 'ns-12/svc-3456:httptcp'
    const ids = Array.from({ length: 2500 }, (_, k) => ({ pre: '', ip: `10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`, post: ':8080' }))
    expect(sepChainNamesOf(prefixState(prefix), prefix, ids)).toEqual(ids.map((x) => expected(prefix, x)))
  })

  it('falls back to node:crypto for non-ASCII text', () => {
    const ids = [
      { pre: '', ip: '10.0.0.1', post: ':80' },
      { pre: '', ip: 'é', post: ':80' },
      { pre: '[', ip: 'fd00::1', post: ']:80' },
      { pre: '', ip: '10.0.0.2', post: ':8😀' },
      { pre: '', ip: '10.0.0.3', post: ':80' },
    ]
    expect(sepChainNamesOf(prefixState('ns/a:ptcp'), 'ns/a:ptcp', ids)).toEqual(ids.map((x) => expected('ns/a:ptcp', x)))
    expect(prefixState('ns/é:ptcp')).toBeNull()
    expect(sepChainNamesOf(null, 'ns/é:ptcp', ids)).toEqual(ids.map((x) => expected('ns/é:ptcp', x)))
  })
})
