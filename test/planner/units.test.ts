/** Unit checks of the pieces kube-proxy compatibility hinges on. */
import { createHash } from 'node:crypto'
import { base32 } from '@scure/base'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  formatFixed10,
  markFromBit,
  normaliseRestore,
  parseCIDRSloppy,
  parseIPSloppy,
  plan,
  probability,
  renderRestore,
  renderRestoreChunks,
  segmentHash,
  toEnvelope,
} from '../../src/planner/index.js'
import { hash16 } from '../../src/planner/iptables/chains.js'
import { generateSnapshot } from '../../src/planner/testing/generate.js'

describe('probability (Go %0.10f, half-even on the exact binary value)', () => {
  it('matches the reference table and the k=2048 tie', () => {
    expect([2, 3, 4, 6, 7, 10].map(probability)).toEqual(['0.5000000000', '0.3333333333', '0.2500000000', '0.1666666667', '0.1428571429', '0.1000000000'])
    expect(probability(2048)).toBe('0.0004882812')
    expect((1 / 2048).toFixed(10)).toBe('0.0004882813') // why we do not use toFixed
    expect(formatFixed10(1)).toBe('1.0000000000')
  })
  it('agrees with toFixed except on exact ties', () => {
    for (let k = 1; k <= 5000; k++) if (k !== 2048) expect(probability(k)).toBe((1 / k).toFixed(10))
  })
})

describe('chain name hashing', () => {
  const reference = (s: string) => base32.encode(createHash('sha256').update(s).digest()).slice(0, 16)
  it('reproduces upstream names', () => {
    expect(hash16('ns1/svc1:p80tcp10.180.0.1:80')).toBe('SXIVWICOYRO3J4NJ')
    expect(hash16('ns1/svc1:p80tcp')).toBe('XPGD46QRK7WJZT7O')
  })
  it('single-block fast path equals node:crypto + @scure/base for any string', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => hash16(s) === reference(s)),
      { numRuns: 2000 },
    )
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 30 }), (s) => hash16(s) === reference(s)),
      { numRuns: 500 },
    )
  })
})

describe('sloppy IP parsing (TestBadIPs)', () => {
  it('reads leading zeros as decimal and prints canonically', () => {
    expect(parseIPSloppy('172.30.0.041')?.text).toBe('172.30.0.41')
    expect(parseIPSloppy('010.180.00.001')?.text).toBe('10.180.0.1')
    expect(parseIPSloppy('256.1.1.1')).toBeNull()
    expect(parseIPSloppy('fd00:0:0::0001')?.text).toBe('fd00::1')
    expect(parseIPSloppy('::ffff:1.2.3.4')).toMatchObject({ family: 'IPv4', text: '1.2.3.4' })
    expect(parseIPSloppy('fe80::1%eth0')).toBeNull()
    expect(parseCIDRSloppy('203.0.113.000/025')?.text).toBe('203.0.113.0/25')
    expect(parseCIDRSloppy('10.0.0.5/24')?.text).toBe('10.0.0.0/24')
  })
})

describe('mark string', () => {
  it('is Go %#08x of 1<<bit', () => {
    expect(markFromBit(14)).toBe('0x00004000')
    expect(markFromBit(15)).toBe('0x00008000')
  })
})

describe('rendering', () => {
  const env = generateSnapshot({ services: 50, endpointsPerService: 3, loadBalancer: 0.3, nodePort: 0.3 })
  const fp = plan(env).families[0]!

  it('streams the same bytes it renders whole, in bounded chunks', () => {
    const chunks = [...renderRestoreChunks(fp)]
    expect(chunks.join('')).toBe(renderRestore(fp))
    expect(renderRestore(fp, { table: 'nat' }).startsWith('*nat\n')).toBe(true)
    expect(renderRestore(fp, { table: 'filter' })).not.toContain('*nat')
  })

  it('standalone declares built-in chains before any rule and references only declared chains', () => {
    const text = renderRestore(fp, { flavour: 'standalone' })
    expect(text).toContain(':PREROUTING ACCEPT [0:0]')
    expect(text).toContain('-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES')
    expect(text).toContain('*mangle\n')
    for (const table of text.split('COMMIT\n').filter((t) => t !== '')) {
      const lines = table.split('\n')
      const declared = new Set(lines.filter((l) => l.startsWith(':')).map((l) => l.slice(1).split(' ')[0]))
      const firstRule = lines.findIndex((l) => l.startsWith('-A'))
      const lastDecl = lines.map((l) => l.startsWith(':')).lastIndexOf(true)
      if (firstRule >= 0) expect(lastDecl).toBeLessThan(firstRule)
      for (const l of lines.filter((x) => x.startsWith('-A'))) {
        expect(declared.has(l.split(' ')[1])).toBe(true)
        const j = / -j (\S+)/.exec(l)?.[1]
        if (j && j.startsWith('KUBE-')) expect(declared.has(j)).toBe(true)
      }
    }
    // kube-proxy flavour is normalisation-equal to the standalone one minus what kube-proxy installs outside
    expect(normaliseRestore(renderRestore(fp))).toContain('*nat\n')
  })

  it('is deterministic, and a churned service changes only its own segment hash', () => {
    const a = plan(generateSnapshot({ services: 200, endpointsPerService: 3 })).families[0]!
    const b = plan(generateSnapshot({ services: 200, endpointsPerService: 3 })).families[0]!
    expect(renderRestore(a)).toBe(renderRestore(b))
    const c = plan(generateSnapshot({ services: 200, endpointsPerService: 3, churn: 0.05, round: 1 })).families[0]!
    const changed = a.segments.filter((s, i) => segmentHash(s) !== segmentHash(c.segments[i]!)).map((s) => s.key)
    expect(changed.length).toBeGreaterThan(0)
    expect(changed.length).toBeLessThan(30)
    expect(changed).not.toContain('head')
  })

  it('flips every segment when crossing into large-cluster mode (comments dropped)', () => {
    const small = plan(toEnvelopeOk(generateSnapshot({ services: 100, endpointsPerService: 10 }))).families[0]!
    const large = plan(toEnvelopeOk(generateSnapshot({ services: 101, endpointsPerService: 10 }))).families[0]!
    expect(renderRestore(small)).toContain('-> 10.')
    expect(renderRestore(large)).not.toContain('-> 10.')
  })
})

function toEnvelopeOk(e: unknown) {
  const r = toEnvelope(JSON.parse(JSON.stringify(e)))
  if (!r.ok) throw new Error(JSON.stringify(r.issues))
  return r.envelope
}
