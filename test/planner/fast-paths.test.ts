/**
 * The planner's fast paths against their plain definitions: chain-name hashing from a SHA-256
 * prefix midstate, the rope-and-slices segment writer, endpoints built per service port (with
 * upstream's duplicate rule and the large-cluster threshold decided on an upper bound), and
 * Plan.counts.endpoints for slices no service port reads.
 */
import { createHash } from 'node:crypto'
import { base32 } from '@scure/base'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { plan, renderRestore, toEnvelope, type Segment } from '../../src/planner/index.js'
import { lineCount, linesText, segmentLines } from '../../src/planner/types.js'
import { endpointHash, hash16Crypto, hashWith, prefixState, sepHashInto } from '../../src/planner/iptables/chains.js'
import {
  Bytes,
  Fragments,
  asciiBytes,
  SegmentWriter,
  FILTER_CHAINS,
  FILTER_RULES,
  NAT_CHAINS,
  NAT_RULES,
  type BufferIndex,
} from '../../src/planner/rules/writer.js'
import { OWN } from '../../src/planner/rules/books.js'
import { generateSnapshot } from '../../src/planner/testing/generate.js'
import { compareIds, idOf, idParts, type Endpoint } from '../../src/planner/model.js'
import type { PlanReuse } from '../../src/planner/reuse.js'
import { unvalidatedEnvelope } from './arbitraries.js'

/** sepHashInto's 16 bytes, written at an offset into a larger buffer, as a string. */
function intoBytes(ps: ReturnType<typeof prefixState>, prefix: string, pre: string, ip: string, post: string): string {
  const out = new Uint8Array(20)
  sepHashInto(ps, prefix, pre, ip, post, out, 3)
  return Buffer.from(out.subarray(3, 19)).toString('latin1')
}

const reference = (s: string): string => base32.encode(createHash('sha256').update(s).digest()).slice(0, 16)

describe('chain names from a prefix midstate', () => {
  // Kubernetes names: DNS labels, '/', ':', IPs, brackets. Lengths cross the 55/56/64-byte
  // block boundaries on both sides (namespace and name are up to 63 characters each).
  const ascii = (max: number) => fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-./:[]'), maxLength: max })

  it('equals sha256(prefix + suffix) for prefixes and suffixes of any length', () => {
    fc.assert(
      fc.property(ascii(200), ascii(160), (p, s) => {
        const ps = prefixState(p)
        const cut = Math.min(s.length, 3)
        return (
          hashWith(ps, p, s) === reference(p + s) &&
          intoBytes(ps, p, '', s, '') === reference(p + s) &&
          intoBytes(ps, p, s.slice(0, 1), s.slice(1, cut), s.slice(cut)) === reference(p + s)
        )
      }),
      { numRuns: 3000 },
    )
  })

  it('is exact at every block boundary', () => {
    for (let pl = 0; pl <= 130; pl++) {
      const p = 'p'.repeat(pl)
      const ps = prefixState(p)
      for (const sl of [0, 1, 3, 4, 7, 8, 9, 55, 56, 63, 64, 65]) {
        const s = 's'.repeat(sl)
        expect(hashWith(ps, p, s)).toBe(reference(p + s))
        expect(intoBytes(ps, p, s.slice(0, 1), s.slice(1, 5), s.slice(5))).toBe(reference(p + s))
      }
    }
  })

  it('falls back to node:crypto for non-ASCII text', () => {
    expect(prefixState('ns/é')).toBeNull()
    expect(hashWith(null, 'ns/é', '10.0.0.1:80')).toBe(hash16Crypto('ns/é10.0.0.1:80'))
    expect(intoBytes(prefixState('ns/a'), 'ns/a', '', 'é', '')).toBe(hash16Crypto('ns/aé'))
    expect(intoBytes(prefixState('ns/a'), 'ns/a', '[', 'é', ']:80')).toBe(hash16Crypto('ns/a[é]:80'))
    expect(intoBytes(null, 'ns/é', '', '10.0.0.1', ':80')).toBe(hash16Crypto('ns/é10.0.0.1:80'))
  })

  it('names endpoints of long service names as upstream (multi-block input)', () => {
    const name = `${'n'.repeat(63)}/${'s'.repeat(63)}:${'p'.repeat(15)}`
    expect(endpointHash(name, 'tcp', '[fd00:1234:5678:9abc:def0:1234:5678:9abc]:65535')).toBe(
      reference(`${name}tcp[fd00:1234:5678:9abc:def0:1234:5678:9abc]:65535`),
    )
  })
})

describe('segment writer', () => {
  const emptySegment = (key: string): Segment => ({ key, filterChains: '', filterRules: '', natChains: '', natRules: '' })
  const BUFS = ['filterChains', 'filterRules', 'natChains', 'natRules'] as const

  it('cuts the texts back into each segment’s buffers, across flushes', () => {
    const ascii = fc.string({ unit: fc.constantFrom(...'-AKUBE SVC:0123456789"'), minLength: 0, maxLength: 400 })
    const seg = fc.array(fc.tuple(fc.constantFrom<BufferIndex>(FILTER_CHAINS, FILTER_RULES, NAT_CHAINS, NAT_RULES), ascii, fc.boolean()), { maxLength: 600 })
    fc.assert(
      // Texts are flushed at 1 MiB in plans; here at any size, so that segments meet flushes.
      fc.property(
        fc.array(seg, { minLength: 1, maxLength: 8 }),
        fc.array(ascii, { minLength: 8, maxLength: 8 }),
        fc.integer({ min: 0, max: 100_000 }),
        (segs, reps, flushChars) => {
          const w = new SegmentWriter(flushChars)
          const lines = [w.filterChains, w.filterRules, w.natChains, w.natRules]
          const out = segs.map((_, i) => emptySegment(`s${i}`))
          const want = segs.map(() => ({ filterChains: [] as string[], filterRules: [] as string[], natChains: [] as string[], natRules: [] as string[] }))
          segs.forEach((segLines, i) => {
            w.begin()
            // the hot-path form: a line in pieces, one of them a repeated fragment
            const rep = w.fragments.of(reps[i]!)
            for (const [buf, text, pieces] of segLines) {
              if (pieces) {
                want[i]![BUFS[buf]].push(text + reps[i]!)
                const t = lines[buf]!.begin(OWN)
                t.add(text)
                w.fragments.copyTo(t, rep)
                lines[buf]!.end()
              } else {
                want[i]![BUFS[buf]].push(text)
                lines[buf]!.line(text)
              }
            }
            const st = w.end(out[i]!)
            expect(st.lines).toEqual(BUFS.map((b) => want[i]![b].length))
          })
          w.flush()
          return out.every((s, i) => BUFS.every((b) => s[b] === linesText(want[i]![b]) && JSON.stringify(segmentLines(s, b)) === JSON.stringify(want[i]![b])))
        },
      ),
      { numRuns: 200 },
    )
  })

  it('refuses to write anything but ASCII', () => {
    for (const bad of ['é', '日', '\u{1F600}', '\ud800']) expect(() => new Bytes().add(`a${bad}`)).toThrow(/only writes ASCII/)
  })

  it('copies any ASCII bytes exactly, whatever their length and offsets (the eight-byte copies)', () => {
    // Every code point 0-127, NUL and DEL included: eight of them read as a double must come out
    // as the same eight bytes (copyAscii).
    const ascii = fc.string({ unit: fc.integer({ min: 0, max: 127 }).map((c) => String.fromCharCode(c)), maxLength: 150 })
    fc.assert(
      fc.property(ascii, ascii, fc.nat(), fc.nat(), (lead, text, a, b) => {
        const t = new Bytes()
        t.add(lead)
        const from = text.length === 0 ? 0 : a % text.length
        const n = text.length === 0 ? 0 : b % (text.length - from + 1)
        t.put(asciiBytes(text))
        t.putRange(asciiBytes(text), from, n)
        const frags = new Fragments()
        const f = frags.of(lead, asciiBytes(text))
        frags.copyTo(t, f)
        return t.text(0, t.length) === lead + text + text.slice(from, from + n) + lead + text
      }),
      { numRuns: 500 },
    )
  })

  it('gives every segment buffer as newline-terminated lines', () => {
    const fp = plan(envelopeOf(generateSnapshot({ services: 50, endpointsPerService: 3 }))).families[0]!
    const texts = fp.segments.flatMap((s) => BUFS.map((b) => s[b]))
    for (const t of texts) expect(t === '' || (t.endsWith('\n') && !t.startsWith('\n') && !t.includes('\n\n'))).toBe(true)
    // every service segment writes nat chains and rules of its own
    for (const s of fp.segments.slice(1, -1)) expect(lineCount(s.natChains)).toBeGreaterThan(0)
  })
})

function envelopeOf(doc: unknown) {
  const r = toEnvelope(JSON.parse(JSON.stringify(doc)))
  if (!r.ok) throw new Error(JSON.stringify(r.issues))
  return r.envelope
}

type Doc = { resources: { items: Record<string, any>[] } }
const slicesOf = (doc: Doc) => doc.resources.items.filter((o) => o.kind === 'EndpointSlice')

describe('endpoint identities kept in parts', () => {
  const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((b) => b.join('.'))
  const v6 = fc.array(fc.constantFrom('0', '1', 'a', 'f', '10', 'ff', '::', ':', '9'), { minLength: 1, maxLength: 6 }).map((p) => p.join(''))
  const endpoint = (ip: string, port: number, family: 'IPv4' | 'IPv6'): Endpoint => ({
    ip,
    ...idParts(port, family),
    ready: true,
    serving: true,
    terminating: false,
    nodeName: '',
    zoneHints: null,
    nodeHints: null,
    sep: -1,
  })

  it('compares as the `ip:port` / `[ip]:port` strings do, byte-wise', () => {
    const port = fc.constantFrom(80, 8080, 9, 443)
    fc.assert(
      fc.property(fc.constantFrom<'IPv4' | 'IPv6'>('IPv4', 'IPv6'), fc.tuple(v4, v6, port), fc.tuple(v4, v6, port), (family, [a4, a6, ap], [b4, b6, bp]) => {
        const a = endpoint(family === 'IPv4' ? a4 : a6, ap, family)
        const b = endpoint(family === 'IPv4' ? b4 : b6, bp, family)
        const want = idOf(a) < idOf(b) ? -1 : idOf(a) > idOf(b) ? 1 : 0
        return Math.sign(compareIds(a, b)) === want && idOf(a) === (family === 'IPv4' ? `${a.ip}:${ap}` : `[${a.ip}]:${ap}`)
      }),
      { numRuns: 5000 },
    )
  })
})

describe('endpoints built per service port', () => {
  it('keeps the later of two equal endpoints unless it is terminating (endpointslicecache.go)', () => {
    const doc = generateSnapshot({ services: 1, endpointsPerService: 2, nodes: 1 }) as unknown as Doc
    const [slice] = slicesOf(doc)
    const ip = slice!.endpoints[0].addresses[0]
    const notReady: Record<string, any> = structuredClone(slice!)
    notReady.metadata = { ...slice!.metadata, name: 'later' }
    notReady.endpoints = [{ addresses: [ip], conditions: { ready: false, serving: false, terminating: false } }]
    const terminating = structuredClone(notReady)
    terminating.metadata.name = 'terminating'
    terminating.endpoints[0].conditions = { ready: false, serving: true, terminating: true }
    const text = (extra: unknown[]) =>
      renderRestore(plan(envelopeOf({ ...doc, resources: { ...doc.resources, items: [...doc.resources.items, ...extra] } })).families[0]!)
    // later not-ready copy replaces the ready one: one endpoint left in the dispatch
    expect(text([notReady])).not.toContain(`-> ${ip}:8080"`)
    // a later terminating copy does not replace it
    expect(text([terminating])).toContain(`-> ${ip}:8080"`)
  })

  it('decides large-cluster mode on the exact count of endpoints (duplicates and bad addresses not counted)', () => {
    const commented = (doc: unknown) => renderRestore(plan(envelopeOf(doc)).families[0]!).includes('-> 10.')
    // 1100 endpoint slots, 1000 distinct endpoints: not large
    const dup = generateSnapshot({ services: 10, endpointsPerService: 100 }) as unknown as Doc
    const copy = structuredClone(slicesOf(dup)[0]!)
    copy.metadata.name += '-copy'
    dup.resources.items.push(copy)
    expect(plan(envelopeOf(dup)).counts.endpoints).toBe(1000)
    expect(commented(dup)).toBe(true)
    // 1001 distinct endpoints: large
    const over = generateSnapshot({ services: 10, endpointsPerService: 100 }) as unknown as Doc
    slicesOf(over)[0]!.endpoints.push({ addresses: ['10.1.1.1'], conditions: { ready: true } })
    expect(commented(over)).toBe(false)
    // 1100 slots, 100 of them unusable addresses: not large
    const bad = generateSnapshot({ services: 11, endpointsPerService: 100 }) as unknown as Doc
    for (const e of slicesOf(bad)[0]!.endpoints) e.addresses = ['not-an-ip']
    const p = plan(unvalidatedEnvelope(bad))
    expect(p.warnings.filter((w) => w.code === 'invalid-ip')).toHaveLength(100)
    expect(renderRestore(p.families[0]!)).toContain('-> 10.')
  })

  it('reports bad slice addresses once each, in item order, whatever order the ports read the slices in, and with reuse', () => {
    const doc = generateSnapshot({ services: 6, endpointsPerService: 3 }) as unknown as Doc
    const items = doc.resources.items
    // Slices in reverse name order, so the ports (sorted by name) read them out of item order.
    doc.resources.items = [...items.filter((o) => o.kind !== 'EndpointSlice'), ...items.filter((o) => o.kind === 'EndpointSlice').reverse()]
    const slices = slicesOf(doc)
    const ghost = structuredClone(slices[0]!)
    ghost.metadata.name = 'ghost-1'
    ghost.metadata.labels['kubernetes.io/service-name'] = 'ghost'
    doc.resources.items.push(ghost)
    for (const s of [slices[4]!, slices[1]!, ghost]) s.endpoints[1].addresses = ['bad']
    slices[3]!.endpoints[2].addresses = ['010.1.2.3'] // parsed sloppily, not a warning
    const at = (o: object) => doc.resources.items.indexOf(o as Record<string, any>)
    const want = [slices[1]!, slices[4]!, ghost].map((s) => `/resources/items/${at(s)}/endpoints/1/addresses/0`)
    const pointers = (p: ReturnType<typeof plan>) => p.warnings.filter((w) => w.code === 'invalid-ip').map((w) => w.pointer)
    expect(pointers(plan(unvalidatedEnvelope(doc)))).toEqual(want)
    const reuse: PlanReuse = { families: {} }
    const env = unvalidatedEnvelope(doc)
    expect(pointers(plan(env, { reuse }))).toEqual(want)
    expect(pointers(plan(env, { reuse }))).toEqual(want)
  })

  it('counts endpoints of slices no service port reads, once per ip:port', () => {
    const doc = generateSnapshot({ services: 3, endpointsPerService: 4 }) as unknown as Doc
    const [a, b] = slicesOf(doc)
    const ghost = structuredClone(a!)
    ghost.metadata.name = 'ghost-1'
    ghost.metadata.labels['kubernetes.io/service-name'] = 'ghost'
    const ghostDup = structuredClone(ghost)
    ghostDup.metadata.name = 'ghost-2'
    const otherPort = structuredClone(b!)
    otherPort.metadata.name = 'other-port'
    otherPort.ports = [{ name: 'metrics', port: 9090, protocol: 'TCP' }, { port: 9091 }]
    doc.resources.items.push(ghost, ghostDup, otherPort)
    const p = plan(envelopeOf(doc))
    // 12 planned + 4 of the ghost service (its two slices are the same endpoints) + 4 on a port the service lacks
    expect(p.counts.endpoints).toBe(12 + 4 + 4)
    expect(renderRestore(p.families[0]!)).not.toContain('9090')
  })
})
